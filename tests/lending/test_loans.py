"""Drawing on a line and the disbursement: the money lands in the borrower's account once,
whatever fails, retries or runs twice; the journal and the loan agree."""

from __future__ import annotations

import contextlib
import threading
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from lending.corebank.gateway import core_gateway
from lending.corebank.models import SandboxDepositTransaction
from lending.ledger.models import Account, JournalEntry
from lending.ledger.selectors import loan_balances
from lending.lines.models import CreditLine
from lending.loans import services
from lending.loans.models import Instalment, Loan, LoanStatus, LoanTransaction
from lending.loans.services import _disbursement

D = Decimal


def _not_asked(execute):
    """In place of ``django_capture_on_commit_callbacks``: the drawdown's request for its
    disbursement is not run, the test asks for it itself."""
    return contextlib.nullcontext()


def _draw(active_line, capture, **overrides):
    values = {
        "line": active_line["line"],
        "amount": "20000",
        "term_months": 12,
        "method": "equal_instalment",
        "deposit_account": active_line["account"].account,
        "client_uuid": uuid.uuid4(),
        "actor": active_line["am"],
        "purpose": "购买化肥",
    }
    values.update(overrides)
    with capture(execute=True):
        return services.loan_drawdown(**values)


def test_a_drawdown_is_paid_into_the_account_with_its_schedule_and_journal(
    active_line, django_capture_on_commit_callbacks
):
    loan, created = _draw(active_line, django_capture_on_commit_callbacks)
    assert created
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
    assert loan.principal_outstanding == D("20000.00")
    assert core_gateway().balance(active_line["account"].account) == D("20000.00")
    instalments = list(Instalment.objects.filter(loan=loan))
    assert len(instalments) == 12
    assert sum(i.principal_due for i in instalments) == D("20000.00")
    assert loan_balances(loan.pk) == {
        Account.LOAN_PRINCIPAL: D("20000.00"),
        Account.CORE_CLEARING: D("-20000.00"),
    }
    assert LoanTransaction.objects.get(loan=loan).core_id.startswith("SBX")
    line = CreditLine.objects.get(pk=active_line["line"].pk)
    assert line.drawn == D("20000.00")
    assert [(e.from_status, e.to_status) for e in loan.events.order_by("id")] == [
        ("pending", "pending"),
        ("pending", "disbursing"),
        ("disbursing", "active"),
    ]
    assert all(e.actor is not None for e in loan.events.all()[:1])


def test_a_resent_drawdown_is_the_same_loan(active_line, django_capture_on_commit_callbacks):
    key = uuid.uuid4()
    first, _ = _draw(active_line, django_capture_on_commit_callbacks, client_uuid=key)
    again, created = _draw(active_line, django_capture_on_commit_callbacks, client_uuid=key)
    assert not created
    assert again.pk == first.pk
    with pytest.raises(ValidationError) as refused:
        _draw(active_line, django_capture_on_commit_callbacks, client_uuid=key, amount="1000")
    assert "client_uuid" in refused.value.message_dict
    assert SandboxDepositTransaction.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "50000.01"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "100.001"}, "amount"),
        ({"term_months": 480}, "term_months"),
        ({"method": "revolving_weekly"}, "method"),
        ({"deposit_account": "6229000000000000000"}, "deposit_account"),
        ({"deposit_account": "abc"}, "deposit_account"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_bad_drawdowns_name_the_field_and_change_nothing(
    active_line, django_capture_on_commit_callbacks, overrides, field
):
    with pytest.raises(ValidationError) as refused:
        _draw(active_line, django_capture_on_commit_callbacks, **overrides)
    assert field in refused.value.message_dict
    assert not Loan.objects.exists()
    assert CreditLine.objects.get(pk=active_line["line"].pk).drawn == 0


def test_an_account_of_someone_else_is_refused(active_line, django_capture_on_commit_callbacks):
    from lending.corebank.services import sandbox_account_open

    other = sandbox_account_open(bank_id=active_line["line"].bank_id, holder_name="另一人")
    with pytest.raises(ValidationError, match="户名"):
        _draw(active_line, django_capture_on_commit_callbacks, deposit_account=other.account)


def test_a_refused_disbursement_is_kept_with_its_reason_then_cancelled(
    active_line, django_capture_on_commit_callbacks
):
    account = active_line["account"]
    loan, _ = _draw(active_line, _not_asked)
    assert loan.status == LoanStatus.PENDING
    account.status = "frozen"
    account.save(update_fields=["status"])
    services.loan_disburse(loan_id=loan.pk)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.FAILED
    assert "冻结" in loan.disbursement_error
    assert not JournalEntry.objects.filter(loan_id=loan.pk).exists()

    services.loan_cancel(loan=loan, actor=active_line["admin"], reason="客户放弃用信")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.CANCELLED
    assert CreditLine.objects.get(pk=active_line["line"].pk).drawn == 0
    with pytest.raises(ValidationError, match="已撤销"):
        services.loan_disburse(loan_id=loan.pk)


def test_a_core_outage_leaves_the_loan_disbursing_and_the_retry_pays_once(
    active_line, django_capture_on_commit_callbacks
):
    loan, _ = _draw(active_line, _not_asked)
    with override_settings(SANDBOX_CORE_OUTAGE=True), pytest.raises(Exception, match="暂停服务"):
        services.loan_disburse(loan_id=loan.pk)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.DISBURSING
    services.loan_disburse(loan_id=loan.pk)
    services.loan_disburse(loan_id=loan.pk)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
    assert (
        SandboxDepositTransaction.objects.filter(deposit_account=active_line["account"]).count()
        == 1
    )
    assert JournalEntry.objects.filter(loan_id=loan.pk).count() == 1


def test_a_crash_after_the_core_paid_is_posted_once_by_the_retry(active_line, monkeypatch):
    loan, _ = _draw(active_line, _not_asked)
    real = _disbursement._post_disbursement

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed after the core answered")

    monkeypatch.setattr(_disbursement, "_post_disbursement", crash)
    with pytest.raises(RuntimeError):
        services.loan_disburse(loan_id=loan.pk)
    monkeypatch.setattr(_disbursement, "_post_disbursement", real)
    services.loan_disburse(loan_id=loan.pk)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
    assert core_gateway().balance(active_line["account"].account) == D("20000.00")
    assert SandboxDepositTransaction.objects.count() == 1
    assert JournalEntry.objects.filter(loan_id=loan.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_disbursements_of_one_loan_pay_once(active_line, monkeypatch):
    # Committed for real here, so the drawdown's own request is held back: all twenty start
    # from a loan still waiting for its money.
    monkeypatch.setattr(_disbursement, "_enqueue_disbursement", lambda loan_id: None)
    loan, _ = _draw(active_line, _not_asked)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.PENDING
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def disburse():
        try:
            barrier.wait()
            services.loan_disburse(loan_id=loan.pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=disburse) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
    assert SandboxDepositTransaction.objects.count() == 1
    assert JournalEntry.objects.filter(loan_id=loan.pk).count() == 1
    assert LoanTransaction.objects.filter(loan=loan).count() == 1
