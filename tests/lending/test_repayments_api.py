"""Repaying over the API: the quote, a repayment with its Idempotency-Key (replayed, 422 on
another body), 409 for a closed loan and, with a Retry-After, for a loan the close of business
holds; many concurrent duplicates post once per key."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from lending.corebank.gateway import core_gateway
from lending.loans.models import BatchLock, Loan, LoanTransaction
from lending.loans.selectors import loans_out_of_balance
from tests.lending.servicing_setup import at, draw

D = Decimal


def _url(loan, what="repayments"):
    return f"/api/v1/loans/{loan.pk}/{what}/"


def test_a_pad_reads_the_quote_and_repays_once(loan, login_as):
    client = login_as("b1_am2")
    with at("2027-02-15"):
        quote = client.get(_url(loan, "quote"))
        assert quote.status_code == 200, quote.content
        assert quote.json()["due"] == "1025.17"
        assert quote.json()["payoff"] == "12044.95"
        body = {"amount": "1025.17"}
        key = str(uuid.uuid4())
        first = client.post(_url(loan), body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert first.status_code == 201, first.content
        replay = client.post(_url(loan), body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert replay.status_code == 201
        assert replay.json() == first.json()
        assert replay.headers["Idempotent-Replayed"] == "true"
        other = client.post(_url(loan), {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert other.status_code == 422
        no_key = client.post(_url(loan), body, format="json")
        assert no_key.status_code == 400
    assert first.json()["interest"] == "44.95"
    assert first.json()["principal"] == "980.22"
    assert LoanTransaction.objects.filter(loan=loan, kind="repayment").count() == 1
    detail = client.get(f"/api/v1/loans/{loan.pk}/").json()
    assert detail["principal_outstanding"] == "11019.78"
    assert detail["instalments"][0]["principal_paid"] == "980.22"


def test_bad_amounts_name_the_field_and_a_closed_loan_is_a_conflict(loan, login_as):
    client = login_as("b1_am2")
    with at("2027-02-15"):
        for amount in ("0", "-1", "0.001", "99999"):
            answer = client.post(
                _url(loan),
                {"amount": amount},
                format="json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            assert answer.status_code == 400, (amount, answer.content)
            assert "amount" in answer.json()["fields"]
    with at("2027-02-15"):
        admin = login_as("b1_admin")
        paid = admin.post(
            _url(loan),
            {"amount": "12044.95", "kind": "payoff", "channel": "counter"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        assert paid.status_code == 201, paid.content
        closed = admin.post(
            _url(loan), {"amount": "10.00"}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
        )
    assert closed.status_code == 409
    assert Loan.objects.get(pk=loan.pk).status == "closed"


@pytest.mark.django_db(transaction=True)
def test_a_loan_the_close_of_business_holds_answers_409_with_a_retry_hint(
    loan,
    login_as,
):
    BatchLock.objects.create(
        bank_id=loan.bank_id,
        first_loan_id=loan.pk,
        last_loan_id=loan.pk,
        business_date="2027-02-14",
    )
    held = threading.Event()
    release = threading.Event()

    def chunk_worker():
        with transaction.atomic():
            Loan.objects.select_for_update().get(pk=loan.pk)
            held.set()
            release.wait(10)
        connection.close()

    worker = threading.Thread(target=chunk_worker)
    worker.start()
    held.wait(5)
    client = login_as("b1_am2")
    key = str(uuid.uuid4())
    try:
        with at("2027-02-15"):
            busy = client.post(
                _url(loan), {"amount": "1025.17"}, format="json", HTTP_IDEMPOTENCY_KEY=key
            )
    finally:
        release.set()
        worker.join()
    assert busy.status_code == 409, busy.content
    assert busy.headers["Retry-After"] == "5"
    assert busy.json()["code"] == "loan_busy"
    # The key was not spent on the 409: the retry posts.
    BatchLock.objects.all().delete()
    with at("2027-02-15"):
        retried = client.post(
            _url(loan), {"amount": "1025.17"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
    assert retried.status_code == 201, retried.content


def _concurrently(calls, width: int = 20) -> tuple[list, list]:
    """Run the calls on ``width`` threads at once; (results, errors)."""
    from concurrent.futures import ThreadPoolExecutor

    results, errors = [], []
    barrier = threading.Barrier(width)

    def run(call):
        try:
            barrier.wait(30)
            return call()
        except Exception as error:
            errors.append(error)
            return None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(width) as pool:
        results = list(pool.map(run, calls))
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_fifty_keys_of_twenty_concurrent_duplicates_post_once_each(loan, active_line):
    from lending.loans import services

    def repay(key):
        def call():
            with at("2027-02-15"):
                txn, _ = services.loan_repay(
                    loan=Loan.objects.get(pk=loan.pk),
                    amount="1.00",
                    key=key,
                    actor=active_line["admin"],
                    channel="mobile_banking",
                )
            return txn.pk

        return call

    for n in range(50):
        key = f"K{n}"
        answers, errors = _concurrently([repay(key)] * 20)
        assert errors == []
        assert len(set(answers)) == 1, key  # every duplicate answers the one posting
    assert LoanTransaction.objects.filter(loan=loan, kind="repayment").count() == 50
    # One collection per key in the core, one posting per key in the books.
    account = active_line["account"].account
    assert core_gateway().balance(account) == D("12000.00") - 50
    assert loans_out_of_balance(loan_ids=[loan.pk]) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_repayments_end_as_the_same_ones_made_one_after_another(
    loan, active_line, django_capture_on_commit_callbacks
):
    from lending.loans import services

    twin = draw(active_line, django_capture_on_commit_callbacks)
    amounts = ["100.00", "200.00", "25.17", "300.00", "400.00"]

    def repay(target, n, amount):
        def call():
            with at("2027-02-15"):
                services.loan_repay(
                    loan=Loan.objects.get(pk=target.pk),
                    amount=amount,
                    key=f"P{target.pk}-{n}",
                    actor=active_line["admin"],
                )

        return call

    _, errors = _concurrently([repay(loan, n, a) for n, a in enumerate(amounts)], width=5)
    assert errors == []
    for n, amount in enumerate(amounts):
        repay(twin, n, amount)()
    fields = ("principal_outstanding", "interest_outstanding", "principal_due", "interest_due")
    together = Loan.objects.filter(pk=loan.pk).values_list(*fields).get()
    in_turn = Loan.objects.filter(pk=twin.pk).values_list(*fields).get()
    assert together == in_turn
    assert together[2:] == (D("0.00"), D("0.00"))  # 1,025.17 due, all paid
    assert loans_out_of_balance(loan_ids=[loan.pk, twin.pk]) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_post_once_per_key(loan, active_line):
    from lending.loans import services

    keys = [f"K{n}" for n in range(10)]
    barrier = threading.Barrier(8)
    errors = []

    def send(key):
        try:
            barrier.wait(10)
            with at("2027-02-15"):
                services.loan_repay(
                    loan=Loan.objects.get(pk=loan.pk),
                    amount="1.00",
                    key=key,
                    actor=active_line["admin"],
                    channel="mobile_banking",
                )
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    for key in keys:
        threads = [threading.Thread(target=send, args=(key,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert LoanTransaction.objects.filter(loan=loan, kind="repayment").count() == 10
    # One collection per key in the core, one posting per key in the books.
    account = active_line["account"].account
    assert core_gateway().balance(account) == D("12000.00") - 10
    assert loans_out_of_balance(loan_ids=[loan.pk]) == []
