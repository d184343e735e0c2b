"""Reads of grading: which households the nightly run re-rates, and batch jobs as staff read them."""

from __future__ import annotations

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast

from org.models import Institution
from risk.models import HouseholdScore, ScoringJob
from villages.models import Campaign, EconomicArchive, Household, Village


def households_archive_changed_since_scored() -> QuerySet[Household]:
    """Households whose economic archive was added or edited after their latest champion score,
    and households with an archive that were never scored (an import or a PAD just created them).

    Compared with the archive's ``updated_at`` rather than the household's: scoring itself
    bumps the household (its credit grade changes), which would otherwise select it again.
    """
    latest_score = (
        HouseholdScore.objects.filter(
            household_id=OuterRef("pk"), role=HouseholdScore.Role.CHAMPION
        )
        .order_by("-scored_at")
        .values("scored_at")[:1]
    )
    archives = EconomicArchive.objects.filter(household_id=OuterRef("pk"))
    return (
        Household.objects.annotate(last_scored_at=Subquery(latest_score))
        .filter(
            Q(Exists(archives), last_scored_at__isnull=True)
            | Exists(archives.filter(updated_at__gt=OuterRef("last_scored_at")))
        )
        .order_by("pk")
    )


def scoring_jobs_with_scope_names(queryset: QuerySet[ScoringJob]) -> QuerySet[ScoringJob]:
    """Jobs annotated with ``scope_name``: the village, campaign or bank by name (``全省`` for the
    province), read in the same query as the page, so a list shows names rather than ids."""
    number = Cast(OuterRef("scope_id"), BigIntegerField())

    def name_of(model):
        return Subquery(model.objects.filter(pk=number).values("name")[:1])

    # Each branch's cast runs only for rows of that scope, whose ids the job service checked are
    # numbers; the province's empty id never reaches a cast.
    return queryset.annotate(
        scope_name=Case(
            When(scope=ScoringJob.Scope.VILLAGE, then=name_of(Village)),
            When(scope=ScoringJob.Scope.CAMPAIGN, then=name_of(Campaign)),
            When(scope=ScoringJob.Scope.BANK, then=name_of(Institution)),
            default=Value("全省"),
            output_field=CharField(),
        )
    )
