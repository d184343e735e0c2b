"""Back-dated repayments and reversals by reverse-replay: the loan ends exactly where it would
have been had the payment been made on its date (or never made), the journal keeps every
posting, and nothing is lost."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from lending.ledger.models import Account
from lending.ledger.selectors import loan_balances
from lending.lines.models import CreditLine
from lending.loans import services
from lending.loans.models import Loan
from lending.loans.selectors import loans_out_of_balance
from tests.lending.servicing_setup import at, draw

D = Decimal
FIELDS = (
    "principal_outstanding",
    "interest_outstanding",
    "penalty_outstanding",
    "principal_due",
    "interest_due",
    "days_past_due",
    "loan_class",
)


@pytest.fixture
def twin(active_line, django_capture_on_commit_callbacks):
    """A second loan like ``loan`` (same amount, date, terms), to compare with."""
    return draw(active_line, django_capture_on_commit_callbacks)


def _state(loan) -> tuple:
    loan = Loan.objects.get(pk=loan.pk)
    return tuple(getattr(loan, name) for name in FIELDS)


def _pay(loan, amount, actor, key, **kwargs):
    return services.loan_repay(
        loan=Loan.objects.get(pk=loan.pk), amount=amount, key=key, actor=actor, **kwargs
    )


def test_a_back_dated_repayment_leaves_the_loan_as_if_paid_on_its_date(loan, twin, active_line):
    admin = active_line["admin"]
    with at("2027-02-15"):
        _pay(twin, "1025.17", admin, "on-time")
    with at("2027-03-01"):
        services.loan_quote(loan=loan)  # the unpaid one is overdue, penalty running
        late, created = _pay(
            loan, "1025.17", admin, "slip-0215", value_date=datetime.date(2027, 2, 15)
        )
        again, created_again = _pay(
            loan, "1025.17", admin, "slip-0215", value_date=datetime.date(2027, 2, 15)
        )
        # Both brought to the close of 28 February.
        services.loan_quote(loan=twin)
        from django.db import transaction

        from lending.loans.services._repayments import _lock_for_posting, _up_to_date

        with transaction.atomic():
            _up_to_date(_lock_for_posting(twin.pk), datetime.date(2027, 3, 1))
            _up_to_date(_lock_for_posting(loan.pk), datetime.date(2027, 3, 1))
    assert created
    assert not created_again
    assert again.pk == late.pk
    assert late.value_date == datetime.date(2027, 2, 15)
    assert (late.interest, late.principal, late.penalty) == (D("44.95"), D("980.22"), D("0"))
    assert _state(loan) == _state(twin)
    assert Loan.objects.get(pk=loan.pk).penalty_outstanding == 0
    assert loans_out_of_balance(loan_ids=[loan.pk, twin.pk]) == []
    # The line got the principal back once.
    assert CreditLine.objects.get(pk=active_line["line"].pk).drawn == D("24000.00") - 2 * D(
        "980.22"
    )


def test_a_reversed_repayment_leaves_the_loan_as_if_never_paid_and_holds_the_money(
    loan, twin, active_line
):
    admin = active_line["admin"]
    with at("2027-02-15"):
        paid, _ = _pay(loan, "1025.17", admin, "wrong-loan")
    with at("2027-02-25"):
        with pytest.raises(ValidationError):
            services.loan_transaction_reverse(txn=paid, actor=admin, reason="")
        held = services.loan_transaction_reverse(txn=paid, actor=admin, reason="记错贷款")
        from django.db import transaction

        from lending.loans.services._repayments import _lock_for_posting, _up_to_date

        with transaction.atomic():
            _up_to_date(_lock_for_posting(twin.pk), datetime.date(2027, 2, 25))
        with pytest.raises(services.LoanConflict):
            services.loan_transaction_reverse(txn=paid, actor=admin, reason="再次")
    paid.refresh_from_db()
    assert paid.reversed
    assert _state(loan) == _state(twin)
    loan.refresh_from_db()
    assert loan.days_past_due > 0
    assert loan.penalty_outstanding > 0
    assert loan.suspense_balance == D("1025.17") == held.amount
    assert loan_balances(loan.pk)[Account.SUSPENSE] == D("-1025.17")
    assert loans_out_of_balance(loan_ids=[loan.pk]) == []
    assert CreditLine.objects.get(pk=active_line["line"].pk).drawn == D("24000.00")
    assert loan.events.filter(comment__contains="冲正重算").exists()
