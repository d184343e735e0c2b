"""Rules (规则) and rule sets (规则集) of the one rule language.

A rule is a condition over features (``risk.expressions``) with an outcome (reject, refer to a
person, or flag), a reason code and its Chinese text, and the source a rejection is counted
under in the statistics. ``owner`` empty means the federation's rule (every bank uses it); a bank
may define its own rule of the same code, which replaces the federation's for that bank.

Versions are immutable rows: every edit of a rule's definition writes a new ``RuleVersion`` and
moves ``current_version``. A rule set's draft is its ordered members (``RuleSetMember``);
publishing freezes the members' current rule versions and the mode into a ``RuleSetVersion``, so
a decision made under a version evaluates the same rules years later.
"""

from __future__ import annotations

from django.db import models

from common.audit import audited
from org.models import Staff
from risk.derived_features.models import OwnedQuerySet, owner_field


class RuleCategory(models.TextChoices):
    ADMISSION = "admission", "准入"
    ANTIFRAUD = "antifraud", "反欺诈"
    POST_LOAN = "post_loan", "贷后预警"


class RuleOutcome(models.TextChoices):
    REJECT = "reject", "拒绝"
    REFER = "refer", "转人工"
    FLAG = "flag", "提示"


# Larger is more severe; the column evaluation codes a row's outcome with these numbers.
OUTCOME_SEVERITY = {RuleOutcome.FLAG: 1, RuleOutcome.REFER: 2, RuleOutcome.REJECT: 3}
OUTCOME_BY_SEVERITY = {0: "", **{severity: o for o, severity in OUTCOME_SEVERITY.items()}}


class RejectionSource(models.TextChoices):
    """Where a rejection comes from, as the statistics count it (the Linfen table)."""

    CREDIT_REPORT = "credit_report", "征信"
    COURT = "court", "法院限高"
    DISHONEST = "dishonest", "失信被执行人"
    ANTIFRAUD = "antifraud", "外部反欺诈"
    BORROWING = "borrowing", "互联网借贷"
    INTERNAL = "internal", "行内"


class RuleSetMode(models.TextChoices):
    STOP_AT_FIRST_REJECT = "stop_at_first_reject", "遇拒绝即停止"
    EVALUATE_ALL = "evaluate_all", "全部执行"


@audited(exclude=["updated_at"])
class Rule(models.Model):
    tenant_bank_field = "owner"

    owner = owner_field()
    code = models.CharField("规则编码", max_length=64)
    name = models.CharField("规则名称", max_length=100)
    category = models.CharField("规则类别", max_length=12, choices=RuleCategory.choices)
    expression = models.TextField(
        "条件表达式", help_text="条件成立即命中，例如 credit_current_overdue == 1"
    )
    outcome = models.CharField("命中结果", max_length=8, choices=RuleOutcome.choices)
    reason_code = models.CharField("原因码", max_length=64)
    reason_text = models.CharField("原因说明", max_length=200)
    source = models.CharField(
        "拒绝来源", max_length=16, choices=RejectionSource.choices, default=RejectionSource.INTERNAL
    )
    enabled = models.BooleanField("启用", default=True)
    version = models.PositiveIntegerField("当前版本号", default=1)
    current_version = models.ForeignKey(
        "risk.RuleVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="当前版本",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "规则"
        ordering = ["category", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "code"], name="rule_owner_code", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RuleVersion(models.Model):
    """One immutable version of a rule's definition; decisions point at these."""

    tenant_bank_field = "rule__owner"

    rule = models.ForeignKey(
        Rule, on_delete=models.CASCADE, related_name="versions", verbose_name="规则"
    )
    version = models.PositiveIntegerField("版本号")
    code = models.CharField("规则编码", max_length=64)
    name = models.CharField("规则名称", max_length=100)
    category = models.CharField("规则类别", max_length=12, choices=RuleCategory.choices)
    expression = models.TextField("条件表达式")
    outcome = models.CharField("命中结果", max_length=8, choices=RuleOutcome.choices)
    reason_code = models.CharField("原因码", max_length=64)
    reason_text = models.CharField("原因说明", max_length=200)
    source = models.CharField("拒绝来源", max_length=16, choices=RejectionSource.choices)
    features = models.JSONField("引用的特征", default=list)
    created_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="创建人",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "规则版本"
        ordering = ["rule", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"], name="rule_version")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


@audited(exclude=["updated_at"])
class RuleSet(models.Model):
    tenant_bank_field = "owner"

    owner = owner_field()
    code = models.CharField("规则集编码", max_length=64)
    name = models.CharField("规则集名称", max_length=100)
    category = models.CharField("规则类别", max_length=12, choices=RuleCategory.choices)
    mode = models.CharField(
        "执行方式",
        max_length=24,
        choices=RuleSetMode.choices,
        default=RuleSetMode.STOP_AT_FIRST_REJECT,
    )
    version = models.PositiveIntegerField("已发布版本号", default=0)
    current_version = models.ForeignKey(
        "risk.RuleSetVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="当前发布版本",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "规则集"
        ordering = ["category", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "code"], name="rule_set_owner_code", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RuleSetMember(models.Model):
    """The draft list: which rules, in which order; frozen into a version when published."""

    tenant_bank_field = "rule_set__owner"

    rule_set = models.ForeignKey(
        RuleSet, on_delete=models.CASCADE, related_name="members", verbose_name="规则集"
    )
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="+", verbose_name="规则")
    position = models.PositiveIntegerField("顺序")

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "规则集成员"
        ordering = ["rule_set", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "rule"], name="rule_set_member_rule")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.rule_id}"


class RuleSetVersion(models.Model):
    """A published rule set: its mode, its rule versions in order (``RuleSetVersionMember``) and
    the derived-feature versions those rules read (``derived_versions``: code → version id)."""

    tenant_bank_field = "rule_set__owner"

    rule_set = models.ForeignKey(
        RuleSet, on_delete=models.CASCADE, related_name="versions", verbose_name="规则集"
    )
    version = models.PositiveIntegerField("版本号")
    mode = models.CharField("执行方式", max_length=24, choices=RuleSetMode.choices)
    derived_versions = models.JSONField("引用的衍生特征版本", default=dict)
    published_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="发布人",
    )
    published_at = models.DateTimeField("发布时间")
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="上一发布版本",
    )

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "规则集版本"
        ordering = ["rule_set", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "version"], name="rule_set_version")
        ]

    def __str__(self) -> str:
        return f"{self.rule_set_id} v{self.version}"


class RuleSetVersionMember(models.Model):
    tenant_bank_field = "set_version__rule_set__owner"

    set_version = models.ForeignKey(
        RuleSetVersion, on_delete=models.CASCADE, related_name="members", verbose_name="规则集版本"
    )
    rule_version = models.ForeignKey(
        RuleVersion, on_delete=models.PROTECT, related_name="+", verbose_name="规则版本"
    )
    position = models.PositiveIntegerField("顺序")

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "规则集版本成员"
        ordering = ["set_version", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["set_version", "position"], name="rule_set_version_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.rule_version_id}"
