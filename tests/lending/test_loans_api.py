"""用信 over the API: a PAD draws on a line (201, then 200 on a resend), reads the loan with its
schedule and a masked account; another bank's line is a 404; bad input names the field."""

from __future__ import annotations

import uuid

from lending.corebank.gateway import core_gateway
from lending.loans.models import Loan, LoanStatus


def _body(active_line, **overrides):
    return {
        "client_uuid": str(uuid.uuid4()),
        "amount": "8000.00",
        "term_months": 6,
        "method": "equal_instalment",
        "deposit_account": active_line["account"].account,
        "purpose": "购买饲料",
        **overrides,
    }


def test_a_pad_draws_on_a_line_and_reads_the_loan(
    active_line, login_as, django_capture_on_commit_callbacks
):
    client = login_as("b1_am2")
    url = f"/api/v1/credit-lines/{active_line['line'].pk}/drawdowns/"
    body = _body(active_line)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert created.status_code == 201, created.content
    loan = Loan.objects.get()
    assert loan.status == LoanStatus.ACTIVE
    resent = client.post(url, body, format="json")
    assert resent.status_code == 200
    assert resent.json()["id"] == created.json()["id"]

    detail = client.get(f"/api/v1/loans/{loan.pk}/").json()
    assert detail["status_label"] == "正常"
    assert len(detail["instalments"]) == 6
    assert (
        detail["deposit_account"]
        == active_line["account"].account[:4] + "****" + active_line["account"].account[-4:]
    )
    assert active_line["account"].account not in str(detail)
    assert [row["kind_label"] for row in detail["transactions"]] == ["放款"]
    listed = client.get("/api/v1/loans/").json()
    assert [row["id"] for row in listed["results"]] == [loan.pk]
    assert core_gateway().balance(active_line["account"].account) == loan.amount


def test_bad_drawdowns_and_foreign_lines(active_line, login_as):
    client = login_as("b1_am2")
    url = f"/api/v1/credit-lines/{active_line['line'].pk}/drawdowns/"
    too_much = client.post(url, _body(active_line, amount="60000"), format="json")
    assert too_much.status_code == 400
    assert "amount" in too_much.json()["fields"]
    no_account = client.post(url, _body(active_line, deposit_account=""), format="json")
    assert no_account.status_code == 400
    assert "deposit_account" in no_account.json()["fields"]
    assert not Loan.objects.exists()

    stranger = login_as("b2_am1")
    assert stranger.post(url, _body(active_line), format="json").status_code == 404
    assert not Loan.objects.exists()


def test_a_drawdown_during_a_core_outage_is_accepted_and_paid_later(
    active_line, login_as, django_capture_on_commit_callbacks, settings
):
    from lending.loans import services

    settings.SANDBOX_CORE_OUTAGE = True
    client = login_as("b1_am2")
    url = f"/api/v1/credit-lines/{active_line['line'].pk}/drawdowns/"
    settings.SANDBOX_CORE_OUTAGE = False  # the account check at drawdown reaches the core
    body = _body(active_line)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = client.post(url, body, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    settings.SANDBOX_CORE_OUTAGE = True
    for callback in callbacks:
        callback()  # the task's retries give up quietly: the loan waits 放款中
    loan = Loan.objects.get()
    assert loan.status == LoanStatus.DISBURSING
    settings.SANDBOX_CORE_OUTAGE = False
    services.loan_disburse(loan_id=loan.pk)
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
