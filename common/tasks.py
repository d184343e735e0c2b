from celery import shared_task
from django.db import InterfaceError, OperationalError

from common.services import idempotency_records_purge


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def purge_expired_idempotency_records() -> int:
    return idempotency_records_purge()


# Errors a task retries (the database or broker went away for a moment); anything else fails the
# task and is reported.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError)
