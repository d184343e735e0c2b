from __future__ import annotations

from django.conf import settings
from django.db import models

from common.audit import audited
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from villages.models.divisions import Village
from villages.models.households import Household, ListColour


class RoundQuerySet(TenantQuerySet):
    def closed(self) -> RoundQuerySet:
        return self.filter(status=PeerReviewRound.Status.CLOSED)


@audited()
class PeerReviewRound(models.Model):
    """A back-to-back peer review (背靠背评议) of a village's households.

    Evaluators vote independently and cannot see each other's votes until the round closes.
    Closing applies the aggregation rule stored on the round (so a later change of the default
    does not rewrite old results): any ``black_veto_count`` black votes make a household black;
    otherwise the most frequent colour wins; a tie goes to the more cautious colour.
    """

    class Status(models.TextChoices):
        OPEN = "open", "评议中"
        CLOSED = "closed", "已结束"

    tenant_bank_field = "bank"
    tenant_village_field = "village"

    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="review_rounds", verbose_name="行政村"
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
    )
    title = models.CharField("评议名称", max_length=100)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.OPEN)
    black_veto_count = models.PositiveSmallIntegerField(
        "黑名单一票否决票数", default=2, help_text="达到该数量的黑名单票即评为黑名单"
    )
    opened_by = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="+", null=True, verbose_name="发起人"
    )
    opened_at = models.DateTimeField("开始时间", auto_now_add=True)
    closed_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="结束人",
    )
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)

    objects = RoundQuerySet.as_manager()

    class Meta:
        verbose_name = "背靠背评议"
        verbose_name_plural = "背靠背评议"
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return self.title


class PeerReviewEvaluator(models.Model):
    """A villager on the panel (cadre, elder, finance liaison) with a login to vote from a phone."""

    class Kind(models.TextChoices):
        CADRE = "cadre", "村干部"
        ELDER = "elder", "村民代表/乡贤"
        LIAISON = "liaison", "金融村官"
        OTHER = "other", "其他"

    tenant_bank_field = "round__bank"
    tenant_village_field = "round__village"

    round = models.ForeignKey(
        PeerReviewRound, on_delete=models.CASCADE, related_name="evaluators", verbose_name="评议"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="登录账号",
    )
    name = models.CharField("姓名", max_length=50)
    kind = models.CharField("身份", max_length=10, choices=Kind.choices)

    class Meta:
        verbose_name = "评议员"
        verbose_name_plural = "评议员"
        constraints = [
            models.UniqueConstraint(fields=["round", "user"], name="evaluator_once_per_round"),
        ]

    def __str__(self) -> str:
        return f"{self.name}({self.get_kind_display()})"


class PeerReviewVote(models.Model):
    tenant_bank_field = "round__bank"
    tenant_village_field = "round__village"

    round = models.ForeignKey(
        PeerReviewRound, on_delete=models.CASCADE, related_name="votes", verbose_name="评议"
    )
    evaluator = models.ForeignKey(
        PeerReviewEvaluator, on_delete=models.CASCADE, related_name="votes", verbose_name="评议员"
    )
    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="review_votes", verbose_name="农户"
    )
    colour = models.CharField("评议结果", max_length=8, choices=ListColour.choices)
    reason = models.CharField("理由", max_length=200, blank=True)
    suggested_amount = models.DecimalField(
        "建议额度(元)", max_digits=18, decimal_places=2, null=True, blank=True
    )
    voted_at = models.DateTimeField("投票时间", auto_now=True)

    class Meta:
        verbose_name = "评议票"
        verbose_name_plural = "评议票"
        constraints = [
            models.UniqueConstraint(
                fields=["evaluator", "household"], name="vote_once_per_evaluator_household"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator_id} → {self.household_id}: {self.get_colour_display()}"


class PeerReviewResult(models.Model):
    """A household's outcome of a closed round, with the vote counts behind it."""

    tenant_bank_field = "round__bank"
    tenant_village_field = "round__village"

    round = models.ForeignKey(
        PeerReviewRound, on_delete=models.CASCADE, related_name="results", verbose_name="评议"
    )
    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="review_results", verbose_name="农户"
    )
    colour = models.CharField("评议结论", max_length=8, choices=ListColour.choices)
    black_votes = models.PositiveSmallIntegerField("黑名单票", default=0)
    grey_votes = models.PositiveSmallIntegerField("灰名单票", default=0)
    green_votes = models.PositiveSmallIntegerField("绿名单票", default=0)
    white_votes = models.PositiveSmallIntegerField("白名单票", default=0)
    suggested_amount = models.DecimalField(
        "建议额度中位数(元)", max_digits=18, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = "评议结论"
        verbose_name_plural = "评议结论"
        constraints = [
            models.UniqueConstraint(
                fields=["round", "household"], name="result_once_per_household"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.get_colour_display()}"
