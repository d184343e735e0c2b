"""The journal: every movement of money is one balanced entry of two or more lines.

Kept lean because it grows by millions of rows a night (an accrual line per loan per day):
accounts are small-integer codes, amounts are signed (debit positive, credit negative, so an
entry balances when its lines sum to zero), and a line carries its loan's id so that a loan's
balances are one indexed sum. The ledger sits below the loans (``lending.loans``), so the loan
is an id here, not a foreign key.

The database keeps the rules whatever code writes (the close of business writes with bare SQL):
- a statement that inserts lines must leave every entry it touched balanced (a statement-level
  trigger; an entry's lines always arrive in one statement);
- entries and lines are never updated or deleted: a mistake is undone by a reversing entry
  (``journal_reverse``), and the original stays readable.
"""

from __future__ import annotations

from django.db import models

from org.models import Institution, Staff
from org.tenancy import TenantQuerySet


class Account(models.IntegerChoices):
    """The chart of accounts the loan ledger posts to (科目), with the usual codes of a Chinese
    bank's general ledger."""

    CASH = 1001, "库存现金"
    CORE_CLEARING = 1011, "核心系统清算"
    LOAN_PRINCIPAL = 1303, "贷款本金"
    INTEREST_RECEIVABLE = 1132, "应收利息"
    PENALTY_RECEIVABLE = 1133, "应收罚息"
    WRITTEN_OFF_PRINCIPAL = 1399, "已核销贷款(表外备查)"
    SUSPENSE = 2241, "暂收款项(挂账)"
    INTEREST_INCOME = 6011, "利息收入"
    PENALTY_INCOME = 6012, "罚息收入"
    RECOVERY_INCOME = 6301, "核销收回"
    WRITE_OFF_EXPENSE = 6701, "贷款核销损失"


class EntryKind(models.IntegerChoices):
    DISBURSEMENT = 1, "放款"
    REPAYMENT = 2, "还款"
    ACCRUAL = 3, "计提利息"
    PENALTY = 4, "计提罚息"
    COMPOUND = 5, "计提复利"
    WRITE_OFF = 6, "核销"
    RECOVERY = 7, "核销后收回"
    SUSPENSE = 8, "挂账"
    REVERSAL = 9, "冲正"


class JournalEntry(models.Model):
    tenant_bank_field = "bank"

    id = models.BigAutoField(primary_key=True)
    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    loan_id = models.BigIntegerField("贷款", null=True, blank=True, db_index=True)
    kind = models.PositiveSmallIntegerField("类型", choices=EntryKind.choices)
    value_date = models.DateField("起息日(会计日)")
    posted_at = models.DateTimeField("记账时间", auto_now_add=True)
    # What makes a posting happen once: the same reference twice is the same posting (a
    # repayment's idempotency key, a loan's accrual for a date, a disbursement's gateway
    # reference).
    reference = models.CharField("业务参考号", max_length=120)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name="冲正的分录",
    )
    actor = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="经办",
    )
    memo = models.CharField("摘要", max_length=200, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "会计分录"
        verbose_name_plural = "会计分录"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["bank", "reference"], name="journal_reference_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value_date}"


class JournalLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="lines", verbose_name="分录"
    )
    account = models.PositiveSmallIntegerField("科目", choices=Account.choices)
    # Debit positive, credit negative.
    amount = models.DecimalField("金额(借正贷负)", max_digits=18, decimal_places=2)
    loan_id = models.BigIntegerField("贷款", null=True, blank=True)

    class Meta:
        verbose_name = "分录明细"
        verbose_name_plural = "分录明细"
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="journal_line_not_zero")
        ]
        indexes = [
            models.Index(
                fields=["loan_id", "account"],
                name="journal_line_loan_account",
                condition=models.Q(loan_id__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{Account(self.account).label} {self.amount}"

    @property
    def debit(self):
        return self.amount if self.amount > 0 else None

    @property
    def credit(self):
        return -self.amount if self.amount < 0 else None
