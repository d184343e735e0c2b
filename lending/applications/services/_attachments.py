"""Documents uploaded for an application from the PAD (申请资料)."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from lending.applications.models import (
    APPROVED_STATUSES,
    IN_REVIEW,
    Application,
    ApplicationAttachment,
    ApplicationStatus,
)
from products.models import RequiredDocument
from risk.lists.services import staff_of

S = ApplicationStatus
# Documents can be added until the contract is prepared or the application is closed.
ATTACHABLE = [S.DRAFT, S.SUBMITTED, S.REFERRED, *IN_REVIEW, S.RETURNED, *APPROVED_STATUSES]
MAX_BYTES = 10 * 1024 * 1024
# Photos from the tablet's camera and scanned PDFs; the first bytes tell, not the file name.
_SIGNATURES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"%PDF-": "application/pdf",
}


def _content_type(head: bytes) -> str | None:
    return next((kind for magic, kind in _SIGNATURES.items() if head.startswith(magic)), None)


def application_attachment_add(
    *, application: Application, client_uuid, kind: str, upload, actor
) -> tuple[ApplicationAttachment, bool]:
    """Store one document for ``application``: ``(attachment, created)``. A resend with the
    same client UUID returns the first upload."""
    existing = ApplicationAttachment.objects.filter(
        application=application, client_uuid=client_uuid
    )
    if (found := existing.first()) is not None:
        return found, False
    if application.status not in ATTACHABLE:
        raise ValidationError({"file": f"申请{application.get_status_display()}，不能再上传资料"})
    if kind not in RequiredDocument.values:
        raise ValidationError({"kind": "资料类型不正确"})
    if upload.size > MAX_BYTES:
        raise ValidationError({"file": "文件不能超过 10 MB"})
    data = upload.read()
    content_type = _content_type(data[:8])
    if content_type is None:
        raise ValidationError({"file": "只接受 JPEG、PNG 图片或 PDF 文件"})
    upload.seek(0)
    try:
        with transaction.atomic():
            attachment = ApplicationAttachment(
                application=application,
                client_uuid=client_uuid,
                kind=kind,
                content_type=content_type,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                uploaded_by=staff_of(actor),
            )
            attachment.file.save(upload.name or "upload", upload, save=False)
            attachment.save()
    except IntegrityError:
        return existing.get(), False
    return attachment, True
