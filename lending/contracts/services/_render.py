"""Rendering a contract (and re-rendering, which supersedes), and the timestamps of the chain."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.masking import mask_id_number
from lending.applications.models import APPROVED_STATUSES, Application, ApplicationStatus
from lending.applications.services import (
    application_contract_prepare,
)
from lending.contracts import evidence, rendering
from lending.contracts.models import (
    Contract,
    ContractSigner,
    ContractStatus,
    EvidenceKind,
    EvidenceRecord,
    SignerRole,
)
from lending.contracts.services._templates import contract_template_for
from lending.contracts.timestamps import timestamp_digest
from risk.lists.services import staff_of

# --- render ------------------------------------------------------------------------------------


def _locked_application(application: Application) -> Application:
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("bank", "applicant__household", "product", "product_version", "line")
        .get(pk=application.pk)
    )


def _signer_rows(application: Application) -> list[tuple]:
    rows = [(application.applicant, SignerRole.BORROWER)]
    parties = application.parties.select_related("member").order_by("role", "pk")
    rows += [(p.member, SignerRole.CO_BORROWER) for p in parties if p.role == "co_borrower"]
    rows += [(p.member, SignerRole.GUARANTOR) for p in parties if p.role == "guarantor"]
    return rows


def _schedule_timestamps(contract_id: int) -> None:
    from lending.contracts.tasks import timestamp_contract_evidence

    transaction.on_commit(lambda: timestamp_contract_evidence.delay(contract_id))


@transaction.atomic
def contract_render(*, application: Application, actor=None, rerender: bool = False) -> Contract:
    """Render the contract of an approved application (审批通过 → 待签约). A contract already
    waiting for signatures is returned as it is (a resent request renders nothing), unless
    ``rerender`` (the terms or the template changed): then the earlier render becomes 已作废,
    superseded by the new one, and every code sent for it stops working."""
    application = _locked_application(application)
    if application.status not in (*APPROVED_STATUSES, ApplicationStatus.CONTRACT_PENDING):
        raise ValidationError(
            {"application": f"申请当前为{application.get_status_display()}，不能生成合同"}
        )
    previous = (
        Contract.objects.select_for_update()
        .without_pdfs()
        .filter(application=application)
        .live()
        .first()
    )
    if previous is not None and previous.status == ContractStatus.SIGNED:
        raise ValidationError({"application": f"合同{previous.number}已签署完成，不能重新生成"})
    if previous is not None and not rerender:
        return previous
    template = contract_template_for(application)
    now = timezone.now()
    sequence = Contract.objects.filter(application=application).count() + 1
    number = f"HT-{application.bank.code}-{timezone.localtime(now):%Y%m%d}-{application.pk:06d}-{sequence}"
    terms = rendering.contract_terms(
        application=application, number=number, template=template, rendered_at=now
    )
    pdf = rendering.render_pdf(body=template.body, title=template.title, terms=terms)
    digest = hashlib.sha256(pdf).hexdigest()
    if previous is not None:
        previous.status = ContractStatus.VOID
        previous.save(update_fields=["status"])
    contract = Contract.objects.create(
        bank_id=application.bank_id,
        application=application,
        line=application.line,
        template=template,
        number=number,
        terms=terms,
        pdf=pdf,
        sha256=digest,
        rendered_at=now,
        rendered_by=staff_of(actor),
    )
    carried = {s.member_id: s for s in previous.signers.all()} if previous is not None else {}
    signers = []
    for order, (member, role) in enumerate(_signer_rows(application)):
        before = carried.get(member.pk)
        signers.append(
            ContractSigner(
                contract=contract,
                member=member,
                role=role,
                order=order,
                # A re-render keeps a guesser's lock: only the wait lifts it.
                failed_attempts=before.failed_attempts if before else 0,
                locked_until=before.locked_until if before else None,
            )
        )
    ContractSigner.objects.bulk_create(signers)
    payload = {
        "document_sha256": digest,
        "template": {"code": template.code, "version": template.version},
        "signers": [
            {"role": s.role, "name": s.member.name, "id_number": mask_id_number(s.member.id_number)}
            for s in signers
        ],
        "rendered_by": _actor_name(actor),
    }
    if previous is not None:
        last = previous.evidence.order_by("-sequence").first()
        evidence.evidence_append(
            contract=previous,
            kind=EvidenceKind.SUPERSEDED,
            payload={"superseded_by": number, "document_sha256": previous.sha256},
            at=now,
        )
        payload["supersedes"] = {
            "number": previous.number,
            "last_record_hash": last.record_hash if last else "",
        }
        previous.superseded_by = contract
        previous.save(update_fields=["superseded_by"])
        _schedule_timestamps(previous.pk)
    evidence.evidence_append(contract=contract, kind=EvidenceKind.RENDERED, payload=payload, at=now)
    if application.status in APPROVED_STATUSES:
        application_contract_prepare(application=application, actor=actor)
    _schedule_timestamps(contract.pk)
    return contract


def _actor_name(actor) -> str:
    if actor is None:
        return "系统"
    return actor.get_full_name() or actor.username


# --- timestamps --------------------------------------------------------------------------------


def evidence_timestamp_pending(*, contract_id: int) -> int:
    """Fetch an RFC 3161 token for each record of the contract that has none; returns how many
    were stamped. Called after commit (the TSA is outside), safe to run twice: a record already
    stamped is skipped, and each token is stored with a conditional update."""
    stamped = 0
    pending = EvidenceRecord.objects.filter(
        contract_id=contract_id, tsa_token__isnull=True
    ).order_by("sequence")
    for record_id, record_hash in pending.values_list("pk", "record_hash"):
        token, at = timestamp_digest(bytes.fromhex(record_hash))
        stamped += EvidenceRecord.objects.filter(pk=record_id, tsa_token__isnull=True).update(
            tsa_token=token, tsa_time=at
        )
    return stamped
