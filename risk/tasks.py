"""Celery tasks of the modelling core: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from common.audit import audit_context


@shared_task(acks_late=True)
def train_scorecard(training_id: int) -> int | None:
    """Run a queued ``ScorecardTraining``; its row carries the progress and the outcome."""
    from risk.registry import scorecard_training_run

    with audit_context(task="risk.train_scorecard", training=training_id):
        training = scorecard_training_run(training_id=training_id)
    return training.scorecard_id


# Batch scoring and monitoring tasks live in their own module; importing it here registers them
# with workers, which discover each app's ``tasks`` module only.
from risk import batch_tasks  # noqa: E402, F401
