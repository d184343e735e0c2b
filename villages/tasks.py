"""Villages' background tasks: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from common.audit import audit_context


@shared_task(name="villages.tasks.peer_review_close_due_rounds")
def peer_review_close_due_rounds() -> int:
    """Nightly: close the peer review rounds whose last voting day has passed."""
    from villages.services.peer_review import peer_review_rounds_close_due

    with audit_context(task="villages.peer_review_close_due_rounds"):
        return peer_review_rounds_close_due()
