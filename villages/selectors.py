"""Reads of the villages app, named for what they return."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from villages.models import (
    EconomicArchive,
    Household,
    PeerReviewResult,
    PeerReviewRound,
    VillageAssignment,
)


def assigned_village_ids(user) -> QuerySet:
    """Ids of the villages the user currently serves as account manager (a subquery)."""
    return (
        VillageAssignment.objects.current().filter(account_manager__user=user).values("village_id")
    )


@dataclass(frozen=True)
class VillageProgress:
    """How far a village's whole-village credit has come (整村授信进度)."""

    households: int = 0
    archived: int = 0
    reviewed: int = 0
    rated: int = 0
    pre_approved: int = 0

    @property
    def coverage_percent(self) -> Decimal:
        """授信覆盖率: households holding a pre-approved line, over all households."""
        if not self.households:
            return Decimal("0.00")
        return (Decimal(self.pre_approved) * 100 / self.households).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )

    @property
    def archived_percent(self) -> Decimal:
        if not self.households:
            return Decimal("0.00")
        return (Decimal(self.archived) * 100 / self.households).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )


def village_progress(village_ids: Iterable[int]) -> dict[int, VillageProgress]:
    """Progress of each village, in one query however many villages are asked for."""
    has_archive = Exists(EconomicArchive.objects.filter(household=OuterRef("pk")))
    has_result = Exists(
        PeerReviewResult.objects.filter(
            household=OuterRef("pk"), round__status=PeerReviewRound.Status.CLOSED
        )
    )
    rows = (
        Household.objects.filter(village_id__in=list(village_ids))
        .annotate(has_archive=has_archive, has_result=has_result)
        .values("village_id")
        .annotate(
            households=Count("pk"),
            archived=Count("pk", filter=Q(has_archive=True)),
            reviewed=Count("pk", filter=Q(has_result=True)),
            rated=Count("pk", filter=~Q(credit_grade="")),
            pre_approved=Count("pk", filter=Q(pre_approved_limit__isnull=False)),
        )
        .order_by()
    )
    return {
        row["village_id"]: VillageProgress(
            households=row["households"],
            archived=row["archived"],
            reviewed=row["reviewed"],
            rated=row["rated"],
            pre_approved=row["pre_approved"],
        )
        for row in rows
    }


def latest_archive(household) -> EconomicArchive | None:
    return household.archives.order_by("-survey_date", "-created_at").first()
