from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from org.models import Institution
from org.tenancy import TenantQuerySet


class PersonalDataAccess(models.Model):
    """One reveal of full ID numbers or phones: who, whose, when, why, and through what.

    Rows are written by ``personal_data_reveal`` and never changed. Households and members are
    kept as ids, not foreign keys, so the record of a read outlives the record that was read."""

    class Channel(models.TextChoices):
        API = "api", "接口(PAD/自助渠道)"
        ADMIN = "admin", "后台管理"

    tenant_bank_field = "bank"

    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="查看人",
    )
    household_id = models.UUIDField("农户编号", db_index=False)
    member_ids = models.JSONField("成员编号", default=list, blank=True)
    fields = models.CharField("查看内容", max_length=50)
    reason = models.CharField("查看事由", max_length=200)
    channel = models.CharField("渠道", max_length=8, choices=Channel.choices)
    path = models.CharField("请求路径", max_length=200, blank=True)
    accessed_at = models.DateTimeField("查看时间", auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "个人信息查看记录"
        verbose_name_plural = "个人信息查看记录"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["household_id", "accessed_at"], name="pdaccess_household"),
            models.Index(fields=["user", "accessed_at"], name="pdaccess_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {timezone.localtime(self.accessed_at):%Y-%m-%d %H:%M}"
