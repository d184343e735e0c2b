"""Repayments: what is due, paying it at the counter or from the account, prepaying, paying off;
the inline close of business before a posting; every bad request refused with nothing changed."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from lending.corebank.gateway import core_gateway
from lending.corebank.models import SandboxDepositTransaction
from lending.ledger.models import Account, JournalEntry
from lending.ledger.selectors import loan_balances
from lending.lines.models import CreditLine
from lending.loans import services
from lending.loans.accrual import loans_close_day
from lending.loans.models import Instalment, Loan, LoanStatus, LoanTransaction
from lending.loans.selectors import loans_out_of_balance
from tests.lending.servicing_setup import at

D = Decimal
SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def _repay(loan, amount, *, actor, key=None, **kwargs):
    return services.loan_repay(
        loan=Loan.objects.get(pk=loan.pk),
        amount=amount,
        key=key or str(uuid.uuid4()),
        actor=actor,
        **kwargs,
    )


def _books_agree(loan):
    assert loans_out_of_balance(loan_ids=[loan.pk]) == []
    loan.refresh_from_db()
    remaining = sum((i.principal_due - i.principal_paid for i in loan.instalments.all()), D("0"))
    assert remaining == loan.principal_outstanding


def test_on_the_due_date_the_quote_is_the_instalment_with_interest_by_days(loan):
    with at("2027-02-15"):
        quote = services.loan_quote(loan=loan)
    # 31 days × 12,000 × 4.35 % ÷ 360 = 44.95
    assert (quote.principal_due, quote.interest_due, quote.penalty) == (
        D("980.22"),
        D("44.95"),
        D("0.00"),
    )
    assert quote.due == D("1025.17")
    assert quote.payoff == D("12044.95")
    # A quote writes nothing: the loan is still where the close of business left it.
    loan.refresh_from_db()
    assert loan.accrued_through == datetime.date(2027, 1, 14)
    assert not JournalEntry.objects.filter(kind=3).exists()


def test_a_counter_repayment_pays_the_instalment_and_gives_the_line_back(loan, active_line):
    with at("2027-02-15"):
        txn, created = _repay(loan, "1025.17", actor=active_line["admin"])
    assert created
    assert (txn.penalty, txn.interest, txn.principal) == (D("0"), D("44.95"), D("980.22"))
    loan.refresh_from_db()
    assert loan.principal_outstanding == D("11019.78")
    assert (loan.interest_outstanding, loan.principal_due, loan.interest_due) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )
    first = loan.instalments.get(number=1)
    assert (first.principal_paid, first.interest_paid, first.interest_due) == (
        D("980.22"),
        D("44.95"),
        D("44.95"),
    )
    assert loan_balances(loan.pk)[Account.CASH] == D("1025.17")
    assert CreditLine.objects.get(pk=active_line["line"].pk).drawn == D("11019.78")
    _books_agree(loan)


def test_an_unpaid_instalment_turns_overdue_after_grace_and_draws_penalty(loan, active_line):
    assert loan.grace_days == 3
    assert loan.penalty_markup_pct == D("50")
    with at("2027-02-20"):
        quote = services.loan_quote(loan=loan)
        # The quote rolled back its catch-up; a repayment keeps it.
        txn, _ = _repay(loan, "0.19", actor=active_line["admin"])
    loan.refresh_from_db()
    # Overdue from the close of 18 February (15th + 3 grace days). For the 19th, at 4.35 % ×
    # 1.5 ÷ 360: penalty on the 980.22 principal 0.1777 → 0.18, compound interest on the 44.95
    # interest 0.0081 → 0.01; five days past due at the close of the 19th.
    assert quote.penalty == D("0.19")
    assert txn.penalty == D("0.19")
    assert loan.days_past_due == 5
    assert loan.loan_class == 2
    assert loan.overdue_since == datetime.date(2027, 2, 15)
    assert (loan.principal_overdue, loan.interest_overdue) == (D("980.22"), D("44.95"))
    # Interest of 15–19 February accrues but is not due yet.
    assert loan.interest_outstanding == D("44.95") + D("7.25")
    _books_agree(loan)


def test_paying_the_arrears_clears_days_past_due(loan, active_line):
    with at("2027-02-25"):
        quote = services.loan_quote(loan=loan)
        _repay(loan, quote.due, actor=active_line["admin"])
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.principal_overdue, loan.overdue_since) == (0, 0, None)
    assert loan.penalty_outstanding == 0
    _books_agree(loan)


def test_a_payoff_closes_the_loan_with_interest_to_the_day(loan, active_line):
    with at("2027-03-03"):
        quote = services.loan_quote(loan=loan)
        txn, _ = _repay(loan, quote.payoff, actor=active_line["admin"], kind="payoff")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.CLOSED
    assert (loan.principal_outstanding, loan.interest_outstanding, loan.penalty_outstanding) == (
        0,
        0,
        0,
    )
    assert txn.principal == D("12000.00")
    assert CreditLine.objects.get(pk=active_line["line"].pk).drawn == D("0.00")
    assert all(i.principal_paid == i.principal_due for i in loan.instalments.all())
    assert loan.events.filter(to_status="closed").exists()
    _books_agree(loan)


@pytest.mark.parametrize("mode", ["reamortise", "shorten"])
def test_a_prepayment_rebuilds_the_rest_of_the_schedule(loan, active_line, mode):
    with at("2027-02-15"):
        quote = services.loan_quote(loan=loan)
        _repay(
            loan,
            quote.due + D("5000"),
            actor=active_line["admin"],
            kind="prepayment",
            reschedule=mode,
        )
    loan.refresh_from_db()
    assert loan.principal_outstanding == D("6019.78")
    future = list(loan.instalments.filter(interest_settled=False).order_by("number"))
    assert sum(i.principal_due for i in future) == D("6019.78")
    assert future[0].number == 2
    payment = future[0].principal_due + future[0].interest_due
    if mode == "reamortise":  # the same eleven dates, smaller instalments
        assert len(future) == 11
        assert future[-1].due_date == datetime.date(2028, 1, 15) == loan.maturity_date
        assert payment == D("559.23")  # 6,019.78 over 11 months at 4.35 %
    else:  # about the same instalment, ended sooner
        assert len(future) < 11
        assert loan.maturity_date == future[-1].due_date < datetime.date(2028, 1, 15)
        assert D("900") < payment <= D("1023.72")
    _books_agree(loan)


def test_a_self_service_repayment_leaves_the_borrowers_account_once(loan, active_line):
    account = active_line["account"].account
    before = core_gateway().balance(account)
    with at("2027-02-15"):
        first, created = _repay(
            loan, "1025.17", actor=active_line["admin"], key="K-1", channel="mobile_banking"
        )
        again, created_again = _repay(
            loan, "1025.17", actor=active_line["admin"], key="K-1", channel="mobile_banking"
        )
    assert created
    assert not created_again
    assert first.pk == again.pk
    assert core_gateway().balance(account) == before - D("1025.17")
    assert SandboxDepositTransaction.objects.filter(deposit_account__account=account).count() == 2
    assert loan_balances(loan.pk)[Account.CORE_CLEARING] == D("-12000.00") + D("1025.17")
    assert first.core_id


def test_a_refused_collection_posts_nothing(loan, active_line):
    # The account holds the 12,000 paid out; paying off needs 12,044.95.
    with at("2027-02-15"), pytest.raises(ValidationError) as refused:
        _repay(
            loan,
            "12044.95",
            actor=active_line["admin"],
            channel="mobile_banking",
            kind="payoff",
        )
    assert "扣款失败" in str(refused.value)
    assert not LoanTransaction.objects.filter(loan=loan, kind="payoff").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "1025.18"}, "amount"),  # more than is due, product has no suspense
        ({"value_date": datetime.date(2027, 2, 16)}, "value_date"),
        ({"value_date": datetime.date(2027, 1, 10)}, "value_date"),
        ({"kind": "prepayment"}, "reschedule"),
        ({"kind": "payoff"}, "amount"),
        ({"channel": "pigeon"}, "channel"),
    ],
)
def test_bad_repayments_are_refused_with_the_field_named(loan, active_line, changes, field):
    values = {"amount": "1025.17", **changes}
    with at("2027-02-15"), pytest.raises(ValidationError) as refused:
        _repay(loan, actor=active_line["admin"], **values)
    assert field in refused.value.message_dict
    assert not LoanTransaction.objects.filter(loan=loan).exclude(kind="disbursement").exists()


def test_a_key_reused_for_another_amount_is_refused(loan, active_line):
    with at("2027-02-15"):
        _repay(loan, "44.95", actor=active_line["admin"], key="SLIP-7")
        with pytest.raises(ValidationError) as refused:
            _repay(loan, "45.00", actor=active_line["admin"], key="SLIP-7")
    assert "key" in refused.value.message_dict
    assert LoanTransaction.objects.filter(loan=loan, kind="repayment").count() == 1


def test_a_closed_loan_takes_no_repayment(loan, active_line):
    with at("2027-02-15"):
        quote = services.loan_quote(loan=loan)
        _repay(loan, quote.payoff, actor=active_line["admin"], kind="payoff")
        with pytest.raises(services.LoanConflict):
            _repay(loan, "10", actor=active_line["admin"])


def test_closing_a_day_again_writes_nothing(loan):
    day = datetime.date(2027, 1, 15)
    first = loans_close_day(bank_id=loan.bank_id, day=day, first_id=loan.pk, last_id=loan.pk)
    entries = JournalEntry.objects.count()
    again = loans_close_day(bank_id=loan.bank_id, day=day, first_id=loan.pk, last_id=loan.pk)
    assert first.accrued == 1
    assert again.as_dict() == {"accrued": 0, "settled": 0, "overdue": 0, "classified": 0}
    assert JournalEntry.objects.count() == entries
    loan.refresh_from_db()
    assert loan.interest_outstanding == D("1.45")


def test_staff_without_the_permission_cannot_take_a_repayment(loan, active_line):
    from django.contrib.auth import get_user_model

    risk_officer = get_user_model().objects.get(username="b1_risk")
    with at("2027-02-15"), pytest.raises(PermissionDenied, match="权限"):
        _repay(loan, "1025.17", actor=risk_officer)
    assert Instalment.objects.filter(loan=loan, principal_paid__gt=0).count() == 0


def test_the_auto_debit_takes_what_is_due_once_a_day(loan):
    with at("2027-02-15"):
        # The close of business settled the first instalment overnight.
        loans_close_day_through(loan, "2027-02-14")
        assert services.loans_auto_debit_due() == [loan.pk]
        first = services.loan_auto_debit(loan_id=loan.pk)
        again = services.loan_auto_debit(loan_id=loan.pk)
    assert first.pk == again.pk
    assert (first.amount, first.channel) == (D("1025.17"), "auto_debit")
    assert services.loans_auto_debit_due() == []


def loans_close_day_through(loan, day: str) -> None:
    """What the nightly close of business does for this loan, through ``day``."""
    from lending.loans.accrual import loan_catch_up

    locked = Loan.objects.get(pk=loan.pk)
    loan_catch_up(loan=locked, through=datetime.date.fromisoformat(day))


def test_more_than_is_due_is_held_in_suspense_where_the_product_says_so(loan, active_line):
    # The product's setting, pinned on the loan when it was drawn.
    Loan.objects.filter(pk=loan.pk).update(overpayment_to_suspense=True)
    with at("2027-02-15"):
        txn, _ = _repay(loan, "1100.00", actor=active_line["admin"])
    assert (txn.interest, txn.principal, txn.to_suspense) == (
        D("44.95"),
        D("980.22"),
        D("74.83"),
    )
    loan.refresh_from_db()
    assert loan.suspense_balance == D("74.83")
    assert loan_balances(loan.pk)[Account.SUSPENSE] == D("-74.83")
    _books_agree(loan)
