"""Credit lines (授信额度).

A **master line** belongs to a household for one product; **sub-lines** (总分授信) give members
of that household a share of it. The sub-lines' amounts never add up to more than the master's:
every service that creates or resizes a sub-line locks the master row first, so two concurrent
requests are checked one after the other (``lending.lines.services``).

A line is pinned to the product version and the rate of the decision that granted it; a later
product version does not change a line already granted. Its ``drawn`` amount is what the loans
drawn on it owe in principal: drawdowns raise it, repayments lower it (revolving, 随借随还);
the database refuses a ``drawn`` above the amount or below zero.

The status is a django-fsm field that only the transitions change (``protected``):
pre-approved (from a campaign's APPROVE decisions) → active (its contract signed) → frozen ⇄
active; any open line → expired (past its validity, by the daily job) or closed. Every change
is a ``CreditLineChange`` row: who, when, from, to and why.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, FSMModelMixin, transition

from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from products.models import Product, ProductVersion
from risk.models import Decision
from villages.models import Campaign, Household, Member


class LineStatus(models.TextChoices):
    PRE_APPROVED = "pre_approved", "预授信"
    ACTIVE = "active", "已生效"
    FROZEN = "frozen", "已冻结"
    EXPIRED = "expired", "已到期"
    CLOSED = "closed", "已关闭"


OPEN_STATUSES = (LineStatus.PRE_APPROVED, LineStatus.ACTIVE, LineStatus.FROZEN)


class CreditLineQuerySet(TenantQuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def masters(self):
        return self.filter(parent__isnull=True)


class CreditLine(FSMModelMixin, models.Model):
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="credit_lines", verbose_name="农户"
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sub_lines",
        verbose_name="主额度",
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="分额度成员",
        help_text="主额度属于农户，留空；分额度属于该户的一位成员",
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name="产品"
    )
    product_version = models.ForeignKey(
        ProductVersion, on_delete=models.PROTECT, related_name="+", verbose_name="产品版本"
    )
    decision = models.ForeignKey(
        Decision,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="所依据的决策",
    )
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="整村授信活动",
    )
    amount = models.DecimalField("授信额度", max_digits=18, decimal_places=2)
    drawn = models.DecimalField("已用额度", max_digits=18, decimal_places=2, default=Decimal("0"))
    rate = models.DecimalField("年利率(%)", max_digits=8, decimal_places=4)
    valid_from = models.DateField("生效日期")
    valid_until = models.DateField("到期日期")
    status = FSMField(
        "状态",
        max_length=12,
        choices=LineStatus.choices,
        default=LineStatus.PRE_APPROVED,
        protected=True,
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = CreditLineQuerySet.as_manager()

    class Meta:
        verbose_name = "授信额度"
        verbose_name_plural = "授信额度"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="line_amount_positive"),
            models.CheckConstraint(
                condition=Q(drawn__gte=0) & Q(drawn__lte=F("amount")),
                name="line_drawn_within_amount",
                violation_error_message="已用额度不能超过授信额度",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gte=F("valid_from")), name="line_validity_ordered"
            ),
            # A master line is the household's; a sub-line a member's.
            models.CheckConstraint(
                condition=Q(parent__isnull=True, member__isnull=True)
                | Q(parent__isnull=False, member__isnull=False),
                name="line_sub_has_member",
            ),
            # One open master line per household and product: the pre-approval batch relies
            # on it to be idempotent (ON CONFLICT DO NOTHING).
            models.UniqueConstraint(
                fields=["household", "product"],
                condition=Q(parent__isnull=True, status__in=OPEN_STATUSES),
                name="line_one_open_master",
            ),
            models.UniqueConstraint(
                fields=["parent", "member"],
                condition=Q(parent__isnull=False, status__in=OPEN_STATUSES),
                name="line_one_open_sub_per_member",
            ),
            models.UniqueConstraint(
                fields=["decision"], condition=Q(decision__isnull=False), name="line_per_decision"
            ),
        ]
        indexes = [models.Index(fields=["status", "valid_until"], name="line_status_until")]

    def __str__(self) -> str:
        # Names, not ids (the admin's titles and links): the member's share or the household's.
        if self.member_id:
            return f"{self.member.name}的分额度"
        head = self.household.head
        return f"{head.name}户授信" if head is not None else "农户授信"

    @property
    def available(self) -> Decimal:
        """可用额度 of this line alone (a sub-line is also bounded by its master's)."""
        return self.amount - self.drawn

    # Transitions are called by lending.lines.services only, with the row locked.
    @transition(field=status, source=LineStatus.PRE_APPROVED, target=LineStatus.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(field=status, source=LineStatus.ACTIVE, target=LineStatus.FROZEN)
    def freeze(self) -> None:
        pass

    @transition(field=status, source=LineStatus.FROZEN, target=LineStatus.ACTIVE)
    def unfreeze(self) -> None:
        pass

    @transition(field=status, source=list(OPEN_STATUSES), target=LineStatus.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(
        field=status,
        source=[*OPEN_STATUSES, LineStatus.EXPIRED],
        target=LineStatus.CLOSED,
        conditions=[lambda line: line.drawn == 0],
    )
    def close(self) -> None:
        pass


class CreditLineChange(models.Model):
    """A line's status change: who (none for the daily job), when, from, to and why."""

    class Action(models.TextChoices):
        PRE_APPROVE = "pre_approve", "预授信"
        GRANT = "grant", "申请审批授信"
        SUB_CREATE = "sub_create", "分配分额度"
        ACTIVATE = "activate", "签约生效"
        FREEZE = "freeze", "冻结"
        UNFREEZE = "unfreeze", "解冻"
        EXPIRE = "expire", "到期"
        CLOSE = "close", "关闭"

    tenant_bank_field = "line__bank"
    tenant_village_field = "line__household__village"

    line = models.ForeignKey(
        CreditLine, on_delete=models.CASCADE, related_name="changes", verbose_name="授信额度"
    )
    action = models.CharField("操作", max_length=12, choices=Action.choices)
    from_status = models.CharField("原状态", max_length=12, choices=LineStatus.choices, blank=True)
    to_status = models.CharField("新状态", max_length=12, choices=LineStatus.choices)
    actor = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
    )
    reason = models.CharField("原因", max_length=300, blank=True)
    at = models.DateTimeField("时间")

    class Meta:
        verbose_name = "授信额度变更"
        verbose_name_plural = "授信额度变更"
        ordering = ["line", "at", "id"]

    def __str__(self) -> str:
        return self.get_action_display()


class LinePreapproval(models.Model):
    """A campaign's APPROVE decisions turned into pre-approved lines (预授信批次): one run of the
    idempotent batch; a second run of the same campaign creates only what the first did not."""

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    tenant_bank_field = "bank"
    tenant_village_field = "campaign__village"

    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="+", verbose_name="整村授信活动"
    )
    requested_by = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="+", verbose_name="发起人"
    )
    status = models.CharField("状态", max_length=8, choices=Status.choices, default="pending")
    decisions = models.PositiveIntegerField("通过的决策", default=0)
    created = models.PositiveIntegerField("新增预授信", default=0)
    already = models.PositiveIntegerField("已有额度(未重复)", default=0)
    error = models.CharField("失败原因", max_length=300, blank=True)
    created_at = models.DateTimeField("发起时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "预授信批次"
        verbose_name_plural = "预授信批次"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.campaign.name}预授信"
