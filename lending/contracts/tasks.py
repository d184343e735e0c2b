"""Celery tasks of contracts: ids in, one service call, retry on a transient error."""

from __future__ import annotations

from celery import shared_task

from common.tasks import TRANSIENT_ERRORS
from lending.contracts.timestamps import TimestampError


@shared_task(
    autoretry_for=(*TRANSIENT_ERRORS, TimestampError),
    retry_backoff=True,
    max_retries=8,
)
def timestamp_contract_evidence(contract_id: int) -> int:
    from lending.contracts.services import evidence_timestamp_pending

    return evidence_timestamp_pending(contract_id=contract_id)
