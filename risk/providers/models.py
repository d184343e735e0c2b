"""The call log and the cache of external data.

``ProviderCall``: every call to a provider — who asked, for which subject (the keyed hash of the
ID number, never the number) and purpose, when, how long it took, how it ended and the response
as received. A batch asks a provider for a whole chunk at once: that is one call, logged once
with the number of subjects and the outcome of each kind, and the cache rows it wrote name it.

``ProviderCacheEntry``: per bank and subject, the latest successful answer of every source,
one row (a campaign caches a million subjects, not five million): the values of the external
features in ``EXTERNAL_FEATURE_NAMES`` order and, per source in ``EXTERNAL_SOURCES`` order, when
it was fetched and by which call. A source's answer is used while ``fetched + ttl`` has not
passed; a failure is never cached. A bank's answers are never used for another bank: each bank
queries under its own authorisation.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from org.models import Institution
from org.tenancy import TenantQuerySet
from risk.external_features import EXTERNAL_SOURCES


class ProviderCall(models.Model):
    class Purpose(models.TextChoices):
        APPLICATION = "application", "申请决策"
        CAMPAIGN = "campaign", "整村授信批量决策"
        WHAT_IF = "what_if", "试算"
        OTHER = "other", "其他"

    class Outcome(models.TextChoices):
        OK = "ok", "成功"
        TIMEOUT = "timeout", "超时"
        UNAVAILABLE = "unavailable", "服务异常"
        MALFORMED = "malformed", "数据无法解析"
        EMPTY = "empty", "无数据"
        MIXED = "mixed", "部分失败(批量)"

    tenant_bank_field = "bank"

    id = models.BigAutoField(primary_key=True)
    source = models.CharField("数据源", max_length=20, choices=list(EXTERNAL_SOURCES.items()))
    provider = models.CharField("接口实现", max_length=200)
    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="查询人",
        db_constraint=False,
    )
    purpose = models.CharField("用途", max_length=20, choices=Purpose.choices)
    subject_hash = models.BinaryField("查询对象(身份证号哈希)", blank=True)
    household_id = models.UUIDField("农户", null=True, blank=True)
    subjects = models.PositiveIntegerField("查询人数", default=1)
    started_at = models.DateTimeField("查询时间")
    latency_ms = models.FloatField("耗时(毫秒)")
    outcome = models.CharField("结果", max_length=12, choices=Outcome.choices)
    outcome_counts = models.JSONField("各结果人数", default=dict, blank=True)
    response = models.JSONField("应答(原文)", null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "外部数据查询记录"
        verbose_name_plural = "外部数据查询记录"
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["bank", "-started_at"], name="provider_call_bank_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.started_at:%Y-%m-%d %H:%M}"


class ProviderCacheEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    bank = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    subject_hash = models.BinaryField("身份证号哈希")
    values = ArrayField(models.FloatField(null=True), verbose_name="外部特征取值")
    fetched = ArrayField(models.FloatField(null=True), verbose_name="各数据源查询时间(秒)")
    calls = ArrayField(models.BigIntegerField(null=True), verbose_name="各数据源查询记录")

    class Meta:
        verbose_name = "外部数据缓存"
        verbose_name_plural = "外部数据缓存"
        constraints = [
            models.UniqueConstraint(fields=["bank", "subject_hash"], name="provider_cache_subject")
        ]

    def __str__(self) -> str:
        return f"缓存 {self.pk}"
