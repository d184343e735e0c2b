"""Claiming an Idempotency-Key when the race with its other holder is lost in every way
PostgreSQL allows: the record vanishes between the claim's statements, many claims arrive at
once, or the claim runs inside an outer transaction."""

from __future__ import annotations

import datetime
import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from common.models import IdempotencyRecord
from common.services import ClaimOutcome, idempotency_claim

TABLE = IdempotencyRecord._meta.db_table


def claim(user, key, request_hash="h1"):
    return idempotency_claim(
        user_id=user.pk, key=key, method="POST", path="/api/v1/x/", request_hash=request_hash
    )


@pytest.fixture
def user(province):
    return get_user_model().objects.get(username="b1_admin")


def released_before(statement: str, key: str):
    """A database hook: just before this connection's first ``statement`` (SELECT or UPDATE)
    on the idempotency table, the key's record is deleted — as the holder's
    ``idempotency_release`` after a failed request, or the expiry purge, would do in that gap."""
    fired = []

    def hook(execute, sql, params, many, context):
        if not fired and sql.lstrip().upper().startswith(statement) and TABLE in sql:
            fired.append(sql)
            execute(f'DELETE FROM "{TABLE}" WHERE "key" = %s', [key], False, context)
        return execute(sql, params, many, context)

    return hook, fired


def test_a_record_released_between_the_conflict_and_the_read_is_claimed_afresh(user):
    key = str(uuid.uuid4())
    assert claim(user, key).outcome is ClaimOutcome.CLAIMED  # the other request holds it
    hook, fired = released_before("SELECT", key)

    with connection.execute_wrapper(hook):
        second = claim(user, key, request_hash="h2")

    assert fired, "the claim never read the record it conflicted with"
    assert second.outcome is ClaimOutcome.CLAIMED
    record = IdempotencyRecord.objects.get(user=user, key=key)
    assert (record.pk, record.request_hash) == (second.record.pk, "h2")


def test_an_expired_record_purged_before_the_takeover_is_claimed_afresh(user):
    key = str(uuid.uuid4())
    claim(user, key)
    IdempotencyRecord.objects.filter(key=key).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    hook, fired = released_before("UPDATE", key)

    with connection.execute_wrapper(hook):
        second = claim(user, key, request_hash="h2")

    assert fired, "the claim never tried to take the expired record over"
    assert second.outcome is ClaimOutcome.CLAIMED
    assert IdempotencyRecord.objects.get(user=user, key=key).request_hash == "h2"


def test_a_taken_key_inside_an_outer_transaction_leaves_it_usable(user):
    key = str(uuid.uuid4())
    claim(user, key)
    with transaction.atomic():
        again = claim(user, key)
        mismatch = claim(user, key, request_hash="other")
        # The outer transaction was not aborted by the conflicts: it still reads and writes.
        assert IdempotencyRecord.objects.filter(key=key).count() == 1
        IdempotencyRecord.objects.filter(key=key).update(path="/api/v1/y/")
    assert (again.outcome, mismatch.outcome) == (ClaimOutcome.IN_FLIGHT, ClaimOutcome.MISMATCH)
    assert IdempotencyRecord.objects.get(key=key).path == "/api/v1/y/"


@pytest.mark.django_db(transaction=True)
def test_many_simultaneous_claims_one_wins_the_rest_wait(province):
    user = get_user_model().objects.get(username="b1_admin")
    key = str(uuid.uuid4())
    start = threading.Barrier(6)
    outcomes, errors = [], []

    def contend():
        try:
            start.wait(timeout=10)
            outcomes.append(claim(user, key).outcome)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert errors == []
    assert sorted(o.value for o in outcomes) == ["claimed"] + ["in_flight"] * 5
    assert IdempotencyRecord.objects.filter(key=key).count() == 1
