"""Celery tasks of applications: one service call, retry on a transient error."""

from __future__ import annotations

from celery import shared_task

from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS

EXPIRE_TASK = "lending.applications.tasks.expire_applications"


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def expire_applications() -> int:
    from lending.applications.services import applications_expire

    return applications_expire()


_registered = False


def register_schedules() -> None:
    """Applications waiting too long expire every night at 00:40 (editable: 周期性任务)."""
    global _registered
    if not _registered:
        register_default(
            DefaultSchedule(name="贷款申请过期处理", task=EXPIRE_TASK, hour="0", minute="40")
        )
        _registered = True
