"""Celery tasks of batch scoring and monitoring: ids in, one service call.

A chunk task is acknowledged only after it returns (``acks_late``) and is re-queued when its
worker dies (``reject_on_worker_lost``): the redelivered chunk is scored again, and the
idempotent writes of ``risk.batch`` make that harmless. Transient database errors retry with
backoff.
"""

from __future__ import annotations

from celery import shared_task

from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS

MONITORING_TASK = "risk.batch_tasks.monitor_scorecards"


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def score_chunk(chunk_id: int, refresh_features: bool = False) -> int:
    from risk.batch import scoring_chunk_fail, scoring_chunk_run

    try:
        return scoring_chunk_run(chunk_id=chunk_id, refresh_features=refresh_features)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        scoring_chunk_fail(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def monitor_scorecards() -> int:
    from risk.monitoring import monitoring_run_all

    return monitoring_run_all()


_registered = False


def register_schedules() -> None:
    """Called from ``RiskConfig.ready``: the daily PSI run (editable in the admin)."""
    global _registered
    if not _registered:
        register_default(
            DefaultSchedule(
                name="评分卡稳定性监控(PSI)", task=MONITORING_TASK, hour="5", minute="30"
            )
        )
        _registered = True
