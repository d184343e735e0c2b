"""Audit trail: one decorator for models, one context for non-request work.

``@audited()`` installs PostgreSQL triggers (django-pghistory) that write an event row for every
insert, update and delete, including bulk ``update()`` and ``COPY``-free raw SQL, because the
database does it, not Python. ``pghistory.middleware.HistoryMiddleware`` attaches the acting user
and request path to every event written during a request; tasks and commands wrap their work in
``audit_context(...)`` so their events say who (or what) acted.
"""

from __future__ import annotations

from typing import Any

import pghistory


def audited(**track_kwargs: Any):
    """Class decorator: keep a full history of the model (insert, update, delete snapshots)."""
    return pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        **track_kwargs,
    )


def audit_context(**metadata: Any):
    """Context manager attaching ``metadata`` (e.g. ``user=…, command=…``) to events written."""
    return pghistory.context(**metadata)
