from celery import shared_task

from common.services import idempotency_records_purge


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def purge_expired_idempotency_records() -> int:
    return idempotency_records_purge()
