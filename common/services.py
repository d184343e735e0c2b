"""Writes of the shared kernel: idempotency records."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
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
    # The key's record; ``None`` only for an IN_FLIGHT answer after ``_CLAIM_ATTEMPTS`` lost races.
    record: IdempotencyRecord | None


# How often a claim looks again when the record it conflicted with is gone before it could be
# read (released by a failed request, purged after expiry) or was taken over under it. Each retry
# needs another request to finish in the few microseconds between two statements; after this
# many the client is told to retry (409), as for any request still in flight.
_CLAIM_ATTEMPTS = 3


def idempotency_claim(
    *, user_id: int, key: str, method: str, path: str, request_hash: str
) -> Claim:
    """Claim ``key`` for this request, or say why it cannot be claimed.

    The claim is one ``INSERT … ON CONFLICT DO NOTHING``: it raises nothing when the key is
    taken, so it is safe inside an outer transaction (no aborted transaction, no savepoint), and
    outside one it commits at once so a concurrent retry sees it and gets 409 instead of doing the
    work a second time. When the key is taken, the record is read; if it has vanished meanwhile
    (its request failed and released it, or it expired and was purged) the claim is tried again.
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
    for _attempt in range(_CLAIM_ATTEMPTS):
        pk = _insert_unless_taken(user_id=user_id, key=key, fields=fields)
        if pk is not None:
            return Claim(ClaimOutcome.CLAIMED, _claimed(pk, user_id, key, fields))
        record = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
        if record is None:
            continue
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
                return Claim(ClaimOutcome.CLAIMED, _claimed(record.pk, user_id, key, fields))
            continue  # another retry took it over, or its owner released it: look again
        if record.request_hash != request_hash:
            return Claim(ClaimOutcome.MISMATCH, record)
        if record.state == IdempotencyRecord.State.IN_FLIGHT:
            return Claim(ClaimOutcome.IN_FLIGHT, record)
        return Claim(ClaimOutcome.REPLAY, record)
    return Claim(ClaimOutcome.IN_FLIGHT, None)


def _insert_unless_taken(*, user_id: int, key: str, fields: dict) -> int | None:
    """Insert the claim; its id, or ``None`` when (user, key) is already taken."""
    values = {"user_id": user_id, "key": key, **fields}
    meta = IdempotencyRecord._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "
            f"VALUES ({', '.join(['%s'] * len(values))}) "
            f"ON CONFLICT ({quote('user_id')}, {quote('key')}) DO NOTHING RETURNING id",
            [str(value) if name == "state" else value for name, value in values.items()],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def _claimed(pk: int, user_id: int, key: str, fields: dict) -> IdempotencyRecord:
    """The record as this claim wrote it, without reading it back."""
    return IdempotencyRecord.from_db(
        connection.alias,
        ["id", "user_id", "key", *fields],
        [pk, user_id, key, *fields.values()],
    )


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
