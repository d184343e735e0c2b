"""The close of business: a run in chunks closes the day for every active loan, the business
date moves on only when every chunk is done, a re-run writes nothing, bad runs are refused, and
a loan that fails is listed with its error and retried."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from lending.cob import services
from lending.cob.models import ChunkStatus, CobLoanFailure, CobRun, CobStatus
from lending.ledger.models import JournalEntry, JournalLine
from lending.loans import services as loan_services
from lending.loans.models import BatchLock, Loan
from lending.loans.selectors import loans_out_of_balance
from tests.lending.servicing_setup import at, draw

D = Decimal


@pytest.fixture
def loans(active_line, django_capture_on_commit_callbacks):
    """Three loans of 10,000 paid out on 15 January 2027 (1.2083… yuan interest a day each)."""
    return [draw(active_line, django_capture_on_commit_callbacks, amount="10000") for _ in range(3)]


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """Start a run; its chunk tasks (in-process here) run when it commits."""

    def run(bank, day, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.cob_run_start(
                bank=bank, business_date=datetime.date.fromisoformat(day), **kwargs
            )

    return run


def test_a_run_closes_the_day_in_chunks_and_a_rerun_writes_nothing(loans, start):
    bank = loans[0].bank
    with at("2027-01-16"):
        run = start(bank, "2027-01-15", chunk_size=2)
    run.refresh_from_db()
    assert run.status == CobStatus.COMPLETED
    assert run.chunks_total == 2
    assert run.loans_total == 3
    assert run.report["accrued"] == 3
    assert not BatchLock.objects.exists()
    for loan in Loan.objects.filter(pk__in=[loan.pk for loan in loans]):
        assert loan.accrued_through == datetime.date(2027, 1, 15)
        # 10,000 × 4.35 % ÷ 360 = 1.208333… posted 1.21, the rest carried
        assert loan.interest_outstanding == D("1.21")
        assert loan.accrual_carry == D("-60.00")  # 1.208333… − 1.21 = −0.0016…, × 36000
    assert services.cob_last_completed(bank_id=bank.pk) == datetime.date(2027, 1, 15)

    entries, lines = JournalEntry.objects.count(), JournalLine.objects.count()
    with at("2027-01-16"):
        again = start(bank, "2027-01-15")
    again.refresh_from_db()
    assert again.status == CobStatus.COMPLETED
    assert again.report["accrued"] == 0
    assert (JournalEntry.objects.count(), JournalLine.objects.count()) == (entries, lines)

    # Two days later: the carried remainders make 3 × 1.2083… = 3.625 → 3.63, not 3 × 1.21.
    with at("2027-01-18"):
        start(bank, "2027-01-16")
        start(bank, "2027-01-17")
    loan = Loan.objects.get(pk=loans[0].pk)
    assert loan.interest_outstanding == D("3.63")
    assert loans_out_of_balance() == []


def test_bad_runs_are_refused(loans, start):
    bank = loans[0].bank
    with at("2027-01-20"):
        start(bank, "2027-01-15")
        start(bank, "2027-01-16")
        for day, field in [
            ("2027-01-15", "business_date"),  # before the last completed one
            ("2027-01-20", "business_date"),  # today is not over
            ("2027-01-25", "business_date"),  # the future
            ("2027-01-18", "business_date"),  # skips the 17th
        ]:
            with pytest.raises(ValidationError) as refused:
                start(bank, day)
            assert field in refused.value.message_dict, day
        with pytest.raises(ValidationError) as refused:
            start(bank, "2027-01-17", steps=["classify"])
        assert "steps" in refused.value.message_dict
        # Two at once: the first is still running (its chunks not yet processed).
        start(bank, "2027-01-17", enqueue=False)
        with pytest.raises(ValidationError) as refused:
            start(bank, "2027-01-17")
        assert "bank" in refused.value.message_dict
    assert CobRun.objects.filter(bank=bank).count() == 3


def test_a_loan_that_fails_is_listed_and_retried_and_the_others_close(
    loans, start, django_capture_on_commit_callbacks
):
    bank = loans[0].bank
    broken = loans[1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION test_cob_drill() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.id = {broken.pk} AND NEW.accrued_through IS DISTINCT FROM OLD.accrued_through
              THEN RAISE EXCEPTION 'drill: loan % cannot be closed', NEW.id;
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER test_cob_drill BEFORE UPDATE ON lending_loan
              FOR EACH ROW EXECUTE FUNCTION test_cob_drill();
            """
        )
    with at("2027-01-16"):
        run = start(bank, "2027-01-15", chunk_size=10)
    run.refresh_from_db()
    assert run.status == CobStatus.FAILED
    assert run.chunks.get().status == ChunkStatus.FAILED
    failure = CobLoanFailure.objects.get(run=run)
    assert failure.loan_id == broken.pk
    assert "drill" in failure.error
    closed = Loan.objects.filter(accrued_through=datetime.date(2027, 1, 15))
    assert sorted(closed.values_list("pk", flat=True)) == sorted([loans[0].pk, loans[2].pk])
    # The business date does not move while a loan is behind, and no new date may start.
    assert services.cob_last_completed(bank_id=bank.pk) is None
    with at("2027-01-17"), pytest.raises(ValidationError):
        start(bank, "2027-01-16")

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_cob_drill ON lending_loan")
    with at("2027-01-16"), django_capture_on_commit_callbacks(execute=True):
        services.cob_run_retry(run=run)
    run.refresh_from_db()
    assert run.status == CobStatus.COMPLETED
    assert CobLoanFailure.objects.get(run=run).resolved
    assert Loan.objects.filter(accrued_through=datetime.date(2027, 1, 15)).count() == 3
    assert loans_out_of_balance() == []


def test_a_repayment_on_a_loan_waiting_for_its_chunk_brings_it_up_to_date(
    loans, active_line, start
):
    bank = loans[0].bank
    with at("2027-01-20"):
        run = start(bank, "2027-01-15", enqueue=False)  # its chunk not processed yet
        # Closed inline through the 19th first: five days of interest, 6.04 (exact 6.0417).
        assert loan_services.loan_quote(loan=loans[0]).interest_accrued == D("6.04")
        txn, _ = loan_services.loan_repay(
            loan=loans[0],
            amount="1006.04",
            key="early",
            actor=active_line["admin"],
            kind="prepayment",
            reschedule="reamortise",
        )
        assert (txn.interest, txn.principal) == (D("6.04"), D("1000.00"))
        for chunk in run.chunks.all():
            services.cob_chunk_process(chunk_id=chunk.pk)
    run.refresh_from_db()
    assert run.status == CobStatus.COMPLETED
    # The chunk left the loan that was already ahead as it was: no second accrual.
    assert run.report["accrued"] == 2
    paid_ahead = Loan.objects.get(pk=loans[0].pk)
    assert paid_ahead.accrued_through == datetime.date(2027, 1, 19)
    assert paid_ahead.interest_outstanding == 0
    assert loans_out_of_balance() == []
