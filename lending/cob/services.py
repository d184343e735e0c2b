"""Writes of the close of business: start a run, process a chunk, advance or resume a run.

A run for business date ``d`` splits the bank's active loans into chunks of consecutive ids
(one ``INSERT … SELECT``) and asks for one Celery task per chunk after commit; the chunks run on
as many workers as are started. Processing a chunk:

1. claims it and commits a ``BatchLock`` over its ids (a repayment for one of them answers 409
   while the chunk works, instead of waiting behind it);
2. in one transaction holding an advisory lock on the chunk (so a chunk runs in one worker at a
   time, and a lock that is free means nobody is working on it), closes every day from the
   range's oldest ``accrued_through`` to ``d`` with ``loans_close_day`` (set-based SQL), marks the
   chunk done and removes the ``BatchLock``.

A worker killed half-way loses its transaction: nothing of the chunk was written, and
``cob_runs_resume`` (every minute, and the admin's 继续执行) asks again for every chunk that is
not done and whose advisory lock is free. Re-running a chunk or a whole date writes nothing new
(``loans_close_day`` only moves loans not yet closed through ``d``). A chunk whose statements
fail is retried loan by loan: loans that fail are listed (``CobLoanFailure``) with the error,
the others are closed, and the run stays 有失败 until a retry passes.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Min, Sum
from django.utils import timezone

from common.clock import business_today
from lending.cob.models import (
    DEFAULT_STEPS,
    ChunkStatus,
    CobChunk,
    CobLoanFailure,
    CobRun,
    CobStatus,
    CobStep,
)
from lending.lines.services import credit_lines_expire
from lending.loans.accrual import STEPS as LOAN_STEPS
from lending.loans.accrual import DayResult, loan_catch_up, loans_close_day
from lending.loans.models import BatchLock, Loan, LoanStatus
from org.auth import require_permission
from org.models import Institution
from risk.lists.services import staff_of

logger = logging.getLogger(__name__)
# pg advisory lock namespace of chunks: (COB_LOCK_CLASS, chunk id)
COB_LOCK_CLASS = 4242
# A chunk claimed this long ago whose advisory lock is free lost its worker. (Asking again for
# a chunk whose worker is merely slow to take the lock is harmless: one of the two gets the
# lock, the other finds the chunk done or busy and returns; the wait only saves the task.)
STALE_AFTER = timedelta(seconds=10)

_CHUNKS = """
INSERT INTO lending_cobchunk (run_id, first_loan_id, last_loan_id, status, attempts,
                              accrued, settled, overdue, classified, error)
SELECT %(run)s, min(id), max(id), 'pending', 0, 0, 0, 0, 0, ''
  FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(size)s AS chunk
          FROM lending_loan
         WHERE bank_id = %(bank)s AND status = 'active') AS numbered
 GROUP BY chunk
"""


def _chunk_size() -> int:
    return settings.COB_CHUNK_SIZE


def cob_last_completed(*, bank_id: int) -> date | None:
    return CobRun.objects.filter(bank_id=bank_id, status=CobStatus.COMPLETED).aggregate(
        last=Max("business_date")
    )["last"]


def cob_run_check(
    *, bank: Institution, business_date: date | None = None, steps: list[str] | None = None
) -> tuple[date, list[str]]:
    """The date and steps of a run the bank may start now, or a ``ValidationError`` naming the
    field: a day not over yet, a day before the last completed one, a day that skips one, a run
    of the bank still going."""
    today = business_today()
    business_date = business_date or today - timedelta(days=1)
    steps = list(steps or DEFAULT_STEPS)
    unknown = [s for s in steps if s not in CobStep.values]
    if unknown:
        raise ValidationError({"steps": f"未知步骤：{'、'.join(unknown)}"})
    if CobStep.ACCRUE not in steps:
        raise ValidationError({"steps": "计提是日终的必选步骤(它推进每笔贷款的计息日)"})
    if business_date >= today:
        raise ValidationError({"business_date": f"只能对已结束的营业日跑批(今日为 {today})"})
    last = cob_last_completed(bank_id=bank.pk)
    if last is not None and business_date < last:
        raise ValidationError(
            {"business_date": f"不能早于最近完成的日终业务日 {last}"}, code="before_last"
        )
    if last is not None and business_date > last + timedelta(days=1):
        raise ValidationError(
            {"business_date": f"请先完成 {last + timedelta(days=1)} 的日终批处理"}
        )
    if CobRun.objects.filter(bank=bank, status__in=[CobStatus.RUNNING, CobStatus.FAILED]).exists():
        raise ValidationError(
            {"bank": "该行社还有未完成的日终批处理(运行中或有失败)，请先完成它"}, code="running"
        )
    return business_date, steps


def cob_run_start(
    *,
    bank: Institution,
    actor=None,
    business_date: date | None = None,
    steps: list[str] | None = None,
    chunk_size: int | None = None,
    enqueue: bool = True,
) -> CobRun:
    """Start the close of ``business_date`` (yesterday by default) for the bank, after
    ``cob_run_check``; one task per chunk is asked for after commit."""
    require_permission(actor, "lending.run_cob", "发起日终批处理")
    business_date, steps = cob_run_check(bank=bank, business_date=business_date, steps=steps)
    size = chunk_size or _chunk_size()
    try:
        with transaction.atomic():
            run = CobRun.objects.create(
                bank=bank,
                business_date=business_date,
                steps=steps,
                chunk_size=size,
                started_by=staff_of(actor),
            )
            with connection.cursor() as cursor:
                cursor.execute(_CHUNKS, {"run": run.pk, "size": size, "bank": bank.pk})
            run.chunks_total = run.chunks.count()
            run.loans_total = Loan.objects.filter(bank=bank, status=LoanStatus.ACTIVE).count()
            run.save(update_fields=["chunks_total", "loans_total"])
            if enqueue:
                transaction.on_commit(lambda: _enqueue_chunks(run.pk), robust=True)
    except IntegrityError as clash:  # a second start raced the first past the check
        raise ValidationError({"bank": "该行社的日终批处理正在进行，请等待完成"}) from clash
    if not run.chunks_total:
        _run_advance(run.pk)
        run.refresh_from_db()
    return run


def _enqueue_chunks(run_id: int, chunk_ids: list[int] | None = None) -> None:
    from lending.cob.tasks import process_cob_chunk

    if chunk_ids is None:
        chunk_ids = list(
            CobChunk.objects.filter(run_id=run_id)
            .exclude(status=ChunkStatus.DONE)
            .values_list("pk", flat=True)
        )
    for chunk_id in chunk_ids:
        try:
            process_cob_chunk.delay(chunk_id)
        except Exception:
            logger.warning(
                "chunk %s not enqueued; the resume schedule asks again", chunk_id, exc_info=True
            )


def _try_chunk_lock(chunk_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [COB_LOCK_CLASS, chunk_id])
        return cursor.fetchone()[0]


def cob_chunk_process(*, chunk_id: int) -> CobChunk:
    """Close the run's date for the chunk's loans, once (see the module's docstring)."""
    chunk = CobChunk.objects.select_related("run").get(pk=chunk_id)
    run = chunk.run
    if chunk.status == ChunkStatus.DONE:
        return chunk
    with transaction.atomic():
        CobChunk.objects.filter(pk=chunk_id).exclude(status=ChunkStatus.DONE).update(
            status=ChunkStatus.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now()
        )
        BatchLock.objects.get_or_create(
            bank_id=run.bank_id,
            first_loan_id=chunk.first_loan_id,
            last_loan_id=chunk.last_loan_id,
            business_date=run.business_date,
        )
    try:
        with transaction.atomic():
            if not _try_chunk_lock(chunk_id):
                return chunk  # another worker has it
            chunk = CobChunk.objects.select_for_update().get(pk=chunk_id)
            if chunk.status == ChunkStatus.DONE:
                return chunk
            result = _close_range(run, chunk.first_loan_id, chunk.last_loan_id)
            _finish_chunk(chunk, result, ChunkStatus.DONE, "")
    except DatabaseError as error:
        logger.warning("chunk %s failed as a whole; retried loan by loan", chunk_id, exc_info=True)
        _process_loan_by_loan(run, chunk_id, error)
    _run_advance(run.pk)
    chunk.refresh_from_db()
    return chunk


def _close_range(run: CobRun, first_id: int, last_id: int) -> DayResult:
    """Every day from the range's oldest unclosed one to the run's date (normally just that
    date; more for loans a failed run left behind)."""
    oldest = Loan.objects.filter(
        bank_id=run.bank_id,
        pk__gte=first_id,
        pk__lte=last_id,
        status=LoanStatus.ACTIVE,
        accrued_through__lt=run.business_date,
    ).aggregate(oldest=Min("accrued_through"))["oldest"]
    result = DayResult()
    steps = [s for s in run.steps if s in LOAN_STEPS]
    day = oldest + timedelta(days=1) if oldest else run.business_date
    while oldest is not None and day <= run.business_date:
        result.add(
            loans_close_day(
                bank_id=run.bank_id, day=day, first_id=first_id, last_id=last_id, steps=steps
            )
        )
        day += timedelta(days=1)
    return result


def _finish_chunk(chunk: CobChunk, result: DayResult, status: str, error: str) -> None:
    chunk.status = status
    chunk.accrued, chunk.settled = result.accrued, result.settled
    chunk.overdue, chunk.classified = result.overdue, result.classified
    chunk.error = error
    chunk.finished_at = timezone.now()
    chunk.save()
    if status == ChunkStatus.DONE:  # every loan of the range is closed now
        chunk.failures.filter(resolved=False).update(resolved=True)
    BatchLock.objects.filter(
        bank_id=chunk.run.bank_id,
        first_loan_id=chunk.first_loan_id,
        last_loan_id=chunk.last_loan_id,
    ).delete()


def _process_loan_by_loan(run: CobRun, chunk_id: int, error: DatabaseError) -> None:
    """Each loan of a failed chunk in its own transaction: the ones that fail are listed."""
    with transaction.atomic():
        if not _try_chunk_lock(chunk_id):
            return
        chunk = CobChunk.objects.select_for_update().select_related("run").get(pk=chunk_id)
        result = DayResult()
        failed = 0
        loans = Loan.objects.filter(
            bank_id=run.bank_id,
            pk__gte=chunk.first_loan_id,
            pk__lte=chunk.last_loan_id,
            status=LoanStatus.ACTIVE,
            accrued_through__lt=run.business_date,
        ).order_by("pk")
        for loan in loans:
            try:
                with transaction.atomic():
                    locked = Loan.objects.select_for_update().get(pk=loan.pk)
                    result.add(loan_catch_up(loan=locked, through=run.business_date))
                CobLoanFailure.objects.filter(run=run, loan_id=loan.pk).update(resolved=True)
            except DatabaseError as loan_error:
                failed += 1
                CobLoanFailure.objects.update_or_create(
                    run=run,
                    loan_id=loan.pk,
                    defaults={"chunk": chunk, "error": str(loan_error)[:2000], "resolved": False},
                )
        if failed:
            _finish_chunk(
                chunk, result, ChunkStatus.FAILED, f"{failed}笔贷款处理失败：{error}"[:2000]
            )
        else:
            _finish_chunk(chunk, result, ChunkStatus.DONE, "")


def _run_advance(run_id: int) -> None:
    """When no chunk is left to do: run the bank-wide steps and complete the run (the business
    date moves on), or mark it 有失败 when a chunk failed."""
    with transaction.atomic():
        run = CobRun.objects.select_for_update().get(pk=run_id)
        if run.status == CobStatus.COMPLETED:
            return
        counts = {row["status"]: row["n"] for row in _chunk_counts(run)}
        if counts.get(ChunkStatus.PENDING) or counts.get(ChunkStatus.RUNNING):
            return
        report = _report(run)
        if counts.get(ChunkStatus.FAILED):
            run.status = CobStatus.FAILED
        else:
            if CobStep.EXPIRE_LINES in run.steps:
                report["lines_expired"] = credit_lines_expire(
                    on_date=run.business_date + timedelta(days=1)
                )
            run.status = CobStatus.COMPLETED
            run.finished_at = timezone.now()
        run.report = report
        run.save(update_fields=["status", "report", "finished_at"])


def _chunk_counts(run: CobRun):
    return run.chunks.values("status").annotate(n=Count("id")).order_by()


def _report(run: CobRun) -> dict:
    totals = run.chunks.aggregate(
        accrued=Sum("accrued"),
        settled=Sum("settled"),
        overdue=Sum("overdue"),
        classified=Sum("classified"),
    )
    report = {name: value or 0 for name, value in totals.items()}
    report["failed_loans"] = run.failures.filter(resolved=False).count()
    return report


def cob_run_retry(*, run: CobRun, actor=None) -> CobRun:
    """继续执行 / 重试失败: every chunk of the run not done is asked for again."""
    require_permission(actor, "lending.run_cob", "发起日终批处理")
    with transaction.atomic():
        run = CobRun.objects.select_for_update().get(pk=run.pk)
        if run.status == CobStatus.COMPLETED:
            raise ValidationError({"status": "该日终批处理已完成"})
        if run.status == CobStatus.FAILED:
            if CobRun.objects.filter(bank_id=run.bank_id, status=CobStatus.RUNNING).exists():
                raise ValidationError({"bank": "该行社的日终批处理正在进行，请等待完成"})
            run.status = CobStatus.RUNNING
            run.save(update_fields=["status"])
        CobChunk.objects.filter(run=run, status=ChunkStatus.FAILED).update(
            status=ChunkStatus.PENDING
        )
        transaction.on_commit(lambda: _enqueue_chunks(run.pk), robust=True)
    return run


def cob_runs_resume(*, stale_after: timedelta = STALE_AFTER) -> int:
    """Chunks of running runs that nobody works on (pending, or claimed by a worker that died:
    its advisory lock is free) are asked for again; the number asked."""
    stale = []
    cutoff = timezone.now() - stale_after
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
            [COB_LOCK_CLASS],
        )
        held = {row[0] for row in cursor.fetchall()}
    chunks = CobChunk.objects.filter(run__status=CobStatus.RUNNING).exclude(status=ChunkStatus.DONE)
    for chunk in chunks.only("pk", "run_id", "status", "started_at"):
        if chunk.pk in held:
            continue
        if chunk.status == ChunkStatus.RUNNING and chunk.started_at and chunk.started_at > cutoff:
            continue
        if chunk.status == ChunkStatus.FAILED:
            continue
        stale.append(chunk)
    for chunk in stale:
        _enqueue_chunks(chunk.run_id, [chunk.pk])
    return len(stale)


def cob_nightly() -> list[int]:
    """The nightly close of yesterday for every bank with active loans whose previous day is
    closed (a bank whose last run failed waits for it); the runs started."""
    yesterday = business_today() - timedelta(days=1)
    started = []
    banks = Institution.objects.filter(
        pk__in=Loan.objects.filter(status=LoanStatus.ACTIVE).values("bank_id")
    )
    for bank in banks:
        try:
            started.append(cob_run_start(bank=bank, business_date=yesterday).pk)
        except ValidationError as refused:
            logger.warning(
                "close of business of %s for %s not started: %s", bank, yesterday, refused.messages
            )
    return started
