"""A loan is one drawdown on an active credit line (用信).

Its terms are pinned when drawn: product version, rate, repayment method, term. The schedule
is built from the products calculator when the money lands (the disbursement's value date is
the loan's start), one ``Instalment`` row per period. The loan keeps its outstanding principal,
interest and penalty for speed; the journal (``lending.ledger``) is the record, and
``loans_out_of_balance`` proves the two agree.

Status (django-fsm, protected): 待放款 → 放款中 (the core is being asked) → 正常 (disbursed) |
放款失败 (refused by the core, with the reason; retried or cancelled, which gives the line back)
→ … 已结清 / 已核销. Every change is a ``LoanEvent``: who, when, from, to and why.

``version`` counts the postings on the loan: every service that moves money locks the row
(``select_for_update``) and bumps it, so a reader can tell a changed loan from an unchanged one.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from lending.applications.models import Application
from lending.ledger.models import JournalEntry
from lending.lines.models import CreditLine
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from products.models import Channel, Product, ProductVersion
from products.schedule import AllocationOrder, RepaymentMethod
from villages.models import Household, Member

ZERO = Decimal("0.00")


class LoanStatus(models.TextChoices):
    PENDING = "pending", "待放款"
    DISBURSING = "disbursing", "放款中"
    FAILED = "failed", "放款失败"
    ACTIVE = "active", "正常"
    CLOSED = "closed", "已结清"
    CANCELLED = "cancelled", "已撤销"
    WRITTEN_OFF = "written_off", "已核销"


class LoanClass(models.IntegerChoices):
    """五级分类."""

    NORMAL = 1, "正常"
    SPECIAL_MENTION = 2, "关注"
    SUBSTANDARD = 3, "次级"
    DOUBTFUL = 4, "可疑"
    LOSS = 5, "损失"


class Loan(FSMModelMixin, models.Model):
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    # Every active loan's row is rewritten every night, so the table carries only the indexes
    # a page or a job reads by, and those a parent's delete needs (an application deleted must
    # not scan every loan to check none points at it): the product, version, staff and bank
    # rows are never deleted once a loan uses them (PROTECT), so their keys have none (the bank
    # is the first column of ``loan_client_uuid_once``); the pages keep room for the new
    # versions (fillfactor, migration 0010) so that most nightly updates touch no index at all.
    id = models.BigAutoField(primary_key=True)
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        db_index=False,
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="loans", verbose_name="农户"
    )
    borrower = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="loans", verbose_name="借款人"
    )
    line = models.ForeignKey(
        CreditLine, on_delete=models.PROTECT, related_name="loans", verbose_name="授信额度"
    )
    application = models.ForeignKey(
        Application,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="loans",
        verbose_name="贷款申请",
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name="产品", db_index=False
    )
    product_version = models.ForeignKey(
        ProductVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="产品版本",
        db_index=False,
    )
    client_uuid = models.UUIDField("客户端编号")
    channel = models.CharField("渠道", max_length=16, choices=Channel.choices)
    amount = models.DecimalField("借款金额", max_digits=18, decimal_places=2)
    rate = models.DecimalField("年利率(%)", max_digits=8, decimal_places=4)
    penalty_markup_pct = models.DecimalField("罚息上浮比例(%)", max_digits=6, decimal_places=2)
    compound_interest = models.BooleanField("逾期利息计收复利", default=False)
    grace_days = models.PositiveSmallIntegerField("宽限期(天)", default=0)
    method = models.CharField("还款方式", max_length=20, choices=RepaymentMethod.choices)
    frequency = models.CharField("还款频率", max_length=12)
    settlement = models.CharField("结息方式", max_length=20)
    term_months = models.PositiveSmallIntegerField("期限(月)")
    purpose = models.CharField("用途", max_length=100)
    deposit_account = models.CharField("放款/还款账号", max_length=32)
    start_date = models.DateField("起息日", null=True, blank=True)
    maturity_date = models.DateField("到期日", null=True, blank=True)
    status = FSMField(
        "状态",
        max_length=12,
        choices=LoanStatus.choices,
        default=LoanStatus.PENDING,
        protected=True,
    )
    disbursed_at = models.DateTimeField("放款时间", null=True, blank=True)
    disbursement_core_id = models.CharField("核心放款流水号", max_length=40, blank=True)
    disbursement_error = models.CharField("放款失败原因", max_length=200, blank=True)
    principal_outstanding = models.DecimalField(
        "本金余额", max_digits=18, decimal_places=2, default=ZERO
    )
    interest_outstanding = models.DecimalField(
        "应收未收利息", max_digits=18, decimal_places=2, default=ZERO
    )
    penalty_outstanding = models.DecimalField(
        "应收未收罚息", max_digits=18, decimal_places=2, default=ZERO
    )
    # What is due now, of the outstanding above: principal of instalments fallen due and
    # unpaid, interest settled (结息) and unpaid; the overdue parts are those past grace.
    principal_due = models.DecimalField(
        "到期未还本金", max_digits=18, decimal_places=2, default=ZERO
    )
    interest_due = models.DecimalField(
        "已结未还利息", max_digits=18, decimal_places=2, default=ZERO
    )
    principal_overdue = models.DecimalField(
        "逾期本金", max_digits=18, decimal_places=2, default=ZERO
    )
    interest_overdue = models.DecimalField(
        "逾期利息", max_digits=18, decimal_places=2, default=ZERO
    )
    # Interest not yet posted because it is less than a fen, kept exactly: in units of
    # 1/36000 yuan (principal × rate in percent), so that a day's interest plus the carry is a
    # terminating decimal. Each day posts the fen-rounded part and carries the rest, and the
    # posted total is always the exact total rounded half-up, never a sum of daily roundings.
    accrual_carry = models.DecimalField(
        "计息尾差(1/36000元)", max_digits=20, decimal_places=6, default=Decimal("0")
    )
    suspense_balance = models.DecimalField(
        "挂账余额", max_digits=18, decimal_places=2, default=ZERO
    )
    overdue_since = models.DateField("最早逾期应还日", null=True, blank=True)
    allocation_order = models.CharField(
        "还款冲销顺序",
        max_length=32,
        choices=AllocationOrder.choices,
        default=AllocationOrder.PENALTY_INTEREST_PRINCIPAL,
    )
    overpayment_to_suspense = models.BooleanField("超额还款挂账", default=False)
    auto_debit = models.BooleanField("到期自动扣款", default=True)
    accrued_through = models.DateField("已计息至", null=True, blank=True)
    days_past_due = models.PositiveIntegerField("逾期天数", default=0)
    loan_class = models.PositiveSmallIntegerField(
        "五级分类", choices=LoanClass.choices, default=LoanClass.NORMAL
    )
    # A class staff set by hand (人工认定): the automatic classification never goes above it.
    loan_class_floor = models.PositiveSmallIntegerField(
        "人工认定分类", choices=LoanClass.choices, null=True, blank=True
    )
    written_off = models.DecimalField(
        "核销金额", max_digits=18, decimal_places=2, default=ZERO, help_text="核销时的本息罚合计"
    )
    recovered = models.DecimalField("核销后收回", max_digits=18, decimal_places=2, default=ZERO)
    version = models.PositiveIntegerField("记账版本", default=0)
    created_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="经办",
        db_index=False,
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "贷款"
        verbose_name_plural = "贷款"
        ordering = ["-id"]
        permissions = [
            ("repay_loan", "办理还款"),
            ("disburse_loan", "办理放款"),
            ("classify_loan", "人工认定五级分类"),
            ("reverse_repayment", "冲正还款"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["bank", "client_uuid"], name="loan_client_uuid_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="loan_amount_positive"),
            models.CheckConstraint(
                condition=Q(principal_outstanding__gte=0)
                & Q(interest_outstanding__gte=0)
                & Q(penalty_outstanding__gte=0)
                & Q(suspense_balance__gte=0),
                name="loan_outstanding_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(principal_due__gte=0)
                & Q(principal_due__lte=models.F("principal_outstanding"))
                & Q(interest_due__gte=0)
                & Q(interest_due__lte=models.F("interest_outstanding"))
                & Q(principal_overdue__gte=0)
                & Q(principal_overdue__lte=models.F("principal_due"))
                & Q(interest_overdue__gte=0)
                & Q(interest_overdue__lte=models.F("interest_due")),
                name="loan_due_within_outstanding",
            ),
            models.CheckConstraint(
                condition=Q(principal_outstanding__lte=models.F("amount")),
                name="loan_principal_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "id"],
                name="loan_status_id",
                condition=Q(status="active"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.borrower.name} {Decimal(self.amount):,.2f}元 {self.get_method_display()}"

    # Transitions are called by lending.loans.services only, with the row locked.
    @transition(
        field=status, source=[LoanStatus.PENDING, LoanStatus.FAILED], target=LoanStatus.DISBURSING
    )
    def start_disbursement(self) -> None:
        pass

    @transition(field=status, source=LoanStatus.DISBURSING, target=LoanStatus.ACTIVE)
    def disbursed(self) -> None:
        pass

    @transition(field=status, source=LoanStatus.DISBURSING, target=LoanStatus.FAILED)
    def disbursement_failed(self) -> None:
        pass

    @transition(
        field=status, source=[LoanStatus.PENDING, LoanStatus.FAILED], target=LoanStatus.CANCELLED
    )
    def cancel(self) -> None:
        pass

    @transition(field=status, source=LoanStatus.ACTIVE, target=LoanStatus.CLOSED)
    def close(self) -> None:
        pass

    @transition(field=status, source=LoanStatus.ACTIVE, target=LoanStatus.WRITTEN_OFF)
    def write_off(self) -> None:
        pass

    @transition(field=status, source=LoanStatus.CLOSED, target=LoanStatus.ACTIVE)
    def reopen(self) -> None:
        """The payment that closed it was reversed or replayed into less."""


class Instalment(models.Model):
    """One period of the schedule (还款计划) and what has been paid of it."""

    id = models.BigAutoField(primary_key=True)
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="instalments", verbose_name="贷款"
    )
    number = models.PositiveSmallIntegerField("期次")
    period_start = models.DateField("起始日")
    due_date = models.DateField("应还日")
    principal_due = models.DecimalField("应还本金", max_digits=18, decimal_places=2)
    interest_due = models.DecimalField("应还利息", max_digits=18, decimal_places=2)
    principal_paid = models.DecimalField("已还本金", max_digits=18, decimal_places=2, default=ZERO)
    interest_paid = models.DecimalField("已还利息", max_digits=18, decimal_places=2, default=ZERO)
    # Until settlement ``interest_due`` is the calculator's projection; at settlement it becomes
    # the interest the borrower owes for the period.
    interest_settled = models.BooleanField("已结息", default=False)

    class Meta:
        verbose_name = "还款计划"
        verbose_name_plural = "还款计划"
        ordering = ["loan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="instalment_number_once"),
            models.CheckConstraint(
                condition=Q(principal_paid__lte=models.F("principal_due"))
                & Q(principal_paid__gte=0)
                & Q(interest_paid__gte=0),
                name="instalment_paid_within_due",
            ),
        ]
        indexes = [
            # The close of business settles the instalments falling due tomorrow: few rows of
            # a large table, found without reading every loan's schedule.
            models.Index(
                fields=["due_date", "loan"],
                name="instalment_unsettled_due",
                condition=Q(interest_settled=False),
            )
        ]

    def __str__(self) -> str:
        return f"第{self.number}期"


class TransactionKind(models.TextChoices):
    DISBURSEMENT = "disbursement", "放款"
    REPAYMENT = "repayment", "还款"
    PREPAYMENT = "prepayment", "提前还款"
    PAYOFF = "payoff", "提前结清"
    WRITE_OFF = "write_off", "核销"
    RECOVERY = "recovery", "核销后收回"
    HELD = "held", "冲正款挂账"


class TransactionChannel(models.TextChoices):
    """Where a movement came from: the product channels, and the bank's own auto-debit."""

    PAD = Channel.PAD.value, Channel.PAD.label
    MOBILE_BANKING = Channel.MOBILE_BANKING.value, Channel.MOBILE_BANKING.label
    WECHAT = Channel.WECHAT.value, Channel.WECHAT.label
    COUNTER = Channel.COUNTER.value, Channel.COUNTER.label
    PARTNER = Channel.PARTNER.value, Channel.PARTNER.label
    AUTO_DEBIT = "auto_debit", "到期自动扣款"
    BATCH = "batch", "日终批处理"


class LoanTransaction(models.Model):
    """A money movement on the loan as the borrower sees it (交易明细), with its journal entry;
    the accruals of the close of business are journal entries only."""

    id = models.BigAutoField(primary_key=True)
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="transactions", verbose_name="贷款"
    )
    kind = models.CharField("类型", max_length=14, choices=TransactionKind.choices)
    value_date = models.DateField("起息日")
    amount = models.DecimalField("金额", max_digits=18, decimal_places=2)
    principal = models.DecimalField("本金", max_digits=18, decimal_places=2, default=ZERO)
    interest = models.DecimalField("利息", max_digits=18, decimal_places=2, default=ZERO)
    penalty = models.DecimalField("罚息", max_digits=18, decimal_places=2, default=ZERO)
    to_suspense = models.DecimalField("挂账", max_digits=18, decimal_places=2, default=ZERO)
    reschedule = models.CharField("提前还款后", max_length=12, blank=True)
    channel = models.CharField(
        "渠道", max_length=16, choices=TransactionChannel.choices, blank=True
    )
    reference = models.CharField("业务参考号", max_length=120)
    core_id = models.CharField("核心流水号", max_length=40, blank=True)
    journal_entry = models.ForeignKey(
        JournalEntry,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="会计分录",
    )
    reversed = models.BooleanField("已冲正", default=False)
    actor = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="经办",
    )
    created_at = models.DateTimeField("记账时间", auto_now_add=True)

    class Meta:
        verbose_name = "贷款交易"
        verbose_name_plural = "贷款交易"
        ordering = ["loan", "value_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "reference"], name="loan_txn_reference_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class LoanEvent(models.Model):
    loan = models.ForeignKey(
        Loan, on_delete=models.CASCADE, related_name="events", verbose_name="贷款"
    )
    from_status = models.CharField("原状态", max_length=12, choices=LoanStatus.choices)
    to_status = models.CharField("新状态", max_length=12, choices=LoanStatus.choices)
    actor = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
    )
    comment = models.CharField("说明", max_length=300, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "贷款状态变更"
        verbose_name_plural = "贷款状态变更"
        ordering = ["loan", "at", "id"]

    def __str__(self) -> str:
        return f"{self.get_from_status_display()} → {self.get_to_status_display()}"


class BatchLock(models.Model):
    """The close of business holds these loans now (Fineract's hard lock): a repayment for one
    of them answers 409 with a retry hint instead of waiting behind a whole chunk.

    Written and removed by ``lending.cob`` (the row is committed before the chunk starts and
    deleted in the chunk's own transaction). A row left by a killed worker does not block
    anyone: a posting treats it as held only while the loan row is actually locked."""

    bank = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    first_loan_id = models.BigIntegerField("起始贷款")
    last_loan_id = models.BigIntegerField("结束贷款")
    business_date = models.DateField("业务日期")
    taken_at = models.DateTimeField("加锁时间", auto_now_add=True)

    class Meta:
        verbose_name = "日终批处理锁"
        verbose_name_plural = "日终批处理锁"
        indexes = [models.Index(fields=["bank", "first_loan_id"], name="batch_lock_range")]

    def __str__(self) -> str:
        return f"{self.business_date} {self.first_loan_id}–{self.last_loan_id}"


class WriteOffStatus(models.TextChoices):
    REQUESTED = "requested", "待审批"
    APPROVED = "approved", "已核销"
    REJECTED = "rejected", "已驳回"


class WriteOff(models.Model):
    """核销 with maker-checker: one member of staff asks for a loss-class loan to be written
    off, another approves it (never the same person); the amounts are those of the day it is
    approved. Recoveries afterwards post to recovery income (核销后收回)."""

    tenant_bank_field = "bank"
    tenant_village_field = "loan__household__village"

    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="write_offs", verbose_name="贷款"
    )
    status = models.CharField(
        "状态", max_length=10, choices=WriteOffStatus.choices, default=WriteOffStatus.REQUESTED
    )
    reason = models.CharField("核销理由", max_length=300)
    principal = models.DecimalField("核销本金", max_digits=18, decimal_places=2, default=ZERO)
    interest = models.DecimalField("核销利息", max_digits=18, decimal_places=2, default=ZERO)
    penalty = models.DecimalField("核销罚息", max_digits=18, decimal_places=2, default=ZERO)
    requested_by = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="+", verbose_name="申请人"
    )
    requested_at = models.DateTimeField("申请时间", auto_now_add=True)
    decided_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="审批人",
    )
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    decision_comment = models.CharField("审批意见", max_length=300, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "贷款核销"
        verbose_name_plural = "贷款核销"
        ordering = ["-requested_at"]
        permissions = [("approve_writeoff", "审批贷款核销")]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"], condition=Q(status="requested"), name="write_off_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.loan} 核销"
