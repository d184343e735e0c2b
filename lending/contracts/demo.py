"""Demo contracts: the sandbox CA, TSA and each demo bank's seal certificate; the default template;
and, in each demo bank, the contracts of applications the strategy approved: two signed by every
party (through the same codes a phone would receive, read from the sandbox SMS outbox) and one
left waiting for signatures, so 电子合同 shows both and ``verify_contracts`` has chains to check.

The village demo registers no phones, so each signer without one is given a sandbox number
first. Runs outside the demo's big transaction (``seed_demo`` calls it afterwards): a signing code is
texted when its transaction commits, and the demo reads it from the outbox like a phone would.
Idempotent: an application already contracted is left alone; one whose contract is still waiting
gets its missing signatures (only for the two signed per bank), with a code an earlier run had
texted when it is still good.
"""

from __future__ import annotations

import io
import re

from django.db import transaction
from django.utils import timezone

from common.models import SandboxSmsMessage
from common.pii import PHONE, blind_index
from lending.applications.models import APPROVED_STATUSES, Application, ApplicationStatus
from lending.contracts import services
from lending.contracts.models import Contract, ContractSigner, ContractStatus
from lending.contracts.pki import sandbox_pki_ensure
from org.demo import BANKS as DEMO_BANKS
from org.models import Institution, Staff

SIGNED_PER_BANK = 2
RENDERED_PER_BANK = 3
_CODE = re.compile(r"签署验证码(\d{6})")


def signature_png(text: str = "签名") -> bytes:
    """A handwritten-looking signature: a few strokes on a white strip (PNG)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 120), "white")
    draw = ImageDraw.Draw(image)
    seed = sum(map(ord, text))
    points = [(20 + i * 28, 60 + ((seed * (i + 3)) % 50) - 25) for i in range(11)]
    draw.line(points, fill="black", width=4, joint="curve")
    draw.line([(40, 95), (280, 90)], fill="black", width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def latest_code_texted(phone: str) -> str | None:
    """The last signing code the sandbox gateway texted to ``phone``."""
    message = (
        SandboxSmsMessage.objects.filter(
            phone_hash=blind_index(phone, PHONE), purpose="电子合同签署验证码"
        )
        .order_by("-sent_at", "-pk")
        .first()
    )
    match = _CODE.search(message.text) if message else None
    return match.group(1) if match else None


def sign_everyone(contract: Contract, actor=None, device_id: str = "DEMO-PAD-01") -> Contract:
    """Every pending signer of ``contract`` asks for a code and signs with it."""
    for signer in contract.signers.select_related("member").filter(
        status=ContractSigner.Status.PENDING
    ):
        live = signer.codes.filter(
            document_sha256=contract.sha256, used_at__isnull=True, expires_at__gt=timezone.now()
        ).exists()
        if not live:  # a code texted by an earlier run is still good: use it
            services.signing_code_request(contract=contract, member=signer.member, actor=actor)
        code = latest_code_texted(signer.member.phone)
        if code is None:
            # Inside an enclosing transaction (a test's) the text goes out only on commit: the
            # contract stays waiting for signatures, as it would for a borrower who has not
            # answered yet.
            break
        contract = services.contract_sign(
            contract=contract,
            member=signer.member,
            code=code,
            signature=signature_png(signer.member.name),
            device_id=device_id,
            document_sha256=contract.sha256,
            actor=actor,
        )
    return contract


def _register_phones(application: Application, bank) -> None:
    """The village demo registers no phones; a signer needs one for the code. Each signer without
    one gets a sandbox number (1390, the bank's place in the demo, the application and the signer's place), through the
    villages service like any correction of a member's record."""
    from villages.services import member_upsert

    members = [
        application.applicant,
        *(p.member for p in application.parties.select_related("member")),
    ]
    bank_no = [code for code, *_ in DEMO_BANKS].index(bank.code) + 1
    for n, member in enumerate(members):
        if member.phone:
            continue
        member_upsert(
            member_id=member.pk,
            household=member.household,
            name=member.name,
            id_number=member.id_number,
            relation=member.relation,
            education=member.education,
            occupation=member.occupation,
            health=member.health,
            phone=f"1390{bank_no}{application.pk % 10000:04d}{n:02d}",
        )


def seed_contracts() -> None:
    banks = list(Institution.objects.filter(code__in=[code for code, *_ in DEMO_BANKS]))
    if not banks:
        return
    with transaction.atomic():
        sandbox_pki_ensure(banks)
        services.contract_template_default_ensure()
    for bank in banks:
        manager = (
            Staff.objects.filter(bank=bank, user__username__contains="_am")
            .select_related("user")
            .first()
        )
        actor = manager.user if manager else None
        applications = list(
            Application.objects.filter(
                bank=bank,
                status__in=[
                    *APPROVED_STATUSES,
                    ApplicationStatus.CONTRACT_PENDING,
                    ApplicationStatus.CONTRACTED,
                ],
            )
            .select_related("applicant__household")
            .order_by("pk")[:RENDERED_PER_BANK]
        )
        for index, application in enumerate(applications):
            _register_phones(application, bank)
            contract = (
                Contract.objects.without_pdfs().filter(application=application).live().first()
            )
            if contract is None:
                contract = services.contract_render(application=application, actor=actor)
            if index < SIGNED_PER_BANK and contract.status == ContractStatus.PENDING:
                sign_everyone(contract, actor=actor)
            services.evidence_timestamp_pending(contract_id=contract.pk)
