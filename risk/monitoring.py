"""Model monitoring: population stability (PSI) and, once outcomes mature, discrimination.

The baseline is the training sample's distribution, stored on ``Scorecard.baseline`` by training
(:func:`baseline_from_sample` computes it from the scores and features of that sample)::

    {"score": {"edges": [e1, …, ek], "shares": [s0, …, sk], "missing": m},
     "features": {name: {"edges": […], "shares": […], "missing": m}
                      | {"categories": [v1, …], "shares": […], "missing": m}}}

Numeric edges are interior cut points (deciles of the sample): bucket 0 is ``x < e1``, bucket i
is ``e_i ≤ x < e_{i+1}``, the last ``x ≥ ek``. Features with few distinct values (flags, ranks,
counts) are stored by category instead. Shares are fractions of all rows; ``missing`` is the
fraction missing, so shares and missing sum to one. Values never seen in training fall into an
"other" bucket whose expected share is zero.

PSI = Σ (actual − expected) · ln(actual / expected) over the buckets, each share floored at
:data:`EPSILON` so an empty bucket costs a finite amount. Bands: < 0.10 stable, 0.10–0.25 watch,
> 0.25 act.

A scorecard that scored fewer than ``RISK_MONITORING_MIN_SAMPLE`` households (a setting, default
:data:`DEFAULT_MIN_SAMPLE`) in the window gets no band: the run is stored with its PSI for the
record but marked 样本不足 (``MonitoringRun.Band.SPARSE``) and flags nothing. Chance alone moves
ten decile shares of a few dozen households far enough to read as a drift (16 households give a
PSI above 0.25 without any change in the population).

"Recent" is the latest score of each household under the scorecard in the last ``days`` days
(batch and application scores alike) with the feature values stored on the score.

Matured outcomes live in the lending layer (above risk): it registers a provider with
:func:`register_matured_outcomes`; until then KS and AUC stay empty.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.utils import timezone

from risk.features import FEATURE_NAMES
from risk.models import HouseholdScore, MonitoringRun, Scorecard

logger = logging.getLogger(__name__)

EPSILON = 1e-4
STABLE_BELOW, ACT_ABOVE = 0.10, 0.25
BASELINE_BINS = 10
MAX_CATEGORIES = 12
DEFAULT_WINDOW_DAYS = 30
MAX_SAMPLE = 500_000
MIN_MATURED = 30
DEFAULT_MIN_SAMPLE = 100


def min_sample() -> int:
    """Households a scorecard must have scored in the window for its PSI to be banded."""
    return int(getattr(settings, "RISK_MONITORING_MIN_SAMPLE", DEFAULT_MIN_SAMPLE))


def band_for(psi: float) -> str:
    if psi < STABLE_BELOW:
        return MonitoringRun.Band.STABLE
    if psi <= ACT_ABOVE:
        return MonitoringRun.Band.WATCH
    return MonitoringRun.Band.ACT


def psi(expected: Iterable[float], actual: Iterable[float]) -> float:
    expected = np.maximum(np.asarray(expected, dtype=np.float64), EPSILON)
    actual = np.maximum(np.asarray(actual, dtype=np.float64), EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


# --- distributions -----------------------------------------------------------------------------


def distribution_spec(values: Iterable[float], *, bins: int = BASELINE_BINS) -> dict[str, Any]:
    """The baseline entry of one variable: category shares or decile edges and shares."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    missing = float(1 - len(present) / len(values)) if len(values) else 0.0
    distinct = np.unique(present)
    if len(distinct) <= MAX_CATEGORIES:
        spec: dict[str, Any] = {"categories": distinct.tolist()}
    else:
        quantiles = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
        spec = {"edges": np.unique(quantiles).tolist()}
    spec["shares"] = bucket_shares(values, spec)[:-2].tolist()  # without "other" and missing
    spec["missing"] = missing
    return spec


def bucket_shares(values: Iterable[float], spec: dict[str, Any]) -> np.ndarray:
    """Shares of ``values`` in the spec's buckets, then "other" (categorical only; 0 for numeric),
    then missing. Fractions of all values."""
    values = np.asarray(values, dtype=np.float64)
    total = len(values)
    is_missing = np.isnan(values)
    present = values[~is_missing]
    if "categories" in spec:
        categories = np.asarray(spec["categories"], dtype=np.float64)
        position = np.searchsorted(categories, present)
        known = np.zeros(len(present), dtype=bool)
        if len(categories):
            inside = position < len(categories)
            known[inside] = categories[position[inside]] == present[inside]
        counts = np.bincount(position[known], minlength=len(categories)).astype(np.float64)
        other = float((~known).sum())
    else:
        edges = np.asarray(spec["edges"], dtype=np.float64)
        counts = np.bincount(
            np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1
        ).astype(np.float64)
        other = 0.0
    shares = np.append(counts, [other, float(is_missing.sum())])
    return shares / total if total else shares


def spec_psi(spec: dict[str, Any], values: Iterable[float]) -> float:
    expected = np.append(
        np.asarray(spec["shares"], dtype=np.float64), [0.0, spec.get("missing", 0)]
    )
    return psi(expected, bucket_shares(values, spec))


def baseline_from_sample(scores: Iterable[float], frame: pd.DataFrame) -> dict[str, Any]:
    """``Scorecard.baseline`` from the training sample's scores and feature frame (columns that
    are not catalogue features, e.g. the target, are ignored)."""
    return {
        "score": distribution_spec(scores),
        "features": {
            name: distribution_spec(frame[name].to_numpy(dtype=np.float64))
            for name in frame.columns
            if name in FEATURE_NAMES
        },
    }


# --- recent scores -----------------------------------------------------------------------------


def recent_sample(
    scorecard: Scorecard, *, since: datetime.datetime, features: Iterable[str] = ()
) -> pd.DataFrame:
    """The latest score per household under ``scorecard`` since ``since``: a ``score`` column
    and one column per feature of ``features`` the scorecard has (others are left out)."""
    from risk.scoring import PointsTable

    column = {name: k for k, name in enumerate(PointsTable.load(scorecard).features, start=1)}
    names = [name for name in features if name in FEATURE_NAMES and name in column]
    table = HouseholdScore._meta.db_table
    extract = "".join(f", feature_values[{column[name]}] AS {name}" for name in names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH latest AS (
                SELECT DISTINCT ON (household_id) score, feature_values
                FROM {table}
                WHERE scorecard_id = %s AND scored_at >= %s
                ORDER BY household_id, scored_at DESC
                LIMIT %s
            )
            SELECT score::float8 AS score {extract} FROM latest
            """,
            [scorecard.pk, since, MAX_SAMPLE],
        )
        frame = pd.DataFrame(cursor.fetchall(), columns=["score", *names], dtype=np.float64)
    return frame


# --- matured outcomes (the lending hook) -------------------------------------------------------

MaturedOutcomesProvider = Callable[[Scorecard], Iterable[tuple[float, int]]]
_matured_outcomes_provider: MaturedOutcomesProvider | None = None


def register_matured_outcomes(provider: MaturedOutcomesProvider | None) -> None:
    """Lending registers ``provider(scorecard)`` → ``(score, bad)`` pairs: the score each
    decision under ``scorecard`` gave, and whether that loan went bad (ever 90+ days past due
    within 12 months) — only loans whose 12 months have passed."""
    global _matured_outcomes_provider
    _matured_outcomes_provider = provider


def discrimination(scores: Iterable[float], bads: Iterable[int]) -> tuple[float, float] | None:
    """``(AUC, KS)`` of scores (higher = safer) against outcomes; None without both classes."""
    scores = np.asarray(scores, dtype=np.float64)
    bads = np.asarray(bads, dtype=np.int64)
    if len(scores) < MIN_MATURED or bads.min() == bads.max():
        return None
    from sklearn.metrics import roc_auc_score, roc_curve

    auc = float(roc_auc_score(bads, -scores))
    false_positive, true_positive, _ = roc_curve(bads, -scores)
    return auc, float(np.max(true_positive - false_positive))


# --- the service -------------------------------------------------------------------------------


def monitoring_run(
    *, scorecard: Scorecard, days: int = DEFAULT_WINDOW_DAYS, now=None
) -> MonitoringRun | None:
    """Compute and store the scorecard's stability over the last ``days`` days. Returns None (and
    stores nothing) when the scorecard has no baseline or nobody was scored in the window; with
    fewer than :func:`min_sample` households scored the run's band is 样本不足 (``SPARSE``), not
    a PSI band, whatever the PSI."""
    baseline = scorecard.baseline or {}
    if "score" not in baseline:
        logger.warning("scorecard %s has no baseline; PSI not computed", scorecard.pk)
        return None
    now = now or timezone.now()
    feature_specs = baseline.get("features", {})
    sample = recent_sample(
        scorecard, since=now - datetime.timedelta(days=days), features=feature_specs
    )
    if sample.empty:
        logger.info("scorecard %s: no scores in the last %s days", scorecard.pk, days)
        return None
    score_psi = spec_psi(baseline["score"], sample["score"].to_numpy())
    feature_psi = {
        name: round(spec_psi(spec, sample[name].to_numpy()), 6)
        for name, spec in feature_specs.items()
        if name in sample.columns
    }
    matured = None
    if _matured_outcomes_provider is not None:
        pairs = list(_matured_outcomes_provider(scorecard))
        if pairs:
            scores, bads = zip(*pairs, strict=True)
            matured = discrimination(scores, bads)
    return MonitoringRun.objects.create(
        scorecard=scorecard,
        computed_at=now,
        sample_size=len(sample),
        score_psi=round(score_psi, 6),
        band=band_for(score_psi) if len(sample) >= min_sample() else MonitoringRun.Band.SPARSE,
        feature_psi=feature_psi,
        matured_auc=None if matured is None else round(matured[0], 6),
        matured_ks=None if matured is None else round(matured[1], 6),
    )


def monitoring_run_all(*, days: int = DEFAULT_WINDOW_DAYS) -> int:
    """Monitor every champion and challenger; one failing scorecard does not stop the rest."""
    written = 0
    for scorecard in Scorecard.objects.filter(
        status__in=[Scorecard.Status.CHAMPION, Scorecard.Status.CHALLENGER]
    ):
        try:
            written += monitoring_run(scorecard=scorecard, days=days) is not None
        except Exception:
            logger.exception("monitoring of scorecard %s failed", scorecard.pk)
    return written
