"""Reads of the villages app, named for what they return."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from org.tenancy import scope_for, scope_queryset
from villages.models import (
    Campaign,
    EconomicArchive,
    Household,
    ImportJob,
    PeerReviewResult,
    PeerReviewRound,
    Village,
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


# --- The back office's index page (config/dashboard.py) ---------------------------------------

DASHBOARD_VILLAGES = 30


def week_start(now: datetime.datetime | None = None) -> datetime.datetime:
    """Monday 00:00 of this week in Beijing time: "this week" as staff count it (the database
    stores UTC, where Monday begins at 16:00 on Sunday)."""
    local = timezone.localtime(now or timezone.now())
    monday = local.date() - datetime.timedelta(days=local.weekday())
    return timezone.make_aware(datetime.datetime.combine(monday, datetime.time.min))


@dataclass(frozen=True)
class VillageCoverage:
    village_id: int
    name: str
    campaign_status: str  # the label, or "" without an open campaign
    progress: VillageProgress


def village_coverage_for(user, *, limit: int = DASHBOARD_VILLAGES) -> list[VillageCoverage]:
    """The villages the user may see that have a campaign planned or under way (all visible
    villages when none has), lowest coverage first — the ones to act on — in three queries."""
    visible = scope_queryset(Village.objects.all(), user)
    open_campaigns = scope_queryset(Campaign.objects.all(), user).filter(
        status__in=[Campaign.Status.PLANNED, Campaign.Status.IN_PROGRESS]
    )
    status_of = {
        row["village_id"]: Campaign.Status(row["status"]).label
        for row in open_campaigns.values("village_id", "status")
    }
    villages = visible.filter(pk__in=list(status_of)) if status_of else visible
    rows = list(villages.order_by("name").values("pk", "name")[: limit * 4])
    progress = village_progress(row["pk"] for row in rows)
    coverage = [
        VillageCoverage(
            village_id=row["pk"],
            name=row["name"],
            campaign_status=status_of.get(row["pk"], ""),
            progress=progress.get(row["pk"], VillageProgress()),
        )
        for row in rows
    ]
    coverage.sort(key=lambda c: (c.progress.coverage_percent, c.name))
    return coverage[:limit]


def households_archived_since(user, since: datetime.datetime) -> int:
    """Households the user may see with an archive written since ``since``."""
    return (
        scope_queryset(EconomicArchive.objects.all(), user)
        .filter(created_at__gte=since)
        .values("household_id")
        .distinct()
        .count()
    )


def imports_in_hand(user) -> QuerySet:
    """Imports still being checked or written, or checked and waiting for a confirmation: what
    someone has to watch or act on. Account managers see the ones they uploaded."""
    jobs = scope_queryset(ImportJob.objects.all(), user).filter(
        status__in=[
            ImportJob.Status.UPLOADED,
            ImportJob.Status.VALIDATING,
            ImportJob.Status.VALID,
            ImportJob.Status.IMPORTING,
        ]
    )
    if scope_for(user).village_restricted:
        jobs = jobs.filter(uploaded_by__user=user)
    return jobs.select_related("uploaded_by").order_by("-created_at")


def households_archived_by_week(user, *, weeks: int = 8) -> dict[datetime.date, int]:
    """Monday (Beijing time) → households the user may see archived that week, for the last
    ``weeks`` weeks including this one (weeks without archives are absent)."""
    since = week_start() - datetime.timedelta(weeks=weeks - 1)
    rows = (
        scope_queryset(EconomicArchive.objects.all(), user)
        .filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at", tzinfo=timezone.get_current_timezone()))
        .values("week")
        .annotate(households=Count("household_id", distinct=True))
        .order_by()
    )
    return {timezone.localtime(row["week"]).date(): row["households"] for row in rows}
