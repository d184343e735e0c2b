"""The close of business over a million active loans, with two worker processes.

Numbers from the servicing issue: the close of a business date over 1,000,000 active loans
(accrual, settlement, overdue, penalty, classification) in ≤ 60 s on this machine with two
workers and ≤ 3× a raw baseline; re-running the same date writes 0 rows.

What is measured: ``cob_run_start`` for the bench bank's date (its chunks made by one INSERT …
SELECT), then the chunks processed by two worker processes, each calling ``cob_chunk_process``
(the Celery task's body) on every other chunk, as two Celery workers would; until the run is
已完成. Then the same date again: the rows it wrote (journal lines, and loans whose version moved)
must be 0.

The raw baseline, measured in the same run just before, on the same loans, chunks and two
processes: for each chunk one bare statement that adds the day's interest to each loan
(``principal × rate ÷ 36000`` rounded) and inserts one journal entry with two lines per loan,
rolled back so the state is left as it was. It is the least any close of business must write.

The loans: a bank of its own (``SXRCU-BENCH-C``) whose loans are made by one INSERT … SELECT
(untimed): amounts of 10,000 to 200,000 at 4.35 %, one instalment each falling due over the
next four weeks (so about one loan in 28 is settled on the date), one loan in ten 30 days
overdue with an unpaid settled instalment (so penalty, compound interest, days past due and
classification have work). Before each run the bank's journal, runs and loan state are reset to
the day before (the journal's append-only triggers disabled inside that one transaction).

The date closed is yesterday (a run refuses a day not over yet).

Standalone: ``python -m bench.cob_bench [--quick] [--loans N]`` (after ``migrate`` and
``seed_demo``).
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import time

from django.db import connection, connections, transaction

BANK = ("SXRCU-BENCH-C", "日终基准测试行")
# The quick run's loans are a bank of their own, so that it closes 50,000 loans even where the
# full run has left a million.
QUICK_BANK = ("SXRCU-BENCH-CQ", "日终基准测试行(快速)")
LOANS_FULL = 1_000_000
LOANS_QUICK = 50_000
WORKERS = 2
GOAL_SECONDS_PER_MILLION = 60.0


def _day() -> datetime.date:
    """The date closed: yesterday (a run refuses a day not over yet); the loans are reset to
    the day before it."""
    from common.clock import business_today

    return business_today() - datetime.timedelta(days=1)


def bench_bank(code: str, name: str):
    """A bank of the demo federation for a bench's own rows, made once and kept."""
    from org.models import Institution
    from org.services import institution_create

    bank = Institution.objects.filter(code=code).first()
    if bank is None:
        federation = Institution.objects.get(kind=Institution.Kind.FEDERATION)
        bank = institution_create(
            code=code, name=name, kind=Institution.Kind.BANK, parent=federation
        )
    return bank


def ensure_bank(*, quick: bool = False):
    return bench_bank(*(QUICK_BANK if quick else BANK))


def _loan_columns(bank, line, overdue: str) -> dict[str, str]:
    """SQL for every column of a bench loan; ``g`` is its number in the series."""
    return {
        "bank_id": str(bank.pk),
        "household_id": f"'{line.household_id}'",
        "borrower_id": f"'{line.household.head_id}'",
        "line_id": str(line.pk),
        "application_id": "NULL",
        "product_id": str(line.product_id),
        "product_version_id": str(line.product_version_id),
        "client_uuid": "gen_random_uuid()",
        "channel": "'pad'",
        "amount": "(10000 + (g %% 191) * 1000)::numeric",
        "rate": "4.35",
        "penalty_markup_pct": "50",
        "compound_interest": "true",
        "grace_days": "3",
        "method": "'equal_instalment'",
        "frequency": "'monthly'",
        "settlement": "'monthly'",
        "term_months": "12",
        "purpose": "'日终基准'",
        "deposit_account": "'6230000000000000'",
        "start_date": "%(day)s::date - 1 - (g %% 300)",
        "maturity_date": "%(day)s::date + 365",
        "status": "'active'",
        "disbursed_at": "now()",
        "disbursement_core_id": "''",
        "disbursement_error": "''",
        "principal_outstanding": "(10000 + (g %% 191) * 1000)::numeric",
        "interest_outstanding": f"CASE WHEN {overdue} THEN 50 ELSE 0 END",
        "penalty_outstanding": "0",
        "principal_due": f"CASE WHEN {overdue} THEN 1000 ELSE 0 END",
        "interest_due": f"CASE WHEN {overdue} THEN 50 ELSE 0 END",
        "principal_overdue": f"CASE WHEN {overdue} THEN 1000 ELSE 0 END",
        "interest_overdue": f"CASE WHEN {overdue} THEN 50 ELSE 0 END",
        "accrual_carry": "0",
        "suspense_balance": "0",
        "overdue_since": f"CASE WHEN {overdue} THEN %(day)s::date - 30 END",
        "allocation_order": "'penalty_interest_principal'",
        "overpayment_to_suspense": "false",
        "auto_debit": "true",
        "accrued_through": "%(day)s::date - 1",
        "days_past_due": f"CASE WHEN {overdue} THEN 30 ELSE 0 END",
        "loan_class": f"CASE WHEN {overdue} THEN 2 ELSE 1 END",
        "loan_class_floor": "NULL",
        "written_off": "0",
        "recovered": "0",
        "version": "0",
        "created_by_id": "NULL",
        "created_at": "now()",
        "updated_at": "now()",
    }


def ensure_loans(bank, count: int) -> None:
    """``count`` active loans of the bench bank (made once, kept), each with one instalment."""
    from lending.lines.models import CreditLine
    from lending.loans.models import Loan

    have = Loan.objects.filter(bank=bank).count()
    if have >= count:
        return
    line = CreditLine.objects.select_related("household").filter(household__head__isnull=False)
    line = line.order_by("pk").first()
    overdue = "g %% 10 = 0"
    columns = _loan_columns(bank, line, overdue)
    names = [f.column for f in Loan._meta.concrete_fields if f.column != "id"]
    missing = set(names) - set(columns)
    if missing:
        raise RuntimeError(f"bench loans lack a value for {sorted(missing)}")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO lending_loan ({', '.join(names)}) "
            f"SELECT {', '.join(columns[n] for n in names)} "
            f"FROM generate_series(%(first)s, %(last)s) AS g",
            {"day": _day(), "first": have + 1, "last": count},
        )
        cursor.execute(
            """
            INSERT INTO lending_instalment (loan_id, number, period_start, due_date,
                principal_due, interest_due, principal_paid, interest_paid, interest_settled)
            SELECT l.id, 1, %(day)s::date - 30,
                   CASE WHEN l.principal_overdue > 0 THEN %(day)s::date - 30
                        ELSE %(day)s::date + 1 + (l.id %% 28)::int END,
                   1000, 50, 0, 0, l.principal_overdue > 0
              FROM lending_loan l
             WHERE l.bank_id = %(bank)s
               AND NOT EXISTS (SELECT 1 FROM lending_instalment i WHERE i.loan_id = l.id)
            """,
            {"day": _day(), "bank": bank.pk},
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lending_loan; ANALYZE lending_instalment")
    print(f"  made {count - have:,} bench loans in {time.perf_counter() - started:.0f} s")


def journal_purge(cursor, bank_id: int) -> None:
    """Delete a bench bank's journal, in the caller's transaction: the append-only triggers are
    disabled for that transaction only (DDL is transactional), so no other session ever sees
    them off. Rows that point at the entries (loan transactions) must be gone first."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks left at the ALTER
    cursor.execute(
        "ALTER TABLE lending_journalline DISABLE TRIGGER lending_journalline_append_only;"
        "ALTER TABLE lending_journalentry DISABLE TRIGGER lending_journalentry_append_only"
    )
    cursor.execute(
        "DELETE FROM lending_journalline WHERE entry_id IN "
        "(SELECT id FROM lending_journalentry WHERE bank_id = %s)",
        [bank_id],
    )
    cursor.execute("DELETE FROM lending_journalentry WHERE bank_id = %s", [bank_id])
    cursor.execute(
        "ALTER TABLE lending_journalline ENABLE TRIGGER lending_journalline_append_only;"
        "ALTER TABLE lending_journalentry ENABLE TRIGGER lending_journalentry_append_only"
    )


def reset(bank) -> None:
    """The bench bank back to the day before ``DAY``: its journal, runs and loan state."""
    with transaction.atomic(), connection.cursor() as cursor:
        journal_purge(cursor, bank.pk)
        cursor.execute("DELETE FROM lending_batchlock WHERE bank_id = %s", [bank.pk])
        cursor.execute(
            "DELETE FROM lending_cobloanfailure WHERE run_id IN "
            "(SELECT id FROM lending_cobrun WHERE bank_id = %s)",
            [bank.pk],
        )
        cursor.execute(
            "DELETE FROM lending_cobchunk WHERE run_id IN "
            "(SELECT id FROM lending_cobrun WHERE bank_id = %s)",
            [bank.pk],
        )
        cursor.execute("DELETE FROM lending_cobrun WHERE bank_id = %s", [bank.pk])
        cursor.execute(
            """
            UPDATE lending_loan l
               SET accrued_through = %(day)s::date - 1,
                   interest_outstanding = CASE WHEN l.principal_overdue > 0 THEN 50 ELSE 0 END,
                   interest_due = CASE WHEN l.principal_overdue > 0 THEN 50 ELSE 0 END,
                   interest_overdue = CASE WHEN l.principal_overdue > 0 THEN 50 ELSE 0 END,
                   penalty_outstanding = 0, accrual_carry = 0, version = 0,
                   principal_due = l.principal_overdue, days_past_due =
                       CASE WHEN l.principal_overdue > 0 THEN 30 ELSE 0 END,
                   loan_class = CASE WHEN l.principal_overdue > 0 THEN 2 ELSE 1 END,
                   overdue_since = CASE WHEN l.principal_overdue > 0 THEN %(day)s::date - 30 END
             WHERE l.bank_id = %(bank)s
               AND (l.version <> 0 OR l.accrued_through <> %(day)s::date - 1)
            """,
            {"day": _day(), "bank": bank.pk},
        )
        cursor.execute(
            """
            UPDATE lending_instalment i
               SET interest_settled = l.principal_overdue > 0, interest_due = 50,
                   due_date = CASE WHEN l.principal_overdue > 0 THEN %(day)s::date - 30
                                   ELSE %(day)s::date + 1 + (l.id %% 28)::int END
              FROM lending_loan l
             WHERE i.loan_id = l.id AND l.bank_id = %(bank)s
               AND (i.interest_settled <> (l.principal_overdue > 0)
                    OR i.due_date <> CASE WHEN l.principal_overdue > 0 THEN %(day)s::date - 30
                                          ELSE %(day)s::date + 1 + (l.id %% 28)::int END)
            """,
            {"day": _day(), "bank": bank.pk},
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE lending_loan")


_RAW = """
WITH upd AS (
    UPDATE lending_loan
       SET interest_outstanding = interest_outstanding + round(principal_outstanding * rate / 36000, 2),
           accrued_through = %(day)s
     WHERE bank_id = %(bank)s AND id BETWEEN %(first)s AND %(last)s
       AND status = 'active' AND accrued_through = %(day)s::date - 1
 RETURNING id, round(principal_outstanding * rate / 36000, 2) AS interest
), entry AS (
    INSERT INTO lending_journalentry (bank_id, kind, value_date, posted_at, reference, memo)
    VALUES (%(bank)s, 3, %(day)s, now(), %(reference)s, '') RETURNING id
)
INSERT INTO lending_journalline (entry_id, account, amount, loan_id)
SELECT e.id, x.account, x.amount, u.id
  FROM entry e CROSS JOIN upd u
 CROSS JOIN LATERAL (VALUES (1132, u.interest), (6011, -u.interest)) AS x(account, amount)
"""


def _raw_worker(bank_id: int, chunks: list[tuple[int, int]]) -> None:
    connections.close_all()
    with transaction.atomic(), connection.cursor() as cursor:
        for first, last in chunks:
            cursor.execute(
                _RAW,
                {
                    "day": _day(),
                    "bank": bank_id,
                    "first": first,
                    "last": last,
                    "reference": f"RAW-{first}-{last}",
                },
            )
        transaction.set_rollback(True)  # measured, then left as it was


def _cob_worker(chunk_ids: list[int]) -> None:
    connections.close_all()
    from lending.cob.services import cob_chunk_process

    for chunk_id in chunk_ids:
        cob_chunk_process(chunk_id=chunk_id)


def _in_processes(target, shares: list) -> float:
    connections.close_all()
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    processes = [context.Process(target=target, args=share) for share in shares]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode:
            raise RuntimeError(f"a bench worker failed (exit {process.exitcode})")
    return time.perf_counter() - started


def _written(bank) -> tuple[int, int]:
    from lending.ledger.models import JournalLine
    from lending.loans.models import Loan

    return (
        JournalLine.objects.filter(entry__bank=bank).count(),
        Loan.objects.filter(bank=bank).exclude(version=0).count(),
    )


def _close(bank) -> tuple[float, object]:
    from lending.cob.models import CobRun
    from lending.cob.services import cob_run_start

    started = time.perf_counter()
    run = cob_run_start(bank=bank, business_date=_day(), enqueue=False)
    ids = list(run.chunks.order_by("pk").values_list("pk", flat=True))
    _in_processes(_cob_worker, [(ids[n::WORKERS],) for n in range(WORKERS)])
    elapsed = time.perf_counter() - started
    return elapsed, CobRun.objects.get(pk=run.pk)


def measure(*, quick: bool, loans: int | None = None) -> dict:
    from django.conf import settings

    from lending.cob.models import CobStatus

    count = loans or (LOANS_QUICK if quick else LOANS_FULL)
    bank = ensure_bank(quick=quick and not loans)
    ensure_loans(bank, count)
    reset(bank)
    size = settings.COB_CHUNK_SIZE
    from lending.loans.models import Loan

    ids = list(
        Loan.objects.filter(bank=bank, status="active").order_by("pk").values_list("pk", flat=True)
    )
    chunks = [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]
    baseline = _in_processes(_raw_worker, [(bank.pk, chunks[n::WORKERS]) for n in range(WORKERS)])
    with connection.cursor() as cursor:  # the baseline's rolled-back rows, cleared (untimed)
        cursor.execute("VACUUM ANALYZE lending_loan, lending_journalentry, lending_journalline")
    elapsed, run = _close(bank)
    if run.status != CobStatus.COMPLETED:
        raise RuntimeError(f"the close of business ended {run.status}: {run.report}")
    written = _written(bank)
    again_elapsed, again = _close(bank)
    rerun_written = tuple(a - b for a, b in zip(_written(bank), written, strict=True))
    return {
        "loans": len(ids),
        "seconds": elapsed,
        "baseline": baseline,
        "report": run.report,
        "written_lines": written[0],
        "rerun_seconds": again_elapsed,
        "rerun_written": sum(rerun_written),
        "rerun_report": again.report,
    }


def run(*, quick: bool) -> list[dict]:
    result = measure(quick=quick)
    loans = result["loans"]
    goal = GOAL_SECONDS_PER_MILLION * loans / LOANS_FULL
    print(
        f"close of business over {loans:,} loans: {result['seconds']:.1f} s "
        f"(raw baseline {result['baseline']:.1f} s), {result['written_lines']:,} journal lines, "
        f"report {result['report']}; re-run {result['rerun_seconds']:.1f} s writing "
        f"{result['rerun_written']} rows"
    )
    name = "cob_1m_loans" if loans == LOANS_FULL else f"cob_{loans // 1000}k_loans"
    return [
        {
            "name": f"{name}_seconds",
            "value": round(result["seconds"], 3),
            "unit": "s",
            "goal": round(goal, 3),
            "baseline": round(result["baseline"], 3),
            "ratio": round(result["seconds"] / result["baseline"], 2),
        },
        {
            "name": f"{name}_rerun_rows_written",
            "value": result["rerun_written"],
            "unit": "rows",
            "goal": 0,
            "baseline": result["written_lines"],
            "ratio": round(result["rerun_written"] / max(result["written_lines"], 1), 2),
        },
    ]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="bench.cob_bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--loans", type=int)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    if args.loans:
        print(measure(quick=args.quick, loans=args.loans))
    else:
        for row in run(quick=args.quick):
            print(row)
