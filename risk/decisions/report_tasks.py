"""Celery task of the back-tests: an id in, one service call. A redelivered task finds a
back-test done and does nothing; one redelivered while it runs starts it over, and only the
latest run's results are kept (``risk.decisions.backtest.backtest_run``)."""

from __future__ import annotations

from celery import shared_task

from risk.decisions.tasks import TRANSIENT_ERRORS


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def run_backtest(backtest_id: int) -> int:
    from risk.decisions.backtest import backtest_run

    return backtest_run(backtest_id=backtest_id).decisions
