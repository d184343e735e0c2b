"""Reads of the villages app, named for what they return."""

from __future__ import annotations

from django.db.models import QuerySet

from villages.models import VillageAssignment


def assigned_village_ids(user) -> QuerySet:
    """Ids of the villages the user currently serves as account manager (a subquery)."""
    return (
        VillageAssignment.objects.current().filter(account_manager__user=user).values("village_id")
    )
