"""Celery tasks of credit lines: ids in, one service call, retry on a transient error."""

from __future__ import annotations

from celery import shared_task

from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS

EXPIRE_TASK = "lending.lines.tasks.expire_credit_lines"


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def run_line_preapproval(run_id: int) -> int:
    from lending.lines.services import line_preapproval_run

    return line_preapproval_run(run_id=run_id).created


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def expire_credit_lines() -> int:
    from lending.lines.services import credit_lines_expire

    return credit_lines_expire()


_registered = False


def register_schedules() -> None:
    """Lines past their validity expire every night at 00:30 (editable: 周期性任务)."""
    global _registered
    if not _registered:
        register_default(
            DefaultSchedule(name="授信额度到期处理", task=EXPIRE_TASK, hour="0", minute="30")
        )
        _registered = True
