from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from risk.models.scorecards import Scorecard
from villages.models import Household


class ScoringJob(models.Model):
    """A batch scoring run over a village, a campaign, a bank or the whole province, split into
    chunks that workers score independently (a killed worker's chunk is simply run again)."""

    class Scope(models.TextChoices):
        VILLAGE = "village", "行政村"
        CAMPAIGN = "campaign", "整村授信活动"
        BANK = "bank", "法人行社"
        PROVINCE = "province", "全省"

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        RUNNING = "running", "评分中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    tenant_bank_field = "bank"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scope = models.CharField("范围", max_length=12, choices=Scope.choices)
    scope_id = models.CharField("范围对象", max_length=64, blank=True)
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="法人行社",
    )
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    chunk_size = models.PositiveIntegerField("每块户数", default=20000)
    total_households = models.PositiveIntegerField("总户数", default=0)
    scored_households = models.PositiveIntegerField("已评分户数", default=0)
    error = models.TextField("错误", blank=True)
    created_by = models.ForeignKey(
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
        verbose_name = "批量评分任务"
        verbose_name_plural = "批量评分任务"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.scope_id} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        return (
            100
            if not self.total_households
            else int(self.scored_households * 100 / self.total_households)
        )


class ScoringChunk(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "待处理"
        RUNNING = "running", "处理中"
        DONE = "done", "完成"

    job = models.ForeignKey(
        ScoringJob, on_delete=models.CASCADE, related_name="chunks", verbose_name="任务"
    )
    number = models.PositiveIntegerField("块序号")
    # Households are chunked by id range over the job's ordered household ids.
    first_household = models.UUIDField("起始农户")
    last_household = models.UUIDField("结束农户")
    size = models.PositiveIntegerField("户数")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "评分分块"
        verbose_name_plural = "评分分块"
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="chunk_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.number}"


class HouseholdScoreQuerySet(TenantQuerySet):
    def champions(self) -> HouseholdScoreQuerySet:
        return self.filter(role=HouseholdScore.Role.CHAMPION)


class HouseholdScore(models.Model):
    """A household's score under one scorecard: score, grade, PD, the feature values used and
    the reason codes an account manager reads to explain it.

    Written a million rows at a time by batch jobs (COPY), so the row is kept lean:

    - ``feature_values`` are the scorecard's features in the order of its points table
      (``PointsTable.features``: the feature names sorted, fixed for a scorecard's life);
      ``features`` gives them back as a dict;
    - ``reason_codes`` are ``[[feature, bin_index], …]``, worst first; the Chinese text is
      rendered from the scorecard's own (immutable) bins when shown (``reasons()``), exactly as
      it read at scoring time;
    - the foreign keys are not enforced by PostgreSQL (``db_constraint=False``). An enforced key
      makes PostgreSQL look up and share-lock the parent row once per inserted row — the
      household, the bank, the scorecard and the job: measured, as much time as the insert
      itself. Every writer takes the ids from rows it has just read (the job, its champion
      scorecards, the feature rows of existing households), households and banks are never
      deleted, and deleting a scorecard (``PROTECT``) or a job (``CASCADE``) goes through the
      ORM, which applies ``on_delete`` itself.
    """

    class Role(models.TextChoices):
        CHAMPION = "champion", "冠军"
        CHALLENGER = "challenger", "挑战者(影子评分)"

    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    household = models.ForeignKey(
        Household,
        on_delete=models.CASCADE,
        related_name="scores",
        verbose_name="农户",
        db_constraint=False,
        db_index=False,  # score_household_latest leads with it
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        db_constraint=False,
        db_index=False,  # score_bank_latest leads with it
    )
    scorecard = models.ForeignKey(
        Scorecard,
        on_delete=models.PROTECT,
        related_name="scores",
        verbose_name="评分卡",
        db_constraint=False,
        db_index=False,  # score_scorecard_latest leads with it
    )
    role = models.CharField("角色", max_length=12, choices=Role.choices, default=Role.CHAMPION)
    job = models.ForeignKey(
        ScoringJob,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="scores",
        verbose_name="批量任务",
        db_constraint=False,
        db_index=False,  # score_once_per_job_household_role leads with it
    )
    score = models.DecimalField("评分", max_digits=8, decimal_places=2)
    grade = models.CharField("评级", max_length=8)
    probability_of_default = models.DecimalField("违约概率", max_digits=8, decimal_places=6)
    feature_values = ArrayField(
        models.FloatField(null=True), verbose_name="特征取值", default=list, blank=True
    )
    reason_codes = models.JSONField("原因码", default=list, blank=True)
    scored_at = models.DateTimeField("评分时间")

    objects = HouseholdScoreQuerySet.as_manager()

    class Meta:
        verbose_name = "农户评分"
        verbose_name_plural = "农户评分"
        ordering = ["-scored_at"]
        indexes = [
            models.Index(fields=["household", "-scored_at"], name="score_household_latest"),
            models.Index(fields=["bank", "-scored_at"], name="score_bank_latest"),
            models.Index(fields=["scorecard", "-scored_at"], name="score_scorecard_latest"),
        ]
        constraints = [
            # A retried chunk re-writes the same rows instead of adding duplicates.
            models.UniqueConstraint(
                fields=["job", "household", "role"],
                condition=models.Q(job__isnull=False),
                name="score_once_per_job_household_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.score} {self.grade}"

    def _table(self):
        from risk.scoring import PointsTable

        return PointsTable.load(self.scorecard)

    @property
    def features(self) -> dict[str, float | None]:
        """The feature values used, by feature name."""
        return dict(zip(self._table().features, self.feature_values, strict=False))

    def reasons(self) -> list[dict]:
        """The reason codes with their Chinese text, worst first (``PointsTable.reason_codes``)."""
        return self._table().stored_reasons(self.reason_codes, self.feature_values)


class MonitoringRun(models.Model):
    """Population stability (PSI) of a scorecard's score and features versus its training
    sample, and — once outcomes have matured — its discrimination (KS/AUC)."""

    class Band(models.TextChoices):
        STABLE = "stable", "稳定(<0.10)"
        WATCH = "watch", "关注(0.10-0.25)"
        ACT = "act", "需处置(>0.25)"
        # Too few households scored in the window for a PSI to mean anything: not flagged.
        SPARSE = "sparse", "样本不足"

    scorecard = models.ForeignKey(
        Scorecard, on_delete=models.CASCADE, related_name="monitoring_runs", verbose_name="评分卡"
    )
    computed_at = models.DateTimeField("计算时间", db_index=True)
    sample_size = models.PositiveIntegerField("样本数")
    score_psi = models.FloatField("评分PSI")
    band = models.CharField("稳定性", max_length=8, choices=Band.choices)
    feature_psi = models.JSONField("特征PSI", default=dict)
    matured_auc = models.FloatField("表现期AUC", null=True, blank=True)
    matured_ks = models.FloatField("表现期KS", null=True, blank=True)

    class Meta:
        verbose_name = "模型监控"
        verbose_name_plural = "模型监控"
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"{self.scorecard} PSI {self.score_psi:.3f}"
