"""Celery task of the risk lists: the nightly peer-review rule (ids in, one service call)."""

from __future__ import annotations

from celery import shared_task

from common.audit import audit_context
from common.schedules import DefaultSchedule, register_default
from common.tasks import TRANSIENT_ERRORS

PEER_REVIEW_SYNC_TASK = "risk.lists.tasks.sync_peer_review_entries"


@shared_task(
    name=PEER_REVIEW_SYNC_TASK,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=3,
)
def sync_peer_review_entries(bank_id: int | None = None) -> int:
    """Every bank's peer-review entries brought in line with the latest closed rounds (or one
    bank's). The service is idempotent, so a retry simply runs it again."""
    from org.models import Institution
    from risk.lists.services import risk_list_entries_sync_from_peer_review

    bank = Institution.objects.get(pk=bank_id) if bank_id is not None else None
    with audit_context(task=PEER_REVIEW_SYNC_TASK):
        result = risk_list_entries_sync_from_peer_review(bank=bank)
    return result.added + result.ended


_registered = False


def register_schedules() -> None:
    """Called from ``RiskConfig.ready``: the nightly run after the 00:20 closing of rounds past
    their deadline, so a round closed overnight lists its households by morning (editable in
    the admin, 周期性任务)."""
    global _registered
    if not _registered:
        register_default(
            DefaultSchedule(
                name="按背靠背评议结论同步风险名单",
                task=PEER_REVIEW_SYNC_TASK,
                hour="1",
                minute="10",
            )
        )
        _registered = True
