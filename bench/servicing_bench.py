"""Servicing over HTTP: a loan's detail with 700 days of accruals, and repayments at
concurrency 8, served as in production.

Numbers from the servicing issue: ``GET /api/v1/loans/<id>/`` for a loan with 700 accrual
entries (schedule, transactions, history and its 1,400 journal lines) p95 ≤ 50 ms; ``POST
/api/v1/loans/<id>/repayments/`` at concurrency 8 p99 ≤ 50 ms. Concurrency 8 is eight clients
(tablets, the self-service channel) each sending a repayment every ``PACE_MS``; the same eight
sending as fast as answers come are reported beside it without a goal (see ``run``).

How it is served and loaded: as the origination bench (``bench.origination_bench``): gunicorn
with the project's settings (2 processes × 4 threads), wrk with ``bench/servicing.lua`` (one
request a line, each POST with its own ``Idempotency-Key``). The baseline is the same bare
endpoint (``bench.baseline``: one row inserted behind the same middleware and token
authentication), at the same concurrency, in the same run.

The loans: a bank of its own (``SXRCU-BENCH-S``), its loans made by one INSERT … SELECT as the
close-of-business bench makes them. The detail loan started 701 days ago and was brought up to
yesterday by the real inline close of business (``loan_catch_up``: 700 accrual entries). The
repayment loans each owe a settled instalment and have a sandbox deposit account of their own
holding money; each request repays 10.00 of a different loan from the borrower's account
through the (sandbox) core, as the self-service channel does. A bank administrator of that bank
is the API user, logged in from one device.

Standalone: ``python -m bench.servicing_bench [--quick]`` (after ``migrate`` and ``seed_demo``).
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from django.db import connection, transaction

BANK = ("SXRCU-BENCH-S", "贷后服务基准测试行")
USER = "bench_servicing_admin"
DEVICE = "bench-servicing-pad"
LUA = Path(__file__).with_name("servicing.lua")
DETAIL_DAYS = 700
SIZES = {True: (100, 400), False: (400, 2000)}  # (detail requests, repayments per load)
WARMUP = 100
# Eight tablets each sending a repayment every PACE_MS (32 a second offered, some 115,000 an
# hour: far above a county bank's busiest hour of online repayments).
PACE_MS = 250


def _yesterday() -> datetime.date:
    from common.clock import business_today

    return business_today() - datetime.timedelta(days=1)


def ensure_bank():
    from bench.cob_bench import bench_bank
    from org.models import Staff
    from org.roles import Role
    from org.services import staff_create

    bank = bench_bank(*BANK)
    if not Staff.objects.filter(user__username=USER).exists():
        staff_create(
            username=USER,
            password=None,
            full_name="贷后基准管理员",
            institution=bank,
            employee_no="BENCH-S-001",
            roles=[Role.BANK_ADMIN],
        )
    return bank


def _make_loans(bank, count: int, *, start_sql: str, owing: bool) -> list[int]:
    """``count`` loans of the bank (SQL, as ``bench.cob_bench``), each with a sandbox account of
    its own holding 100,000; owing loans have a settled instalment due yesterday."""
    from bench.cob_bench import _loan_columns
    from lending.lines.models import CreditLine
    from lending.loans.models import Loan

    line = (
        CreditLine.objects.select_related("household")
        .filter(household__head__isnull=False)
        .order_by("pk")
        .first()
    )
    columns = _loan_columns(bank, line, "false")
    columns.update(
        {
            "amount": "100000",
            "principal_outstanding": "100000",
            "start_date": start_sql,
            "accrued_through": f"({start_sql}) - 1",
            "deposit_account": "'62299' || lpad((%(tag)s::bigint * 1000000 + g)::text, 14, '0')",
            "method": "'revolving'",
            "maturity_date": "%(day)s::date + 400",
            "auto_debit": "false",
        }
    )
    if owing:
        columns.update(
            {
                "accrued_through": "%(day)s::date",
                "principal_due": "1000",
                "interest_due": "50",
                "interest_outstanding": "50",
            }
        )
    names = [f.column for f in Loan._meta.concrete_fields if f.column != "id"]
    tag = int(time.time()) % 100_000
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO lending_loan ({', '.join(names)}) "
            f"SELECT {', '.join(columns[n] for n in names)} "
            f"FROM generate_series(1, %(count)s) AS g RETURNING id, deposit_account",
            {"day": _yesterday(), "count": count, "tag": tag},
        )
        rows = cursor.fetchall()
        cursor.executemany(
            "INSERT INTO lending_sandboxdepositaccount (bank_id, account, holder_name, "
            "member_id, status, balance, opened_at) VALUES (%s, %s, %s, NULL, 'open', 100000, "
            "now())",
            [(bank.pk, account, line.household.head.name) for _, account in rows],
        )
        if owing:
            cursor.execute(
                """
                INSERT INTO lending_instalment (loan_id, number, period_start, due_date,
                    principal_due, interest_due, principal_paid, interest_paid, interest_settled)
                SELECT id, 1, %(day)s::date - 30, %(day)s::date, 1000, 50, 0, 0, true
                  FROM lending_loan WHERE id = ANY(%(ids)s)
                """,
                {"day": _yesterday(), "ids": [pk for pk, _ in rows]},
            )
    return [pk for pk, _ in rows]


def _detail_loan(bank) -> int:
    from lending.loans.accrual import loan_catch_up
    from lending.loans.models import Loan

    (loan_id,) = _make_loans(bank, 1, start_sql=f"%(day)s::date - {DETAIL_DAYS}", owing=False)
    loan = Loan.objects.get(pk=loan_id)
    with transaction.atomic():
        loan_catch_up(loan=loan, through=_yesterday())
    return loan_id


def purge(bank) -> None:
    """The bank's loans, accounts and journal from earlier runs (the journal's append-only
    triggers disabled inside this one transaction); the baseline's table made and emptied."""
    from bench.baseline import CREATE_PING_TABLE, PING_TABLE
    from bench.cob_bench import journal_purge

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CREATE_PING_TABLE)
        cursor.execute(f"TRUNCATE {PING_TABLE}")
        loans = "SELECT id FROM lending_loan WHERE bank_id = %(bank)s"
        cursor.execute(
            f"DELETE FROM lending_loantransaction WHERE loan_id IN ({loans})", {"bank": bank.pk}
        )
        journal_purge(cursor, bank.pk)
        for statement in (
            f"DELETE FROM lending_instalment WHERE loan_id IN ({loans})",
            f"DELETE FROM lending_loanevent WHERE loan_id IN ({loans})",
            "DELETE FROM lending_loan WHERE bank_id = %(bank)s",
            "DELETE FROM lending_sandboxdeposittransaction WHERE deposit_account_id IN "
            "(SELECT id FROM lending_sandboxdepositaccount WHERE bank_id = %(bank)s)",
            "DELETE FROM lending_sandboxdepositaccount WHERE bank_id = %(bank)s",
        ):
            cursor.execute(statement, {"bank": bank.pk})


def measure(*, quick: bool) -> dict:
    from bench.origination_bench import Server, load
    from org.models import Staff
    from org.services import device_token_issue

    details, repayments = SIZES[quick]
    bank = ensure_bank()
    purge(bank)
    user = Staff.objects.get(user__username=USER).user
    _, token = device_token_issue(user=user, device_id=DEVICE, device_name="基准测试平板")
    detail_id = _detail_loan(bank)
    owing = _make_loans(bank, WARMUP + 2 * repayments, start_sql="%(day)s::date - 60", owing=True)
    warm = owing[:WARMUP]
    paced = owing[WARMUP : WARMUP + repayments]
    saturated = owing[WARMUP + repayments :]
    measured = paced + saturated
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would keep them
        cursor.execute("ANALYZE lending_loan, lending_journalentry, lending_journalline")
    body = '{"amount": "10.00", "channel": "mobile_banking"}'

    def repay(ids):
        return [f"POST\t/api/v1/loans/{pk}/repayments/\t{body}" for pk in ids]

    detail = [f"GET\t/api/v1/loans/{detail_id}/\t"] * details
    ping = [f"POST\t/bench/baseline/{n}/\t" for n in range(repayments)]
    server = Server()
    try:
        load(server, repay(warm), token, lua=LUA)
        load(server, detail[:20], token, lua=LUA, concurrency=1)
        load(server, ping[:WARMUP], token, lua=LUA)
        base_one = load(server, ping[:details], token, lua=LUA, concurrency=1)
        detail_one = load(server, detail, token, lua=LUA, concurrency=1)
        base_paced = load(server, ping, token, lua=LUA, pace_ms=PACE_MS)
        repay_paced = load(server, repay(paced), token, lua=LUA, pace_ms=PACE_MS)
        base_many = load(server, ping, token, lua=LUA)
        repay_many = load(server, repay(saturated), token, lua=LUA)
    finally:
        server.stop()
    from lending.loans.models import LoanTransaction

    posted = LoanTransaction.objects.filter(loan_id__in=measured, kind="repayment").count()
    if posted != len(measured):
        raise RuntimeError(f"{len(measured)} repayments sent but {posted} posted")
    from lending.ledger.models import JournalLine

    accruals = JournalLine.objects.filter(loan_id=detail_id, entry__kind=3).count() // 2
    purge(bank)
    return {
        "detail": detail_one,
        "repay": repay_paced,
        "repay_many": repay_many,
        "base_one": base_one,
        "base_paced": base_paced,
        "base_many": base_many,
        "accruals": accruals,
    }


def run(*, quick: bool) -> list[dict]:
    """The goal rows: the detail's p95 one request at a time, the repayment's p99 with eight
    clients each paced at PACE_MS; beside them, without a goal, eight clients sending as fast
    as answers come (by Little's law their latency is eight requests' worth of service time on
    two CPUs: the bare baseline endpoint itself is at some 30 ms there)."""
    from bench.origination_bench import _row

    result = measure(quick=quick)
    detail, repay, many = result["detail"], result["repay"], result["repay_many"]
    ms = 1000
    print(
        f"loan detail with {result['accruals']} accruals: p95 {detail['p95_us'] / ms:.1f} ms; "
        f"repayments, 8 clients every {PACE_MS} ms: p99 {repay['p99_us'] / ms:.1f} ms; "
        f"8 clients flat out: p99 {many['p99_us'] / ms:.1f} ms, {many['per_second']:.0f}/s "
        f"(baseline {result['base_many']['per_second']:.0f}/s); paced run {repay['duration_us'] / 1e6:.1f} s"
    )
    return [
        _row(
            "loan_detail_700_accruals_http_p95",
            detail["p95_us"] / ms,
            "ms",
            50.0,
            result["base_one"]["p95_us"] / ms,
        ),
        _row(
            "repayment_http_c8_p99",
            repay["p99_us"] / ms,
            "ms",
            50.0,
            result["base_paced"]["p99_us"] / ms,
        ),
        _row(
            "repayment_http_c8_saturated_p99",
            many["p99_us"] / ms,
            "ms",
            None,
            result["base_many"]["p99_us"] / ms,
        ),
        _row(
            "repayment_http_c8_saturated_throughput",
            many["per_second"],
            "/s",
            None,
            result["base_many"]["per_second"],
            higher_is_better=True,
        ),
    ]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="bench.servicing_bench")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    for row in run(quick=args.quick):
        print(row)
