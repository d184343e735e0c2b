"""Loans over the API (PAD and self-service): names and masked accounts, no ID numbers."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.masking import mask_account
from lending.ledger.models import Account, EntryKind, JournalLine
from lending.loans.models import (
    Instalment,
    Loan,
    LoanEvent,
    LoanTransaction,
    TransactionKind,
)
from lending.loans.services import RESCHEDULES
from products.models import Channel
from products.schedule import RepaymentMethod


class DrawdownInput(serializers.Serializer):
    client_uuid = serializers.UUIDField(help_text="PAD 生成的编号：离线重发同一笔用信只记一次")
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    term_months = serializers.IntegerField(min_value=1, max_value=360)
    method = serializers.ChoiceField(choices=RepaymentMethod.choices)
    deposit_account = serializers.CharField(max_length=32)
    purpose = serializers.CharField(max_length=100, required=False, allow_blank=True)
    borrower = serializers.IntegerField(required=False, help_text="借款成员；分额度为其所属成员")
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.PAD)


class RepaymentInput(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    kind = serializers.ChoiceField(
        choices=[
            (TransactionKind.REPAYMENT, TransactionKind.REPAYMENT.label),
            (TransactionKind.PREPAYMENT, TransactionKind.PREPAYMENT.label),
            (TransactionKind.PAYOFF, TransactionKind.PAYOFF.label),
        ],
        default=TransactionKind.REPAYMENT,
    )
    channel = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in Channel], default=Channel.MOBILE_BANKING
    )
    reschedule = serializers.ChoiceField(
        choices=list(RESCHEDULES.items()),
        required=False,
        help_text="提前还款后：reamortise 期限不变、月供减少；shorten 月供不变、期限缩短",
    )
    value_date = serializers.DateField(required=False, help_text="入账日，默认今日(北京时间)")


class RepaymentQuoteSerializer(serializers.Serializer):
    on = serializers.DateField(help_text="报价日(今日)")
    penalty = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="罚息及复利")
    interest_due = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text="已结未还利息"
    )
    principal_due = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text="到期未还本金"
    )
    due = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="今日应还")
    interest_to_date = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text="截至昨日的全部应收利息"
    )
    principal_outstanding = serializers.DecimalField(max_digits=18, decimal_places=2)
    payoff = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="提前结清金额")


class LoanInstalmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instalment
        fields = [
            "number",
            "period_start",
            "due_date",
            "principal_due",
            "interest_due",
            "principal_paid",
            "interest_paid",
            "interest_settled",
        ]


class LoanTransactionSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")

    class Meta:
        model = LoanTransaction
        fields = [
            "id",
            "kind",
            "kind_label",
            "value_date",
            "amount",
            "principal",
            "interest",
            "penalty",
            "to_suspense",
            "channel",
            "reversed",
        ]


class LoanEventSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.full_name", default="")

    class Meta:
        model = LoanEvent
        fields = ["from_status", "to_status", "actor_name", "comment", "at"]


class LoanSerializer(serializers.ModelSerializer):
    borrower_name = serializers.CharField(source="borrower.name")
    product_name = serializers.CharField(source="product.name")
    status_label = serializers.CharField(source="get_status_display")
    loan_class_label = serializers.CharField(source="get_loan_class_display")
    deposit_account = serializers.SerializerMethodField()

    class Meta:
        model = Loan
        fields = [
            "id",
            "household",
            "borrower",
            "borrower_name",
            "line",
            "product",
            "product_name",
            "amount",
            "rate",
            "method",
            "term_months",
            "purpose",
            "deposit_account",
            "start_date",
            "maturity_date",
            "status",
            "status_label",
            "disbursement_error",
            "principal_outstanding",
            "interest_outstanding",
            "penalty_outstanding",
            "principal_due",
            "interest_due",
            "principal_overdue",
            "interest_overdue",
            "suspense_balance",
            "accrued_through",
            "days_past_due",
            "loan_class",
            "loan_class_label",
        ]

    def get_deposit_account(self, obj) -> str:
        return mask_account(obj.deposit_account)


class JournalLineSerializer(serializers.Serializer):
    """One line of the loan's journal (会计分录): debit positive, credit negative."""

    value_date = serializers.DateField()
    kind = serializers.IntegerField()
    kind_label = serializers.CharField()
    account = serializers.IntegerField()
    account_label = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)


def _journal(loan_id: int) -> list[dict]:
    """The loan's journal lines in date order, one query, shaped without a serializer per line
    (a loan of two years has some 1,400 accrual lines)."""
    kinds, accounts = dict(EntryKind.choices), dict(Account.choices)
    rows = (
        JournalLine.objects.filter(loan_id=loan_id)
        .order_by("entry__value_date", "entry_id", "id")
        .values_list("entry__value_date", "entry__kind", "account", "amount")
    )
    return [
        {
            "value_date": day.isoformat(),
            "kind": kind,
            "kind_label": kinds[kind],
            "account": account,
            "account_label": accounts[account],
            "amount": f"{amount:.2f}",
        }
        for day, kind, account, amount in rows
    ]


class LoanDetailSerializer(LoanSerializer):
    instalments = LoanInstalmentSerializer(many=True)
    transactions = LoanTransactionSerializer(many=True)
    events = LoanEventSerializer(many=True)
    journal = serializers.SerializerMethodField()

    class Meta(LoanSerializer.Meta):
        fields = [*LoanSerializer.Meta.fields, "instalments", "transactions", "events", "journal"]

    @extend_schema_field(JournalLineSerializer(many=True))
    def get_journal(self, obj) -> list[dict]:
        return _journal(obj.pk)
