"""Field visits and their photos from the PAD."""

from __future__ import annotations

import datetime
import hashlib
import uuid
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from org.models import Staff
from villages.models import FieldVisit, Household, VisitPhoto

MAX_PHOTO_BYTES = 10 * 1024 * 1024
# The largest photo a tablet or phone camera takes (a 50-megapixel sensor's full frame), with
# room to spare. Decoding costs three bytes a pixel in memory, so a small file declaring far more
# (a decompression bomb: Pillow itself only warns below ~179 million) is refused before it is.
MAX_PHOTO_PIXELS = 64_000_000
_TOO_MANY_PIXELS = "图片像素尺寸过大，不是正常拍摄的照片"
CLOCK_SKEW = datetime.timedelta(minutes=10)
_ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


@transaction.atomic
def field_visit_record(
    *,
    visit_id: uuid.UUID,
    household: Household,
    account_manager: Staff,
    visited_at: datetime.datetime,
    purpose: str,
    notes: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> tuple[FieldVisit, bool]:
    """Record a visit; resending the same visit id returns the stored one unchanged.

    A visit is not edited once recorded, so a resend whose content differs is refused, naming
    the fields that differ, rather than answered 200 as if the PAD's new values were kept."""
    existing = FieldVisit.objects.filter(pk=visit_id).first()
    if existing is not None:
        if existing.household_id != household.pk:
            raise ValidationError({"id": "该走访编号属于另一户"})
        _refuse_changes(
            existing,
            {
                "visited_at": visited_at,
                "purpose": purpose,
                "notes": notes,
                "latitude": latitude,
                "longitude": longitude,
            },
            "该走访已登记，登记后不能修改；与此前提交的内容不同",
        )
        return existing, False
    if purpose not in FieldVisit.Purpose.values:
        raise ValidationError({"purpose": f"未知的走访目的：{purpose}"})
    _not_in_future("visited_at", "走访时间", visited_at)
    visit = FieldVisit.objects.create(
        id=visit_id,
        household=household,
        bank_id=household.bank_id,
        account_manager=account_manager,
        visited_at=visited_at,
        purpose=purpose,
        notes=notes,
        latitude=latitude,
        longitude=longitude,
    )
    return visit, True


def _refuse_changes(instance, values: dict, message: str) -> None:
    """Refuse a resend of an immutable record whose values differ from the stored ones; the
    keys are the API's field names (``image`` is compared by the stored file's digest)."""
    differing = {
        name: message
        for name, value in values.items()
        if getattr(instance, "sha256" if name == "image" else name) != value
    }
    if differing:
        raise ValidationError(differing)


def _not_in_future(field: str, label: str, moment: datetime.datetime) -> None:
    # A tablet's clock may run a few minutes fast; beyond that the time is a typo or a wrong
    # clock (e.g. 2099), which would sort the record ahead of every real one.
    if moment > timezone.now() + CLOCK_SKEW:
        raise ValidationError({field: f"{label}不能晚于当前时间，请检查平板的日期和时间"})


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def photo_check(upload: UploadedFile) -> tuple[str, str]:
    """``(format, sha256)`` of an upload that is a real JPEG/PNG of at most 10 MB."""
    if upload.size > MAX_PHOTO_BYTES:
        raise ValidationError({"image": f"图片不能超过10MB(当前{upload.size / 1024 / 1024:.1f}MB)"})
    if upload.size == 0:
        raise ValidationError({"image": "图片文件为空"})
    sha256 = _sha256(upload)
    try:
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            if width * height > MAX_PHOTO_PIXELS:
                raise ValidationError({"image": _TOO_MANY_PIXELS})
            image.load()  # decodes every pixel: a truncated or forged file fails here
    except Image.DecompressionBombError as exc:
        # Far beyond the limit Pillow refuses the file as it opens it, with an error that is
        # not an OSError.
        raise ValidationError({"image": _TOO_MANY_PIXELS}) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError({"image": "文件不是可识别的图片或已损坏"}) from exc
    finally:
        upload.seek(0)
    if image_format not in _ALLOWED_FORMATS:
        raise ValidationError({"image": f"只接受JPEG或PNG图片，收到{image_format}"})
    return image_format, sha256


@transaction.atomic
def visit_photo_add(
    *,
    photo_id: uuid.UUID,
    visit: FieldVisit,
    kind: str,
    upload: UploadedFile,
    captured_at: datetime.datetime,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> tuple[VisitPhoto, bool]:
    # Only this bank's photos are looked at: another bank's row is neither read nor compared
    # (callers answer its id as not found before calling, as for any other bank's id).
    existing = VisitPhoto.objects.filter(pk=photo_id, visit__bank_id=visit.bank_id).first()
    if existing is None and VisitPhoto.objects.filter(pk=photo_id).exists():
        raise PermissionDenied("该影像编号不可用")
    if existing is not None:
        if existing.visit_id != visit.pk:
            raise ValidationError({"id": "该影像编号属于另一次走访"})
        # A photo is evidence: a resend of the same file is fine, another file or other
        # details under the same id is refused rather than silently dropped.
        _refuse_changes(
            existing,
            {
                "kind": kind,
                "image": _sha256(upload),
                "captured_at": captured_at,
                "latitude": latitude,
                "longitude": longitude,
            },
            "该影像已上传，上传后不能修改；与此前提交的内容不同",
        )
        return existing, False
    if kind not in VisitPhoto.Kind.values:
        raise ValidationError({"kind": f"未知的影像类型：{kind}"})
    _not_in_future("captured_at", "拍摄时间", captured_at)
    _, sha256 = photo_check(upload)
    photo = VisitPhoto(
        id=photo_id,
        visit=visit,
        kind=kind,
        size_bytes=upload.size,
        sha256=sha256,
        captured_at=captured_at,
        latitude=latitude,
        longitude=longitude,
    )
    # The file is written before the row commits; a rollback leaves an orphan file, which the
    # storage sweep may delete, never a row without its file.
    photo.image.save(upload.name or f"{photo_id}.jpg", upload, save=False)
    photo.save()
    return photo, True
