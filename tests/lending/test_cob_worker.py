"""A real Celery worker process killed in the middle of a close-of-business chunk: nothing of the
chunk was written, and resuming the run completes it with no duplicate postings."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection, connections, transaction

from lending.cob import services
from lending.cob.models import ChunkStatus, CobRun, CobStatus
from lending.ledger.models import JournalLine
from lending.loans import services as loan_services
from lending.loans.models import Loan
from lending.loans.selectors import loans_out_of_balance
from tests.lending.servicing_setup import at

BROKER = os.environ.get("TEST_CELERY_BROKER_URL") or "redis://127.0.0.1:6379/14"
QUEUE = f"cob-kill-{uuid.uuid4().hex[:8]}"


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker() -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": BROKER,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            QUEUE,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        start_new_session=True,
    )


def _wait(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_nothing_and_a_resume_completes_once(active_line):
    with at("2027-01-15"):
        loans = []
        for _ in range(3):
            loan, _ = loan_services.loan_drawdown(
                line=active_line["line"],
                amount="10000",
                term_months=12,
                method="equal_instalment",
                deposit_account=active_line["account"].account,
                client_uuid=uuid.uuid4(),
                actor=active_line["am"],
            )
            loan_services.loan_disburse(loan_id=loan.pk)
            loans.append(loan.pk)
    bank = Loan.objects.get(pk=loans[0]).bank
    with at("2027-01-16"):
        run = services.cob_run_start(
            bank=bank, business_date=datetime.date(2027, 1, 15), enqueue=False
        )
    chunk = run.chunks.get()

    # Another connection holds the last loan's row, so the worker's chunk stops half-way.
    held, release = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            Loan.objects.select_for_update().get(pk=loans[-1])
            held.set()
            release.wait(90)
        connections.close_all()

    blocker = threading.Thread(target=holder)
    blocker.start()
    held.wait(10)
    worker = _start_worker()
    try:
        # Its own app, not the current one: the project's tasks stay in-process for the resume.
        sender = Celery(broker=BROKER, set_as_current=False)
        sender.send_task("lending.cob.tasks.process_cob_chunk", args=[chunk.pk], queue=QUEUE)

        def waiting_on_the_lock() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                    "AND objid = %s AND granted",
                    [services.COB_LOCK_CLASS, chunk.pk],
                )
                return cursor.fetchone()[0] == 1

        _wait(waiting_on_the_lock, what="the worker to take the chunk")
        time.sleep(0.5)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        release.set()
        blocker.join()
    _wait(lambda: not waiting_on_the_lock(), what="the killed worker's session to end")

    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.RUNNING  # claimed by the worker that died
    assert not JournalLine.objects.filter(loan_id__in=loans, entry__kind=3).exists()
    assert set(Loan.objects.filter(pk__in=loans).values_list("accrued_through", flat=True)) == {
        datetime.date(2027, 1, 14)
    }

    with at("2027-01-16"):
        asked = services.cob_runs_resume(stale_after=datetime.timedelta(0))
    assert asked == 1
    run = CobRun.objects.get(pk=run.pk)
    assert run.status == CobStatus.COMPLETED
    assert run.report["accrued"] == 3
    # One accrual posting per loan: an interest line and an income line each, no more.
    assert JournalLine.objects.filter(loan_id__in=loans, entry__kind=3).count() == 6
    assert loans_out_of_balance() == []
