"""Strategies (决策流) and decisions (决策).

A **strategy** belongs to the federation (``owner`` empty: every bank may use it) or to one bank,
names the products it serves (none: the owner's default for every product) and keeps its flow on
versions with the maker-checker of the limit and pricing models (``risk.pricing``): a draft is
edited, submitted and activated by a second person; an activated version never changes, so a
decision names it and replays from it years later.

A **decision** is immutable (a trigger refuses UPDATE and DELETE). It is stored lean, because a
campaign writes a million at a time (DESIGN, "Tables that grow by millions"): codes rather than
text (reason texts are rendered from the versions it names), arrays rather than JSON, and the
complete input snapshot as one ``bytea`` of float64 values in the order its ``layout`` names.
"""

from __future__ import annotations

import struct

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from org.models import Institution
from org.tenancy import TenantQuerySet
from products.models import Product, ProductVersion
from risk.models.scorecards import Scorecard
from risk.pricing.models import (
    LimitModelVersion,
    ModelVersionBase,
    PricingModelBase,
    PricingModelVersion,
    _version_constraints,
)
from villages.models import Campaign, Household, Member


class Strategy(PricingModelBase):
    """A decision flow (决策流) and its versions."""

    products = models.ManyToManyField(
        Product,
        blank=True,
        related_name="+",
        verbose_name="适用产品",
        help_text="不选表示作为本机构所有产品的默认决策流",
    )

    class Meta:
        verbose_name = "决策流"
        verbose_name_plural = "决策流"
        ordering = ["owner_id", "code"]


class StrategyVersion(ModelVersionBase):
    model = models.ForeignKey(
        Strategy, on_delete=models.PROTECT, related_name="versions", verbose_name="决策流"
    )
    definition = models.JSONField(
        "流程定义", help_text="节点及其顺序：名单 → 外部数据 → 规则集 → 评分卡 → 额度 → 定价 → 结论"
    )

    class Meta:
        verbose_name = "决策流版本"
        verbose_name_plural = "决策流版本"
        ordering = ["model_id", "-number"]
        permissions = [("activate_strategyversion", "可以复核生效决策流版本")]
        constraints = _version_constraints("strategy_version")

    def parameters(self):
        """The shared maker-checker services read a version's values through this."""
        return self.definition


class StrategyChange(models.Model):
    """Every status change of a strategy version: who, when, from and to."""

    version = models.ForeignKey(
        StrategyVersion, on_delete=models.PROTECT, related_name="changes", verbose_name="版本"
    )
    action = models.CharField("操作", max_length=20)
    from_status = models.CharField("原状态", max_length=12, blank=True)
    to_status = models.CharField("新状态", max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
    )
    reason = models.CharField("说明", max_length=300, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "决策流版本变更"
        verbose_name_plural = "决策流版本变更"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} {self.action}"


class DecisionLayout(models.Model):
    """The order of the values in a decision's input snapshot: the feature catalogue when the
    decision was made. The catalogue only grows, so there are few layouts."""

    names = ArrayField(models.CharField(max_length=60), verbose_name="特征顺序")
    digest = models.CharField("摘要", max_length=64, unique=True)

    class Meta:
        verbose_name = "决策输入布局"
        verbose_name_plural = "决策输入布局"

    def __str__(self) -> str:
        return f"布局 {self.pk} ({len(self.names)} 项)"


class DecisionJob(models.Model):
    """A batch of campaign decisions (整村授信批量决策): a campaign, a bank or the province run
    through a product's strategy, in chunks, each household decided at most once per job."""

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        RUNNING = "running", "运行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

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
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="整村授信活动",
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name="产品"
    )
    decision_date = models.DateField("决策日期")
    status = FSMField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    households_total = models.PositiveIntegerField("农户数", default=0)
    households_done = models.PositiveIntegerField("已决策", default=0)
    chunks_total = models.PositiveIntegerField("分块数", default=0)
    chunks_done = models.PositiveIntegerField("已完成分块", default=0)
    approved = models.PositiveIntegerField("通过", default=0)
    referred = models.PositiveIntegerField("转人工", default=0)
    rejected = models.PositiveIntegerField("拒绝", default=0)
    error = models.TextField("错误", blank=True)
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
        verbose_name = "批量决策任务"
        verbose_name_plural = "批量决策任务"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"批量决策 {self.pk}"

    @transition(field=status, source=[Status.PENDING, Status.FAILED], target=Status.RUNNING)
    def start(self) -> None:
        pass

    @transition(field=status, source=Status.RUNNING, target=Status.DONE)
    def finish(self) -> None:
        pass

    @transition(field=status, source=[Status.PENDING, Status.RUNNING], target=Status.FAILED)
    def fail(self) -> None:
        pass


class DecisionKind(models.IntegerChoices):
    APPLICATION = 1, "申请决策"
    CAMPAIGN = 2, "整村授信批量"
    WHAT_IF = 3, "试算(不用于授信)"


class Outcome(models.TextChoices):
    APPROVE = "approve", "通过"
    REFER = "refer", "转人工审批"
    REJECT = "reject", "拒绝"


class DecisionQuerySet(TenantQuerySet):
    def for_lines(self):
        """Decisions a credit line may be granted from: never a what-if."""
        return self.exclude(kind=DecisionKind.WHAT_IF)


class Decision(models.Model):
    """One decision, never changed. Only the bank, the household and the applicant are checked
    by foreign keys: the versions, products, job and layout a decision names are written by the
    engine from rows it has just read, are never deleted (``PROTECT`` in Django), and twelve
    more constraint triggers per row cost a campaign's COPY of a million rows more than the
    rest of its write."""

    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    id = models.BigAutoField(primary_key=True)
    kind = models.PositiveSmallIntegerField("类型", choices=DecisionKind.choices)
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        db_index=False,  # decision_bank_date_idx leads with it
    )
    branch = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="支行",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name="农户"
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="申请人",
        null=True,
        db_index=False,
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="产品",
        db_index=False,
        db_constraint=False,
    )
    product_version = models.ForeignKey(
        ProductVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="产品版本",
        db_index=False,
        db_constraint=False,
    )
    product_chain = ArrayField(models.IntegerField(), verbose_name="产品版本链")
    strategy_version = models.ForeignKey(
        StrategyVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="决策流版本",
        db_index=False,
        db_constraint=False,
    )
    job = models.ForeignKey(
        DecisionJob,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="批量任务",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    decision_date = models.DateField("决策日期")
    decided_at = models.DateTimeField("决策时间")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="发起人",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    outcome = models.CharField("结论", max_length=8, choices=Outcome.choices)
    primary_reason = models.CharField("主要原因代码", max_length=40, blank=True)
    reason_source = models.CharField("原因来源", max_length=20, blank=True)
    reason_codes = ArrayField(models.CharField(max_length=40), verbose_name="原因代码")
    approval_levels = ArrayField(models.CharField(max_length=20), verbose_name="审批层级")
    requested_amount = models.DecimalField("申请金额", max_digits=18, decimal_places=2, null=True)
    limit_amount = models.DecimalField("额度", max_digits=18, decimal_places=2, null=True)
    rate = models.DecimalField("年利率(%)", max_digits=8, decimal_places=4, null=True)
    score = models.DecimalField("评分", max_digits=8, decimal_places=2, null=True)
    grade = models.CharField("评级", max_length=4, blank=True)
    probability_of_default = models.DecimalField(
        "违约概率", max_digits=8, decimal_places=6, null=True
    )
    scorecard = models.ForeignKey(
        Scorecard,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="评分卡",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    challenger_scorecard = models.ForeignKey(
        Scorecard,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="挑战者评分卡",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    challenger_score = models.DecimalField("挑战者评分", max_digits=8, decimal_places=2, null=True)
    challenger_grade = models.CharField("挑战者评级", max_length=4, blank=True)
    rule_set_versions = ArrayField(models.IntegerField(), verbose_name="规则集版本")
    # A hit is ``index into rule_set_versions × 1000 + the rule's position in that version``.
    rule_hits = ArrayField(models.IntegerField(), verbose_name="命中规则")
    list_level = models.PositiveSmallIntegerField("名单级别", default=0)
    list_entries = ArrayField(models.BigIntegerField(), verbose_name="命中名单")
    list_override = models.BooleanField("限制级名单已被风险经理豁免", default=False)
    provider_problems = ArrayField(models.SmallIntegerField(), verbose_name="外部数据问题")
    subject_problem = models.PositiveSmallIntegerField("申请人问题", default=0)
    limit_model_version = models.ForeignKey(
        LimitModelVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="额度模型版本",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    pricing_model_version = models.ForeignKey(
        PricingModelVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="定价模型版本",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    lpr = models.DecimalField("LPR(%)", max_digits=7, decimal_places=4, null=True)
    limit_problem = models.PositiveSmallIntegerField("额度问题", default=0)
    rate_problem = models.PositiveSmallIntegerField("定价问题", default=0)
    layout = models.ForeignKey(
        DecisionLayout,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="输入布局",
        db_index=False,
        db_constraint=False,
    )
    inputs = models.BinaryField("输入快照")
    device_id = models.CharField("设备标识", max_length=64, blank=True)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        verbose_name = "决策"
        verbose_name_plural = "决策"
        ordering = ["-id"]
        permissions = [("override_list_restrict", "可在申请上豁免限制级黑名单")]
        indexes = [
            models.Index(fields=["household", "-decided_at"], name="decision_household_idx"),
            models.Index(fields=["bank", "decision_date"], name="decision_bank_date_idx"),
            # The velocity features: applications per applicant and per device in 30 days.
            models.Index(
                fields=["member", "decided_at"],
                name="decision_applicant_idx",
                condition=Q(kind=1),
            ),
            models.Index(
                fields=["device_id", "decided_at"],
                name="decision_device_idx",
                condition=Q(kind=1) & ~Q(device_id=""),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "household"],
                condition=Q(job__isnull=False),
                name="decision_once_per_job",
            ),
        ]

    def __str__(self) -> str:
        # The admin's titles and breadcrumbs: what and when, not the row's id.
        return f"{self.get_kind_display()}（{self.decision_date:%Y-%m-%d}，{self.get_outcome_display()}）"

    def input_values(self) -> list[float]:
        raw = bytes(self.inputs)
        return list(struct.unpack(f"<{len(raw) // 8}d", raw))
