"""Write-off with maker-checker and recoveries after it; the manual classification the close of
business never undoes."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from lending.ledger.models import Account
from lending.ledger.selectors import loan_balances
from lending.loans import services
from lending.loans.accrual import loans_close_day
from lending.loans.models import Loan, LoanStatus, WriteOffStatus
from lending.loans.selectors import loans_out_of_balance
from tests.lending.servicing_setup import at

D = Decimal


@pytest.fixture
def staff(db):
    users = get_user_model().objects
    return {"risk": users.get(username="b1_risk"), "admin": users.get(username="b1_admin")}


def test_a_manual_class_is_a_floor_the_close_of_business_keeps(loan, staff):
    with at("2027-02-01"):
        services.loan_classify(loan=loan, loan_class=3, actor=staff["risk"], reason="经营停产")
        with pytest.raises(ValidationError) as better:
            services.loan_classify(loan=loan, loan_class=2, actor=staff["risk"], reason="好转")
        assert "loan_class" in better.value.message_dict
    loan.refresh_from_db()
    loans_close_day(
        bank_id=loan.bank_id, day=datetime.date(2027, 1, 15), first_id=loan.pk, last_id=loan.pk
    )
    loan.refresh_from_db()
    assert (loan.loan_class, loan.loan_class_floor, loan.days_past_due) == (3, 3, 0)
    event = loan.events.order_by("-id").first()
    assert event.actor.user == staff["risk"]
    assert "正常→次级" in event.comment


def test_a_loss_loan_is_written_off_by_a_second_person_and_recovered(loan, staff):
    with at("2027-03-01"):
        with pytest.raises(ValidationError):  # not a loss-class loan yet
            services.loan_write_off_request(loan=loan, actor=staff["risk"], reason="借款人失联")
        services.loan_classify(loan=loan, loan_class=5, actor=staff["risk"], reason="借款人失联")
        request = services.loan_write_off_request(
            loan=Loan.objects.get(pk=loan.pk), actor=staff["risk"], reason="借款人失联"
        )
        with pytest.raises(PermissionDenied):  # the maker is not the checker
            services.loan_write_off_approve(write_off=request, actor=staff["risk"])
        services.loan_write_off_approve(write_off=request, actor=staff["admin"], comment="同意")
    request.refresh_from_db()
    loan.refresh_from_db()
    assert request.status == WriteOffStatus.APPROVED
    assert loan.status == LoanStatus.WRITTEN_OFF
    # Closed inline through 28 February first: the first instalment's interest (44.95) and
    # that of 15–28 February on 12,000, with penalty for the overdue days, all taken back.
    assert request.principal == D("12000.00")
    assert request.interest > D("44.95")
    assert loan.written_off == request.principal + request.interest + request.penalty
    assert (loan.principal_outstanding, loan.interest_outstanding, loan.penalty_outstanding) == (
        0,
        0,
        0,
    )
    balances = loan_balances(loan.pk)
    assert balances[Account.WRITE_OFF_EXPENSE] == D("12000.00")
    assert Account.INTEREST_INCOME not in balances  # accrued, then taken back: nothing earned
    assert loans_out_of_balance(loan_ids=[loan.pk]) == []
    assert loan.events.filter(to_status="written_off").exists()

    with at("2027-04-01"):
        with pytest.raises(services.LoanConflict):
            services.loan_repay(loan=loan, amount="10", key="late", actor=staff["admin"])
        txn, _ = services.loan_recover(loan=loan, amount="500", key="R1", actor=staff["admin"])
        again, created = services.loan_recover(
            loan=loan, amount="500", key="R1", actor=staff["admin"]
        )
        with pytest.raises(ValidationError) as too_much:
            services.loan_recover(loan=loan, amount="99999", key="R2", actor=staff["admin"])
    assert not created
    assert again.pk == txn.pk
    assert "amount" in too_much.value.message_dict
    loan.refresh_from_db()
    assert loan.recovered == D("500.00")
    assert loan_balances(loan.pk)[Account.RECOVERY_INCOME] == D("-500.00")
    assert loans_out_of_balance(loan_ids=[loan.pk]) == []
