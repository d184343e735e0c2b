"""A campaign batch through a real Celery worker: the job task splits the scope and enqueues a
chunk task per range after commit; the worker runs them and the job ends done."""

from __future__ import annotations

import os
import time

import pytest

from risk.decisions.models import Decision, DecisionJob
from risk.decisions.tasks import run_decision_job
from tests.risk.decisions.test_decide import LOCAL_FLOW

pytest_plugins = ("celery.contrib.pytest",)

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


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_job_runs_in_a_real_worker(world, celery_app, celery_worker):
    from risk.decisions.batch import decision_job_create
    from risk.decisions.services import (
        strategy_create,
        strategy_version_activate,
        strategy_version_submit,
    )

    users = {name: s.user for name, s in world["staff"].items()}
    draft = strategy_create(
        actor=users["fed_admin"],
        code="LOCAL_FLOW_W",
        name="本地数据决策流",
        definition=LOCAL_FLOW,
        products=[world["product"]],
        is_default=False,
    )
    strategy_version_submit(version=draft, actor=users["fed_admin"])
    strategy_version_activate(version=draft, actor=users["fed_modeller"])
    job = decision_job_create(
        product=world["product"],
        actor=users["b1_risk"],
        bank=world["province"]["bank1"],
        enqueue=False,
    )
    celery_app.tasks[run_decision_job.name].delay(job.pk).get(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status != DecisionJob.Status.RUNNING:
            break
        time.sleep(0.2)
    assert job.status == DecisionJob.Status.DONE
    assert (job.households_done, job.chunks_total, job.chunks_done) == (3, 1, 1)
    assert Decision.objects.filter(job=job).count() == 3
