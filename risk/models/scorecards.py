from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_fsm import FSMField, transition

from common.audit import audited
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet


class ScoringSegment(models.Model):
    """A customer segment with its own scorecard (Shaanxi: farmers, urban residents, individual
    businesses). Federation segments (no bank) are shared; a bank may define its own."""

    code = models.CharField("客群代码", max_length=32)
    name = models.CharField("客群名称", max_length=50)
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="法人行社",
    )
    description = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "评分客群"
        verbose_name_plural = "评分客群"
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(bank__isnull=True),
                name="segment_code_unique_federation",
            ),
            models.UniqueConstraint(fields=["bank", "code"], name="segment_code_unique_per_bank"),
        ]

    def __str__(self) -> str:
        return self.name


class ScorecardQuerySet(TenantQuerySet):
    def champions(self) -> ScorecardQuerySet:
        return self.filter(status=Scorecard.Status.CHAMPION)


@audited(exclude=["updated_at"])
class Scorecard(models.Model):
    """A trained scorecard version of a segment, from draft to champion to retired.

    The bins → points table (``ScorecardBin``) is what scores at run time; the fitted optbinning
    object is kept as a skops artefact for audit and re-scoring, never pickled.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        CHALLENGER = "challenger", "挑战者"
        CHAMPION = "champion", "冠军(生产)"
        RETIRED = "retired", "已退役"

    class Source(models.TextChoices):
        DATABASE = "database", "本行历史贷款表现"
        UPLOAD = "upload", "上传数据集"
        SYNTHETIC = "synthetic", "合成数据(演示)"

    tenant_bank_field = "bank"

    segment = models.ForeignKey(
        ScoringSegment, on_delete=models.PROTECT, related_name="scorecards", verbose_name="客群"
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="法人行社",
        help_text="为空表示省联社统一模型",
    )
    version = models.PositiveIntegerField("版本号")
    name = models.CharField("模型名称", max_length=100)
    status = FSMField("状态", max_length=12, choices=Status.choices, default=Status.DRAFT)
    source = models.CharField("训练数据来源", max_length=12, choices=Source.choices)
    target_definition = models.CharField(
        "坏客户定义", max_length=200, default="12个月内曾逾期90天以上"
    )
    base_score = models.DecimalField("基准分", max_digits=8, decimal_places=2, default=600)
    base_odds = models.DecimalField("基准好坏比", max_digits=8, decimal_places=2, default=50)
    pdo = models.DecimalField("翻倍分数(PDO)", max_digits=8, decimal_places=2, default=20)
    random_seed = models.PositiveIntegerField("随机种子", default=42)
    training_rows = models.PositiveIntegerField("训练样本数", default=0)
    training_bads = models.PositiveIntegerField("坏样本数", default=0)
    metrics = models.JSONField(
        "模型指标", default=dict, blank=True, help_text="AUC/KS/Gini，训练集与测试集"
    )
    feature_iv = models.JSONField("特征IV", default=dict, blank=True)
    # Grade cut-offs, best first: [["AAA", 700], ["AA", 660], ...]; below the last → last grade.
    grade_cutoffs = models.JSONField("评级分数线", default=list, blank=True)
    # Distributions of the training sample, the baseline for PSI: {"score": {"edges": [...],
    # "shares": [...]}, "features": {name: {...}}}
    baseline = models.JSONField("基线分布", default=dict, blank=True)
    artefact = models.FileField("模型文件(skops)", upload_to="scorecards/", blank=True)
    artefact_sha256 = models.CharField("模型文件摘要", max_length=64, blank=True)
    trained_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="训练人",
    )
    trained_at = models.DateTimeField("训练时间", null=True, blank=True)
    promoted_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="晋级复核人",
    )
    promoted_at = models.DateTimeField("晋级时间", null=True, blank=True)
    submitted_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="提交挑战人",
    )
    submitted_at = models.DateTimeField("提交挑战时间", null=True, blank=True)
    retired_at = models.DateTimeField("退役时间", null=True, blank=True)
    # Share of households a challenger also scores in shadow, by a sticky hash of the household
    # id (``risk.scoring.shadow_bucket``), so a household is always in or always out.
    shadow_percent = models.PositiveSmallIntegerField(
        "影子评分样本比例(%)",
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = ScorecardQuerySet.as_manager()

    class Meta:
        verbose_name = "评分卡"
        verbose_name_plural = "评分卡"
        ordering = ["segment", "-version"]
        permissions = [("promote_scorecard", "可提交、晋级和退役评分卡")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(shadow_percent__gte=1, shadow_percent__lte=100),
                name="scorecard_shadow_percent_range",
            ),
            models.UniqueConstraint(
                fields=["segment", "bank", "version"],
                name="scorecard_unique_version",
                nulls_distinct=False,
            ),
            models.UniqueConstraint(
                fields=["segment", "bank"],
                condition=models.Q(status="champion"),
                name="scorecard_one_champion_per_segment",
                nulls_distinct=False,
            ),
            models.UniqueConstraint(
                fields=["segment", "bank"],
                condition=models.Q(status="challenger"),
                name="scorecard_one_challenger_per_segment",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @transition(field=status, source=Status.DRAFT, target=Status.CHALLENGER)
    def submit(self) -> None:
        pass

    @transition(field=status, source=Status.CHALLENGER, target=Status.CHAMPION)
    def promote(self) -> None:
        pass

    @transition(
        field=status,
        source=[Status.DRAFT, Status.CHALLENGER, Status.CHAMPION],
        target=Status.RETIRED,
    )
    def retire(self) -> None:
        pass


class ScorecardStatusChange(models.Model):
    """Who moved a scorecard from which status to which, and why: the business-readable log
    (pghistory keeps the raw row history as well)."""

    scorecard = models.ForeignKey(
        Scorecard, on_delete=models.CASCADE, related_name="status_changes", verbose_name="评分卡"
    )
    action = models.CharField("操作", max_length=20)
    from_status = models.CharField("原状态", max_length=12, choices=Scorecard.Status.choices)
    to_status = models.CharField("新状态", max_length=12, choices=Scorecard.Status.choices)
    actor = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
    )
    reason = models.CharField("原因/意见", max_length=300, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "评分卡状态变更"
        verbose_name_plural = "评分卡状态变更"
        ordering = ["scorecard", "at", "id"]

    def __str__(self) -> str:
        return f"{self.scorecard_id} {self.from_status}→{self.to_status}"


class ScorecardTraining(models.Model):
    """One training run (uploaded CSV, synthetic history or matured outcomes), run by a Celery
    task that reports its progress here; a successful run registers a draft scorecard."""

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        RUNNING = "running", "训练中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    tenant_bank_field = "bank"

    segment = models.ForeignKey(
        ScoringSegment, on_delete=models.PROTECT, related_name="+", verbose_name="客群"
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="法人行社",
        help_text="为空表示省联社统一模型",
    )
    source = models.CharField("训练数据来源", max_length=12, choices=Scorecard.Source.choices)
    dataset = models.FileField("训练数据(CSV)", upload_to="training/", blank=True)
    synthetic_rows = models.PositiveIntegerField("合成样本数", null=True, blank=True)
    # Overrides of ``risk.training.TrainingSettings`` (base_score, base_odds, pdo, seed …).
    settings = models.JSONField("训练参数", default=dict, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField("进度(%)", default=0)
    step = models.CharField("当前步骤", max_length=200, blank=True)
    error = models.TextField("错误", blank=True)
    scorecard = models.ForeignKey(
        Scorecard,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="生成的评分卡",
    )
    requested_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="发起人",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "评分卡训练"
        verbose_name_plural = "评分卡训练"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.segment} {self.get_source_display()} ({self.get_status_display()})"


class ScorecardBin(models.Model):
    """One bin of one feature of a scorecard: the run-time points table, stored as data."""

    class Kind(models.TextChoices):
        NUMERIC = "numeric", "数值区间"
        CATEGORICAL = "categorical", "类别"
        SPECIAL = "special", "特殊值"
        MISSING = "missing", "缺失"

    scorecard = models.ForeignKey(
        Scorecard, on_delete=models.CASCADE, related_name="bins", verbose_name="评分卡"
    )
    feature = models.CharField("特征", max_length=64)
    bin_index = models.PositiveSmallIntegerField("分箱序号")
    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    label = models.CharField("分箱", max_length=200)
    # Numeric bins are [lower, upper); None is an open end.
    lower = models.FloatField("下限(含)", null=True, blank=True)
    upper = models.FloatField("上限(不含)", null=True, blank=True)
    categories = models.JSONField("类别取值", null=True, blank=True)
    count = models.PositiveIntegerField("样本数", default=0)
    event_rate = models.FloatField("坏账率", default=0)
    woe = models.FloatField("WOE", default=0)
    points = models.DecimalField("分值", max_digits=10, decimal_places=4)

    class Meta:
        verbose_name = "评分卡分箱"
        verbose_name_plural = "评分卡分箱"
        ordering = ["scorecard", "feature", "bin_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard", "feature", "bin_index"], name="bin_unique_index"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feature} {self.label}: {self.points}"
