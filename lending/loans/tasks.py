"""Celery tasks of loans: ids in, one service call, retry on a transient error."""

from __future__ import annotations

from celery import shared_task

from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS
from lending.corebank.gateway import CoreUnavailable

RETRY_TASK = "lending.loans.tasks.retry_stale_disbursements"
AUTO_DEBIT_TASK = "lending.loans.tasks.auto_debit_due_loans"


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


@shared_task(
    acks_late=True,
    autoretry_for=(*TRANSIENT_ERRORS, CoreUnavailable),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def auto_debit_loan(loan_id: int) -> str:
    from lending.loans.services import loan_auto_debit

    txn = loan_auto_debit(loan_id=loan_id)
    return str(txn.amount) if txn else "0"


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def auto_debit_due_loans() -> int:
    """Asks for one auto-debit per loan with something due (each its own task and retry)."""
    from lending.loans.services import loans_auto_debit_due

    due = loans_auto_debit_due()
    for loan_id in due:
        auto_debit_loan.delay(loan_id)
    return len(due)


_registered = False


def register_schedules() -> None:
    """Every ten minutes, loans whose core call was lost are asked again; at 09:00 what is due
    is debited from the borrowers' accounts (editable: 周期性任务)."""
    global _registered
    if not _registered:
        register_default(DefaultSchedule(name="放款重试", task=RETRY_TASK, hour="*", minute="*/10"))
        # After the close of business (00:40) has settled what falls due today.
        register_default(
            DefaultSchedule(name="到期自动扣款", task=AUTO_DEBIT_TASK, hour="9", minute="0")
        )
        _registered = True
