"""Back-tests (回测) of strategies over stored decisions, and the admin's entry for the rejection
statistics (拒绝原因统计).

A **back-test** runs a candidate strategy version (a draft, or any version) over the decisions
stored in a period, from their input snapshots, and keeps what its report shows: per side (the
stored decisions and the candidate) the counts and averages in ``summary``, and the decisions
whose outcome, limit or rate would change as ``BacktestChange`` rows, capped at
``CHANGES_LISTED`` (the rest are counted, not listed). A bank's back-test reads that bank's
decisions; the federation's reads every bank's (``bank`` empty) or one bank's.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from org.models import Institution
from org.tenancy import TenantQuerySet
from products.models import Product
from risk.decisions.models import Decision, Outcome, StrategyVersion

CHANGES_LISTED = 50_000


class BacktestStatus(models.TextChoices):
    PENDING = "pending", "排队中"
    RUNNING = "running", "运行中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class Backtest(models.Model):
    tenant_bank_field = "bank"

    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="法人行社(空=全省)",
        limit_choices_to={"kind": "bank"},
    )
    candidate = models.ForeignKey(
        StrategyVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="候选决策流版本",
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="产品(空=全部)",
    )
    period_from = models.DateField("决策日期自")
    period_to = models.DateField("决策日期至")
    # The rule sets in force and the limit and pricing model versions of the candidate are those
    # of this date (the day it was asked for), so a re-run resolves the same versions.
    as_of = models.DateField("回测基准日")
    status = FSMField("状态", max_length=10, choices=BacktestStatus.choices, default="pending")
    decisions = models.PositiveIntegerField("回测决策数", default=0)
    changed = models.PositiveIntegerField("结论或额度变化数", default=0)
    changes_listed = models.PositiveIntegerField("已列出的变化数", default=0)
    summary = models.JSONField("对比结果", default=dict, blank=True)
    error = models.TextField("错误", blank=True)
    # Each start of a run takes the next number; only the run holding the latest one writes its
    # results, so a redelivered task running beside the first cannot mix two runs' rows.
    attempt = models.PositiveIntegerField("运行次数", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="发起人",
    )
    created_at = models.DateTimeField("发起时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "回测"
        verbose_name_plural = "回测"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"回测 {self.pk}"

    @property
    def scope_name(self) -> str:
        return self.bank.name if self.bank_id else "全省"

    @transition(
        field=status,
        source=[BacktestStatus.PENDING, BacktestStatus.FAILED, BacktestStatus.RUNNING],
        target=BacktestStatus.RUNNING,
    )
    def start(self) -> None:
        """From ``running`` too: a task redelivered after its worker died starts it over."""

    @transition(field=status, source=BacktestStatus.RUNNING, target=BacktestStatus.DONE)
    def finish(self) -> None:
        pass

    @transition(
        field=status,
        source=[BacktestStatus.PENDING, BacktestStatus.RUNNING],
        target=BacktestStatus.FAILED,
    )
    def fail(self) -> None:
        pass


class BacktestChange(models.Model):
    """A decision the candidate would decide differently: outcome, limit or rate (a rejection
    that stays a rejection is not a change whatever its limit)."""

    backtest = models.ForeignKey(
        Backtest,
        on_delete=models.CASCADE,
        related_name="changes",
        verbose_name="回测",
        db_index=False,  # backtest_change_page leads with it
    )
    # No constraint: decisions leave their table only by archive purge, and a back-test's
    # report outlives nothing it names.
    decision = models.ForeignKey(
        Decision,
        on_delete=models.DO_NOTHING,
        related_name="+",
        verbose_name="决策",
        db_index=False,
        db_constraint=False,
    )
    old_outcome = models.CharField("原结论", max_length=8, choices=Outcome.choices)
    new_outcome = models.CharField("新结论", max_length=8, choices=Outcome.choices)
    old_limit = models.DecimalField("原额度", max_digits=18, decimal_places=2, null=True)
    new_limit = models.DecimalField("新额度", max_digits=18, decimal_places=2, null=True)
    old_rate = models.DecimalField("原年利率(%)", max_digits=8, decimal_places=4, null=True)
    new_rate = models.DecimalField("新年利率(%)", max_digits=8, decimal_places=4, null=True)
    old_reason = models.CharField("原主要原因代码", max_length=64, blank=True)
    new_reason = models.CharField("新主要原因代码", max_length=64, blank=True)

    class Meta:
        verbose_name = "回测变化的决策"
        verbose_name_plural = "回测变化的决策"
        ordering = ["backtest", "id"]
        indexes = [models.Index(fields=["backtest", "id"], name="backtest_change_page")]

    def __str__(self) -> str:
        return f"决策 {self.decision_id}：{self.get_old_outcome_display()} → {self.get_new_outcome_display()}"


class RejectionStatistics(Decision):
    """No data of its own: the 拒绝原因统计 page's entry under 风险决策 in the admin index (the
    index lists models). Counted over whole banks, so it is not bound to villages."""

    tenant_village_field = None

    class Meta:
        proxy = True
        verbose_name = "拒绝原因统计"
        verbose_name_plural = "拒绝原因统计"
        default_permissions = ()
