"""Writes of the shared kernel: idempotency records."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.models import IdempotencyRecord


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"  # this request owns the key: do the work
    REPLAY = "replay"  # done before with the same body: answer with the stored response
    MISMATCH = "mismatch"  # the key was used for a different request body
    IN_FLIGHT = "in_flight"  # the first request with this key is still being processed


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    record: IdempotencyRecord


def idempotency_claim(
    *, user_id: int, key: str, method: str, path: str, request_hash: str
) -> Claim:
    """Claim ``key`` for this request, or say why it cannot be claimed.

    The claim commits on its own (outside any request transaction) so a concurrent retry sees it
    at once and gets 409 instead of doing the work a second time.
    """
    now = timezone.now()
    fields = {
        "method": method,
        "path": path,
        "request_hash": request_hash,
        "state": IdempotencyRecord.State.IN_FLIGHT,
        "response_status": None,
        "response_body": None,
        "claimed_at": now,
        "completed_at": None,
        "expires_at": now + settings.IDEMPOTENCY_KEY_TTL,
    }
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(user_id=user_id, key=key, **fields)
        return Claim(ClaimOutcome.CLAIMED, record)
    except IntegrityError:
        pass

    record = IdempotencyRecord.objects.get(user_id=user_id, key=key)
    stale_claim = (
        record.state == IdempotencyRecord.State.IN_FLIGHT
        and record.claimed_at < now - settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT
    )
    if record.expires_at <= now or stale_claim:
        # An expired key, or a claim whose process died mid-request: take it over, guarded by
        # the values we read so two retries cannot both win.
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, state=record.state, claimed_at=record.claimed_at
        ).update(**fields)
        if taken:
            record.refresh_from_db()
            return Claim(ClaimOutcome.CLAIMED, record)
        record.refresh_from_db()

    if record.request_hash != request_hash:
        return Claim(ClaimOutcome.MISMATCH, record)
    if record.state == IdempotencyRecord.State.IN_FLIGHT:
        return Claim(ClaimOutcome.IN_FLIGHT, record)
    return Claim(ClaimOutcome.REPLAY, record)


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: Any) -> None:
    """Store the response; call inside the transaction that made the change it describes."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.COMPLETED,
        response_status=status,
        response_body=body,
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request failed, so the client may retry with the same key."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT, claimed_at=record.claimed_at
    ).delete()


def idempotency_records_purge() -> int:
    """Delete records past their time to live. Returns how many were deleted."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
