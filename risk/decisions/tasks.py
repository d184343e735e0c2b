"""Celery tasks of the decisions: ids in, one service call, retry on a transient error.

A job task is acknowledged after it returns and re-queued if its worker dies; the run resumes
after the last committed chunk (``risk.decisions.batch``)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def run_decision_job(job_id: int) -> int:
    from risk.decisions.batch import decision_job_run

    return decision_job_run(job_id=job_id).households_done
