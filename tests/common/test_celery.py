"""Tasks run through a real worker (and, in CI, through Redis); enqueueing waits for commit."""

import os
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from common.models import IdempotencyRecord
from common.tasks import purge_expired_idempotency_records

pytest_plugins = ("celery.contrib.pytest",)

# .ci/run exports the machine's Redis here; without it the worker uses an in-memory broker.
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "memory://")


@pytest.fixture(scope="session")
def celery_config():
    return {
        "broker_url": BROKER,
        "result_backend": BROKER if BROKER.startswith("redis") else "cache+memory://",
        "task_always_eager": False,
    }


@pytest.fixture(scope="session")
def celery_worker_pool():
    return "solo"


def make_record(key: str, expires_in: timedelta) -> IdempotencyRecord:
    user = get_user_model().objects.get(username="b1_admin")
    now = timezone.now()
    return IdempotencyRecord.objects.create(
        user=user,
        key=key,
        method="POST",
        path="/api/v1/x/",
        request_hash="0" * 64,
        state=IdempotencyRecord.State.COMPLETED,
        response_status=201,
        response_body={},
        claimed_at=now,
        completed_at=now,
        expires_at=now + expires_in,
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_purge_task_runs_in_a_real_worker(province, celery_app, celery_worker):
    make_record("old", timedelta(seconds=-1))
    make_record("fresh", timedelta(hours=1))

    task = celery_app.tasks[purge_expired_idempotency_records.name]
    deleted = task.delay().get(timeout=30)

    assert deleted == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_enqueue_waits_for_commit_and_is_dropped_on_rollback(
    province, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as committed:
        purge_expired_idempotency_records.delay_on_commit()
    assert len(committed) == 1

    with django_capture_on_commit_callbacks() as rolled_back:
        try:
            with transaction.atomic():
                purge_expired_idempotency_records.delay_on_commit()
                raise RuntimeError("rollback")
        except RuntimeError:
            pass
    assert rolled_back == []


def test_purge_is_scheduled_nightly_and_editable_in_admin(db):
    from django_celery_beat.models import PeriodicTask

    scheduled = PeriodicTask.objects.get(task=purge_expired_idempotency_records.name)
    assert scheduled.enabled
    assert (scheduled.crontab.hour, scheduled.crontab.minute) == ("3", "15")
