"""Scorecards with small, hand-written points tables for the batch scoring tests."""

from __future__ import annotations

from decimal import Decimal

from risk.models import Scorecard, ScorecardBin, ScoringSegment

GRADE_CUTOFFS = [["AAA", 80], ["AA", 60], ["A", 40], ["B", 20], ["C", 0]]

# feature → [(kind, lower, upper, categories, points)], the missing bin last
BINS = {
    "net_income": [
        ("numeric", None, 10000, None, 5),
        ("numeric", 10000, 50000, None, 20),
        ("numeric", 50000, None, None, 40),
        ("missing", None, None, None, 0),
    ],
    "debt_ratio": [
        ("numeric", None, 0.3, None, 30),
        ("numeric", 0.3, None, None, 0),
        ("missing", None, None, None, 10),
    ],
    "peer_colour_rank": [
        ("categorical", None, None, [0], -50),
        ("categorical", None, None, [1], 0),
        ("categorical", None, None, [2, 3], 20),
        ("missing", None, None, None, 5),
    ],
}


def make_scorecard(
    segment: str = "farmer",
    *,
    status: str = Scorecard.Status.CHAMPION,
    bank=None,
    version: int = 1,
    shift: int = 0,
) -> Scorecard:
    """A scorecard whose points are ``BINS`` (plus ``shift`` points on every bin)."""
    scorecard = Scorecard.objects.create(
        segment=ScoringSegment.objects.get(code=segment, bank=None),
        bank=bank,
        version=version,
        name=f"{segment} v{version}",
        status=status,
        source=Scorecard.Source.SYNTHETIC,
        grade_cutoffs=GRADE_CUTOFFS,
        base_score=Decimal(50),
        base_odds=Decimal(50),
        pdo=Decimal(20),
    )
    ScorecardBin.objects.bulk_create(
        ScorecardBin(
            scorecard=scorecard,
            feature=feature,
            bin_index=index,
            kind=kind,
            label=kind
            if kind == "missing"
            else f"[{lower}, {upper})"
            if categories is None
            else "/".join(map(str, categories)),
            lower=lower,
            upper=upper,
            categories=categories,
            points=Decimal(points + shift),
        )
        for feature, bins in BINS.items()
        for index, (kind, lower, upper, categories, points) in enumerate(bins)
    )
    return scorecard


def expected_score(net_income, debt_ratio, peer_colour_rank, shift: int = 0) -> float:
    """The score ``BINS`` give, written out by hand."""

    def numeric(value, bins):
        if value is None:
            return bins[-1][4]
        for _, lower, upper, _, points in bins[:-1]:
            if (lower is None or value >= lower) and (upper is None or value < upper):
                return points
        raise AssertionError(value)

    def categorical(value, bins):
        if value is None:
            return bins[-1][4]
        return next(points for _, _, _, cats, points in bins[:-1] if value in cats)

    return (
        numeric(net_income, BINS["net_income"])
        + numeric(debt_ratio, BINS["debt_ratio"])
        + categorical(peer_colour_rank, BINS["peer_colour_rank"])
        + 3 * shift
    )


def grade_of(score: float) -> str:
    return next(grade for grade, cutoff in GRADE_CUTOFFS if score >= cutoff)


def business_bins(card: Scorecard) -> list[ScorecardBin]:
    """Two categorical bins for ``has_business`` (no: 12 points, yes: 3), no missing bin."""
    return [
        ScorecardBin(
            scorecard=card,
            feature="has_business",
            bin_index=index,
            kind="categorical",
            label=label,
            categories=[index],
            points=points,
        )
        for index, label, points in ((0, "否", 12), (1, "是", 3))
    ]
