"""Celery tasks of the decisions: ids in, one service call, retry on a transient error.

The job task splits the scope into ranges and enqueues a chunk task per range; a chunk task is
acknowledged after it returns and re-queued if its worker dies, and a redelivered chunk decides
only the households still without a decision in the job (``risk.decisions.batch``)."""

from __future__ import annotations

from celery import shared_task

from common.tasks import TRANSIENT_ERRORS


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def run_decision_job(job_id: int) -> int:
    from risk.decisions.batch import decision_job_start

    return len(decision_job_start(job_id=job_id))


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def run_decision_chunk(job_id: int, first: str, last: str) -> int:
    from risk.decisions.batch import decision_chunk_run, decision_job_fail

    try:
        return decision_chunk_run(job_id=job_id, first=first, last=last)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        decision_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        raise
