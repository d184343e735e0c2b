"""Celery tasks of loans: ids in, one service call, retry on a transient error."""

from __future__ import annotations

from celery import shared_task

from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS
from lending.corebank.gateway import CoreUnavailable

RETRY_TASK = "lending.loans.tasks.retry_stale_disbursements"


@shared_task(
    autoretry_for=(*TRANSIENT_ERRORS, CoreUnavailable),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=12,
)
def disburse_loan(loan_id: int) -> str:
    from lending.loans.services import loan_disburse

    return loan_disburse(loan_id=loan_id).status


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def retry_stale_disbursements() -> int:
    from lending.loans.services import loans_disbursement_retry

    return loans_disbursement_retry()


_registered = False


def register_schedules() -> None:
    """Every ten minutes, loans whose core call was lost are asked again (editable: 周期性任务)."""
    global _registered
    if not _registered:
        register_default(DefaultSchedule(name="放款重试", task=RETRY_TASK, hour="*", minute="*/10"))
        _registered = True
