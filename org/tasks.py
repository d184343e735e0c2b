"""Celery tasks of the organisation app: one service call, retry on a transient error."""

from __future__ import annotations

from celery import shared_task

from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS

PURGE_TOKENS_TASK = "org.tasks.purge_expired_device_tokens"


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def purge_expired_device_tokens() -> int:
    from org.services import device_tokens_purge_expired

    return device_tokens_purge_expired()


_registered = False


def register_schedules() -> None:
    """Expired tablet tokens are deleted every night at 03:20 (editable: 周期性任务)."""
    global _registered
    if not _registered:
        register_default(
            DefaultSchedule(name="清理过期设备令牌", task=PURGE_TOKENS_TASK, hour="3", minute="20")
        )
        _registered = True
