from __future__ import annotations

from django.conf import settings
from django.db import models

from common import pii
from common.audit import audited
from common.fields import EncryptedTextField, KeyedHashField, KeyedHashModel
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from villages.models.divisions import Village
from villages.models.households import Household, ListColour


class RoundQuerySet(TenantQuerySet):
    def closed(self) -> RoundQuerySet:
        return self.filter(status=PeerReviewRound.Status.CLOSED)

    def open(self) -> RoundQuerySet:
        return self.filter(status=PeerReviewRound.Status.OPEN)

    def past_deadline(self, today) -> RoundQuerySet:
        """Open rounds whose last voting day (``closes_on``) is before ``today``."""
        return self.open().filter(closes_on__lt=today)

    def of_evaluator(self, user) -> RoundQuerySet:
        """The rounds ``user`` sits on as a villager evaluator (the only ones they may reach)."""
        return self.filter(evaluators__user=user)


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

    class CloseReason(models.TextChoices):
        MANUAL = "manual", "手工结束"
        ALL_VOTED = "all_voted", "全部评议员已评完"
        DEADLINE = "deadline", "已过截止日期"

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
    closes_on = models.DateField(
        "截止日期",
        null=True,
        blank=True,
        help_text="该日（北京时间）结束后自动结束评议并汇总；留空则不按日期结束",
    )
    close_when_all_voted = models.BooleanField(
        "评完即结束",
        default=True,
        help_text="每位评议员都对本村每一户投票后自动结束评议并汇总",
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
    close_reason = models.CharField(
        "结束方式", max_length=10, choices=CloseReason.choices, blank=True, default=""
    )

    objects = RoundQuerySet.as_manager()

    class Meta:
        verbose_name = "背靠背评议"
        verbose_name_plural = "背靠背评议"
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return self.title


class EvaluatorQuerySet(TenantQuerySet):
    pass


@audited(exclude=["phone_hash"])
class PeerReviewEvaluator(KeyedHashModel):
    """A villager on the panel (cadre, elder, finance liaison) with a login to vote from a phone.

    The login (``user``) has the peer-evaluator role only: no staff record, no admin, and the API
    lets it reach nothing but its own rounds. The phone receives one-time sign-in codes; it is
    personal data, so it is stored encrypted with a keyed hash for lookups, like members' phones.
    """

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
    phone = EncryptedTextField("手机号", purpose=pii.PHONE, max_length=20)
    phone_hash = KeyedHashField("手机号(哈希)", source="phone", purpose=pii.PHONE)
    added_at = models.DateTimeField("加入时间", auto_now_add=True, null=True)

    objects = EvaluatorQuerySet.as_manager()

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
        return f"评议结论：{self.get_colour_display()}"


class EvaluatorLoginCode(models.Model):
    """A one-time sign-in code sent by SMS to an evaluator's phone.

    Only a keyed hash of the code is stored (``salted_hmac`` with the server's secret key), so a
    copy of the table does not let anyone sign in. A code is good once, until ``expires_at``, and
    for a few wrong tries; asking for a new code voids the earlier ones.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name="登录账号",
    )
    phone_hash = KeyedHashField("手机号(哈希)", source="phone_text", purpose=pii.PHONE)
    code_hash = models.CharField("验证码摘要", max_length=64)
    created_at = models.DateTimeField("发送时间", auto_now_add=True)
    expires_at = models.DateTimeField("失效时间")
    used_at = models.DateTimeField("使用时间", null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField("错误次数", default=0)

    class Meta:
        verbose_name = "评议员登录验证码"
        verbose_name_plural = verbose_name
        indexes = [models.Index(fields=["phone_hash", "expires_at"], name="login_code_phone")]

    # The hash field reads the plain phone from this attribute when the row is first saved.
    phone_text = ""

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.created_at:%Y-%m-%d %H:%M}"
