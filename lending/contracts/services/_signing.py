"""Signing codes, signatures, and the bank's seal when the last party has signed.

A code is six digits, texted to the signer's registered phone, kept only as a keyed hash bound to
the signer and to the SHA-256 of the render it was sent for, good for five minutes and once. A
wrong code counts against the signer; the fifth locks signing (new codes too) for thirty minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from common.clock import local_text
from common.masking import mask_id_number, mask_phone
from common.sms import sms_send
from lending.applications.models import Application
from lending.applications.services import application_contract_signed
from lending.contracts import evidence
from lending.contracts.models import (
    Contract,
    ContractSigner,
    ContractStatus,
    EvidenceKind,
    SigningCode,
)
from lending.contracts.sealing import contract_sealer
from lending.contracts.services._render import _actor_name, _schedule_timestamps
from villages.validation import normalise_text

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
CODE_RESEND_AFTER = timedelta(seconds=60)
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=30)
SIGNATURE_MAX_BYTES = 256 * 1024


# --- signing codes -----------------------------------------------------------------------------


def _code_digest(signer: ContractSigner, document_sha256: str, code: str) -> str:
    return salted_hmac(
        "lending.contracts.signing_code",
        f"{signer.pk}:{document_sha256}:{code}",
        algorithm="sha256",
    ).hexdigest()


def _locked_signing(contract: Contract, member) -> tuple[Contract, ContractSigner]:
    """Lock the application, then the contract; the contract must be the live render still
    waiting for signatures, and ``member`` one of its signers."""
    Application.objects.select_for_update(of=("self",)).filter(pk=contract.application_id).first()
    contract = (
        Contract.objects.select_for_update(of=("self",)).select_related("bank").get(pk=contract.pk)
    )
    if not contract.is_latest:
        newer = (
            f"（新合同编号{contract.superseded_by.number}）" if contract.superseded_by_id else ""
        )
        raise ValidationError({"contract": f"合同{contract.number}已作废{newer}，请按最新合同签署"})
    if contract.status != ContractStatus.PENDING:
        raise ValidationError({"contract": f"合同{contract.get_status_display()}，不能再签署"})
    signer = (
        ContractSigner.objects.select_for_update(of=("self",))
        .select_related("member")
        .filter(contract=contract, member=member)
        .first()
    )
    if signer is None:
        raise ValidationError({"member": "该成员不是本合同的签署方"})
    if signer.status == ContractSigner.Status.SIGNED:
        raise ValidationError({"member": f"{signer.member.name}已签署本合同"})
    return contract, signer


def _refuse_if_locked(signer: ContractSigner, now) -> None:
    if signer.locked_until and signer.locked_until > now:
        raise ValidationError(
            {
                "code": f"验证码错误次数过多，签署已锁定，请于 {local_text(signer.locked_until)}（北京时间）后重试"
            }
        )


def signing_code_request(*, contract: Contract, member, actor=None) -> SigningCode:
    """Text a six-digit signing code to ``member``'s registered phone for the live render of
    ``contract``. Earlier unused codes of the signer stop working; one code a minute."""
    now = timezone.now()
    with transaction.atomic():
        contract, signer = _locked_signing(contract, member)
        _refuse_if_locked(signer, now)
        phone = signer.member.phone
        if not phone:
            raise ValidationError(
                {"member": f"{signer.member.name}未登记手机号，无法发送签署验证码"}
            )
        if signer.codes.filter(created_at__gt=now - CODE_RESEND_AFTER).exists():
            raise ValidationError({"member": "验证码已发送，请 1 分钟后再重新获取"})
        signer.codes.filter(used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        record = SigningCode.objects.create(
            signer=signer,
            code_hash=_code_digest(signer, contract.sha256, code),
            document_sha256=contract.sha256,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        evidence.evidence_append(
            contract=contract,
            kind=EvidenceKind.CODE_SENT,
            signer=signer,
            at=now,
            payload={
                "role": signer.role,
                "name": signer.member.name,
                "phone": mask_phone(phone),
                "document_sha256": contract.sha256,
                "expires_at": record.expires_at.isoformat(),
                "requested_by": _actor_name(actor),
            },
        )
        minutes = int(CODE_TTL.total_seconds() // 60)
        sms_send(
            phone=phone,
            text=f"【{contract.bank.name}】您正在签署{contract.template.title}（合同编号{contract.number}），"
            f"签署验证码{code}，{minutes}分钟内有效。请勿告诉他人，银行工作人员不会向您索取。",
            purpose="电子合同签署验证码",
        )
        _schedule_timestamps(contract.pk)
    return record


def _signature_png(signature) -> bytes:
    """The signature image as PNG bytes: raw bytes, or base64 text (a ``data:`` URL is fine)."""
    if isinstance(signature, str):
        text = signature.split(",", 1)[1] if signature.startswith("data:") else signature
        try:
            signature = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError({"signature": "签名图片不是有效的 base64 编码"}) from None
    data = bytes(signature or b"")
    if not data:
        raise ValidationError({"signature": "请提交签名图片"})
    if len(data) > SIGNATURE_MAX_BYTES:
        raise ValidationError({"signature": "签名图片不能超过 256 KB"})
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, size = image.format, image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValidationError({"signature": "签名图片无法识别，请提交 PNG 图片"}) from None
    if kind != "PNG":
        raise ValidationError({"signature": "签名图片须为 PNG 格式"})
    if not (20 <= size[0] <= 4000 and 10 <= size[1] <= 4000):
        raise ValidationError({"signature": "签名图片尺寸不正确"})
    return data


def contract_sign(
    *,
    contract: Contract,
    member,
    code: str,
    signature,
    device_id: str,
    document_sha256: str,
    actor=None,
) -> Contract:
    """``member`` signs the live render of ``contract`` with the code texted to them and their
    handwritten signature. ``document_sha256`` is the hash of the PDF they were shown: anything but
    the live render's is refused. A wrong code counts; the fifth locks signing for 30 minutes. The
    last signature seals the PDF with the bank's certificate and completes the application."""
    now = timezone.now()
    device_id = normalise_text(device_id or "")
    code = (code or "").strip()
    failure = None
    with transaction.atomic():
        contract, signer = _locked_signing(contract, member)
        _refuse_if_locked(signer, now)
        errors = {}
        if (document_sha256 or "").strip().lower() != contract.sha256:
            errors["document_sha256"] = "签署的合同文本与最新合同不符，请重新查看合同后签署"
        if not device_id:
            errors["device_id"] = "请提供签署设备编号"
        if not (code.isdigit() and len(code) == CODE_DIGITS):
            errors["code"] = "请输入6位数字验证码"
        if errors:
            raise ValidationError(errors)
        png = _signature_png(signature)
        match = _matching_code(signer, contract, code)
        if match is None:
            failure = _count_failure(signer, now)
        elif match.used_at is not None:
            raise ValidationError({"code": "验证码已使用，请重新获取"})
        elif match.expires_at <= now:
            raise ValidationError({"code": "验证码已过期，请重新获取"})
        else:
            _record_signature(contract, signer, match, png, device_id, now, actor)
            if not contract.signers.filter(status=ContractSigner.Status.PENDING).exists():
                _seal_and_complete(contract, now, actor)
    if failure is not None:
        raise failure
    return contract


def _matching_code(signer: ContractSigner, contract: Contract, code: str) -> SigningCode | None:
    """The signer's code for this render that ``code`` is, used or expired or live; codes sent
    for an earlier render were bound to its hash and match nothing here."""
    digest = _code_digest(signer, contract.sha256, code)
    for record in signer.codes.filter(document_sha256=contract.sha256).order_by("-created_at"):
        if constant_time_compare(record.code_hash, digest):
            return record
    return None


def _count_failure(signer: ContractSigner, now) -> ValidationError:
    signer.failed_attempts = F("failed_attempts") + 1
    signer.save(update_fields=["failed_attempts"])
    signer.refresh_from_db(fields=["failed_attempts"])
    if signer.failed_attempts >= MAX_FAILURES:
        signer.failed_attempts = 0
        signer.locked_until = now + LOCK_FOR
        signer.save(update_fields=["failed_attempts", "locked_until"])
        signer.codes.filter(used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        return ValidationError(
            {
                "code": f"验证码连续错误{MAX_FAILURES}次，签署已锁定至 {local_text(signer.locked_until)}（北京时间）"
            }
        )
    left = MAX_FAILURES - signer.failed_attempts
    return ValidationError({"code": f"验证码错误，还可尝试{left}次"})


def _record_signature(
    contract, signer, code_record, png: bytes, device_id: str, now, actor
) -> None:
    SigningCode.objects.filter(pk=code_record.pk).update(used_at=now)
    signer.status = ContractSigner.Status.SIGNED
    signer.signed_at = now
    signer.signature = png
    signer.signature_sha256 = hashlib.sha256(png).hexdigest()
    signer.device_id = device_id
    signer.failed_attempts = 0
    signer.save(
        update_fields=[
            "status",
            "signed_at",
            "signature",
            "signature_sha256",
            "device_id",
            "failed_attempts",
        ]
    )
    evidence.evidence_append(
        contract=contract,
        kind=EvidenceKind.SIGNED,
        signer=signer,
        at=now,
        payload={
            "role": signer.role,
            "name": signer.member.name,
            "id_number": mask_id_number(signer.member.id_number),
            "phone": mask_phone(signer.member.phone),
            "document_sha256": contract.sha256,
            "signature_sha256": signer.signature_sha256,
            "device_id": device_id,
            "verified_by": "sms_code",
            "code_sent_at": code_record.created_at.isoformat(),
            "operator": _actor_name(actor),
        },
    )
    _schedule_timestamps(contract.pk)


def _seal_and_complete(contract: Contract, now, actor) -> None:
    pdf = bytes(Contract.objects.values_list("pdf", flat=True).get(pk=contract.pk))
    sealed = contract_sealer().seal(
        bank=contract.bank,
        pdf=pdf,
        reason=f"{contract.bank.name}电子合同签章，合同编号{contract.number}",
        location=contract.bank.name,
    )
    contract.signed_pdf = sealed
    contract.signed_sha256 = hashlib.sha256(sealed).hexdigest()
    contract.sealed_at = now
    contract.status = ContractStatus.SIGNED
    contract.save(update_fields=["signed_pdf", "signed_sha256", "sealed_at", "status"])
    evidence.evidence_append(
        contract=contract,
        kind=EvidenceKind.SEALED,
        at=now,
        payload={
            "document_sha256": contract.sha256,
            "sealed_sha256": contract.signed_sha256,
            "bank": contract.bank.name,
            "signers": contract.signers.count(),
        },
    )
    application_contract_signed(application=contract.application, actor=actor)
