from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from villages.models.households import Household


class FieldVisitQuerySet(TenantQuerySet):
    pass


class FieldVisit(models.Model):
    """A visit an account manager paid a household, recorded on the PAD (often offline)."""

    class Purpose(models.TextChoices):
        ARCHIVE = "archive", "建档采集"
        INVESTIGATION = "investigation", "贷前调查"
        MARKETING = "marketing", "营销走访"
        POST_LOAN = "post_loan", "贷后检查"
        COLLECTION = "collection", "催收"

    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="visits", verbose_name="农户"
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
    )
    account_manager = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="field_visits", verbose_name="客户经理"
    )
    visited_at = models.DateTimeField("走访时间")
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    purpose = models.CharField("走访目的", max_length=20, choices=Purpose.choices)
    notes = models.TextField("走访记录", blank=True)
    created_at = models.DateTimeField("上传时间", auto_now_add=True)

    objects = FieldVisitQuerySet.as_manager()

    class Meta:
        verbose_name = "实地走访"
        verbose_name_plural = "实地走访"
        ordering = ["-visited_at"]

    def __str__(self) -> str:
        # Stored in UTC: a visit at 07:00 Beijing time is the previous day there.
        return f"{self.household} · {timezone.localtime(self.visited_at):%Y-%m-%d}"


def photo_path(photo: VisitPhoto, filename: str) -> str:
    extension = "png" if filename.lower().endswith(".png") else "jpg"
    return f"visits/{photo.visit.bank_id}/{photo.visit_id}/{photo.id}.{extension}"


class VisitPhoto(models.Model):
    """A photo taken on the PAD during a visit (影像资料), with where and when it was taken."""

    class Kind(models.TextChoices):
        ID_CARD = "id_card", "身份证"
        HOUSE = "house", "房屋"
        LAND = "land", "土地"
        LIVESTOCK = "livestock", "养殖"
        PREMISES = "premises", "经营场所"
        OTHER = "other", "其他"

    tenant_bank_field = "visit__bank"
    tenant_village_field = "visit__household__village"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    visit = models.ForeignKey(
        FieldVisit, on_delete=models.CASCADE, related_name="photos", verbose_name="走访"
    )
    kind = models.CharField("影像类型", max_length=20, choices=Kind.choices)
    image = models.ImageField(
        "图片", upload_to=photo_path, width_field="width", height_field="height"
    )
    width = models.PositiveIntegerField("宽", default=0)
    height = models.PositiveIntegerField("高", default=0)
    size_bytes = models.PositiveIntegerField("大小(字节)", default=0)
    sha256 = models.CharField("摘要", max_length=64)
    captured_at = models.DateTimeField("拍摄时间")
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "影像资料"
        verbose_name_plural = "影像资料"
        ordering = ["visit", "kind"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {timezone.localtime(self.captured_at):%Y-%m-%d %H:%M}"
