"""The close of business (日终批处理): a run per bank and business date, split into chunks of
loan ids that any number of Celery workers process, and the loans that failed a step.

A run is 运行中 until every chunk is done; only then is it 已完成 and the bank's business
date (the day after the last completed run) moves forward. A chunk that failed lists its
loans with their errors (``CobLoanFailure``) and the run stays 有失败 until they pass.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from org.models import Institution, Staff
from org.tenancy import TenantQuerySet


class CobStep(models.TextChoices):
    ACCRUE = "accrue", "计提利息、罚息、复利"
    SETTLE = "settle", "结息(到期本息转应还)"
    OVERDUE = "overdue", "逾期认定与逾期天数"
    CLASSIFY = "classify", "五级分类"
    EXPIRE_LINES = "expire_lines", "额度到期失效"


DEFAULT_STEPS = [step.value for step in CobStep]


class CobStatus(models.TextChoices):
    RUNNING = "running", "运行中"
    COMPLETED = "completed", "已完成"
    FAILED = "failed", "有失败(待重试)"


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "待处理"
    RUNNING = "running", "处理中"
    DONE = "done", "已完成"
    FAILED = "failed", "有失败"


class CobRun(models.Model):
    tenant_bank_field = "bank"

    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    business_date = models.DateField("业务日期")
    status = models.CharField(
        "状态", max_length=10, choices=CobStatus.choices, default=CobStatus.RUNNING
    )
    steps = ArrayField(
        models.CharField(max_length=16, choices=CobStep.choices), verbose_name="批处理步骤"
    )
    chunk_size = models.PositiveIntegerField("每批贷款笔数")
    chunks_total = models.PositiveIntegerField("分片数", default=0)
    loans_total = models.PositiveIntegerField("贷款笔数", default=0)
    report = models.JSONField("步骤报告", default=dict, blank=True)
    started_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="发起人",
    )
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "日终批处理"
        verbose_name_plural = "日终批处理"
        ordering = ["-business_date", "-id"]
        permissions = [("run_cob", "发起日终批处理")]
        constraints = [
            # Two closes of business of one bank never run at once.
            models.UniqueConstraint(
                fields=["bank"], condition=Q(status="running"), name="cob_one_running_per_bank"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bank} {self.business_date} 日终批处理"


class CobChunk(models.Model):
    run = models.ForeignKey(
        CobRun, on_delete=models.CASCADE, related_name="chunks", verbose_name="日终批处理"
    )
    first_loan_id = models.BigIntegerField("起始贷款")
    last_loan_id = models.BigIntegerField("结束贷款")
    status = models.CharField(
        "状态", max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField("执行次数", default=0)
    accrued = models.PositiveIntegerField("计提笔数", default=0)
    settled = models.PositiveIntegerField("结息笔数", default=0)
    overdue = models.PositiveIntegerField("逾期变动笔数", default=0)
    classified = models.PositiveIntegerField("分类变动笔数", default=0)
    error = models.TextField("错误", blank=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "批处理分片"
        verbose_name_plural = "批处理分片"
        ordering = ["run", "first_loan_id"]
        indexes = [models.Index(fields=["run", "status"], name="cob_chunk_run_status")]

    def __str__(self) -> str:
        return f"{self.first_loan_id}–{self.last_loan_id}"


class CobLoanFailure(models.Model):
    run = models.ForeignKey(
        CobRun, on_delete=models.CASCADE, related_name="failures", verbose_name="日终批处理"
    )
    chunk = models.ForeignKey(
        CobChunk, on_delete=models.CASCADE, related_name="failures", verbose_name="分片"
    )
    loan_id = models.BigIntegerField("贷款")
    error = models.TextField("错误")
    resolved = models.BooleanField("已重试成功", default=False)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "批处理失败贷款"
        verbose_name_plural = "批处理失败贷款"
        ordering = ["run", "loan_id"]

    def __str__(self) -> str:
        return f"贷款 {self.loan_id}"
