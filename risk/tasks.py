"""Celery tasks of the modelling core: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from common.audit import audit_context
from common.schedules import DefaultSchedule, register_default

# Batch scoring and monitoring tasks live in their own module; importing it here registers them
# with workers, which discover each app's ``tasks`` module only.
from risk import batch_tasks  # noqa: F401
from risk.batch_tasks import TRANSIENT_ERRORS
from risk.decisions import report_tasks  # noqa: F401  (back-tests)

NIGHTLY_RATING_TASK = "risk.tasks.rate_changed_households"


@shared_task(acks_late=True)
def train_scorecard(training_id: int) -> int | None:
    """Run a queued ``ScorecardTraining``; its row carries the progress and the outcome."""
    from risk.registry import scorecard_training_run

    with audit_context(task="risk.train_scorecard", training=training_id):
        training = scorecard_training_run(training_id=training_id)
    return training.scorecard_id


@shared_task(
    name=NIGHTLY_RATING_TASK,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=3,
)
def rate_changed_households() -> int:
    """The nightly re-rating: households whose archive changed since their last score. A retry
    starts over from the selection, which no longer holds the households already scored."""
    from risk.services import household_scores_refresh

    return household_scores_refresh()


_registered = False


def register_schedules() -> None:
    """Called from ``RiskConfig.ready``: the nightly re-rating (editable in the admin, 周期性任务)."""
    global _registered
    if not _registered:
        register_default(
            DefaultSchedule(
                name="档案变更农户夜间重新评级", task=NIGHTLY_RATING_TASK, hour="2", minute="30"
            )
        )
        _registered = True
