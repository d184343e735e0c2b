"""Celery tasks of the close of business: ids in, one service call, retry on a transient error."""

from __future__ import annotations

from celery import shared_task

from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS

NIGHTLY_TASK = "lending.cob.tasks.run_nightly_cob"
RESUME_TASK = "lending.cob.tasks.resume_cob_runs"


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def process_cob_chunk(chunk_id: int) -> str:
    from lending.cob.services import cob_chunk_process

    return cob_chunk_process(chunk_id=chunk_id).status


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def run_nightly_cob() -> list[int]:
    from lending.cob.services import cob_nightly

    return cob_nightly()


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def resume_cob_runs() -> int:
    from lending.cob.services import cob_runs_resume

    return cob_runs_resume()


_registered = False


def register_schedules() -> None:
    """日终批处理 at 00:40 for yesterday (after 额度到期 at 00:30); every minute, chunks a lost
    worker left are asked for again (editable: 周期性任务)."""
    global _registered
    if not _registered:
        register_default(
            DefaultSchedule(name="日终批处理", task=NIGHTLY_TASK, hour="0", minute="40")
        )
        register_default(
            DefaultSchedule(name="日终批处理续跑", task=RESUME_TASK, hour="*", minute="*")
        )
        _registered = True
