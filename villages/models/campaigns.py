from __future__ import annotations

from django.db import models

from common.audit import audited
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from villages.models.divisions import Village


class CampaignQuerySet(TenantQuerySet):
    pass


@audited()
class Campaign(models.Model):
    """A whole-village credit campaign (整村授信): visit, archive, review, rate and pre-grant
    every household of a village ("一户不落"). Progress counts come from ``villages.selectors``."""

    class Status(models.TextChoices):
        PLANNED = "planned", "筹备中"
        IN_PROGRESS = "in_progress", "进行中"
        COMPLETED = "completed", "已完成"
        CANCELLED = "cancelled", "已取消"

    tenant_bank_field = "bank"
    tenant_village_field = "village"

    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="campaigns", verbose_name="行政村"
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
    )
    name = models.CharField("活动名称", max_length=100)
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.PLANNED)
    starts_on = models.DateField("开始日期")
    ends_on = models.DateField("计划结束日期")
    lead = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="负责人",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = "整村授信活动"
        verbose_name_plural = "整村授信活动"
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="campaign_dates_ordered",
                violation_error_message="计划结束日期不能早于开始日期",
            ),
        ]

    def __str__(self) -> str:
        return self.name
