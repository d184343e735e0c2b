"""Reads of the risk app for the back office's index page (``config/dashboard.py``): households
rated, and the models that need someone's attention."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from org.tenancy import scope_for, scope_queryset
from risk.models import HouseholdScore, MonitoringRun, Scorecard
from risk.monitoring import band_for
from villages.selectors import week_start

_BAND_RANK = {
    MonitoringRun.Band.SPARSE: -1,  # listed (样本不足), after every flagged card
    MonitoringRun.Band.STABLE: 0,
    MonitoringRun.Band.WATCH: 1,
    MonitoringRun.Band.ACT: 2,
}


def households_rated_since(user, since: datetime.datetime) -> int:
    """Households the user may see scored by a champion since ``since`` (one PAD score or a
    batch: a household scored twice counts once)."""
    return (
        scope_queryset(HouseholdScore.objects.all(), user)
        .filter(scored_at__gte=since, role=HouseholdScore.Role.CHAMPION)
        .values("household_id")
        .distinct()
        .count()
    )


def households_rated_by_week(user, *, weeks: int = 8) -> dict[datetime.date, int]:
    """Monday (Beijing time) → households the user may see rated that week."""
    since = week_start() - datetime.timedelta(weeks=weeks - 1)
    rows = (
        scope_queryset(HouseholdScore.objects.all(), user)
        .filter(scored_at__gte=since, role=HouseholdScore.Role.CHAMPION)
        .annotate(week=TruncWeek("scored_at", tzinfo=timezone.get_current_timezone()))
        .values("week")
        .annotate(households=Count("household_id", distinct=True))
        .order_by()
    )
    return {timezone.localtime(row["week"]).date(): row["households"] for row in rows}


@dataclass(frozen=True)
class ScorecardAttention:
    scorecard: Scorecard
    run: MonitoringRun
    band: str  # MonitoringRun.Band: the worse of the score's and the worst feature's
    worst_feature: str
    worst_feature_psi: float

    @property
    def band_label(self) -> str:
        return MonitoringRun.Band(self.band).label


def scorecards_needing_attention(user) -> list[ScorecardAttention]:
    """Champions and challengers the user may see (their bank's and the federation's) whose
    latest monitoring run is not stable — by the score's PSI or by any feature's — worst first.

    A drifting feature is flagged even when the score is stable: the score's PSI can hide a
    feature that moved one way while another moved back. A run on too few households is listed
    as 样本不足 (``SPARSE``), after the flagged ones, and flags nothing."""
    scope = scope_for(user)
    if scope.sees_nothing:
        return []
    scorecards = Scorecard.objects.filter(
        status__in=[Scorecard.Status.CHAMPION, Scorecard.Status.CHALLENGER]
    ).select_related("segment", "bank")
    if not scope.all_banks:
        scorecards = scorecards.filter(Q(bank_id=scope.bank_id) | Q(bank__isnull=True))
    by_pk = {scorecard.pk: scorecard for scorecard in scorecards}
    latest = (
        MonitoringRun.objects.filter(scorecard_id__in=list(by_pk))
        .order_by("scorecard_id", "-computed_at")
        .distinct("scorecard_id")
    )
    flagged = []
    for run in latest:
        worst_name, worst_psi = max(
            (run.feature_psi or {}).items(), key=lambda item: item[1] or 0, default=("", 0.0)
        )
        band = MonitoringRun.Band(run.band)
        if band != MonitoringRun.Band.SPARSE:  # too few scores: no feature flags either
            band = max(band, band_for(worst_psi or 0), key=_BAND_RANK.get)
        if band != MonitoringRun.Band.STABLE:
            flagged.append(
                ScorecardAttention(by_pk[run.scorecard_id], run, band, worst_name, worst_psi or 0)
            )
    flagged.sort(
        key=lambda item: (
            -_BAND_RANK[item.band],
            -max(item.run.score_psi, item.worst_feature_psi),
        )
    )
    return flagged
