"""PSI against the training baseline, bands, the monitoring service and its schedule."""

from __future__ import annotations

import datetime
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from risk import monitoring
from risk.models import HouseholdScore, MonitoringRun, Scorecard, ScorecardBin, ScoringSegment
from risk.monitoring import (
    EPSILON,
    band_for,
    baseline_from_sample,
    bucket_shares,
    discrimination,
    distribution_spec,
    monitoring_run,
    psi,
    register_matured_outcomes,
    spec_psi,
)
from risk.scoring import PointsTable
from risk.synthetic import generate_history
from tests.risk.batch_setup import business_bins


def test_bands():
    assert band_for(0.0) == band_for(0.0999) == MonitoringRun.Band.STABLE
    assert band_for(0.10) == band_for(0.25) == MonitoringRun.Band.WATCH
    assert band_for(0.2501) == MonitoringRun.Band.ACT


def test_psi_of_a_sample_against_itself_is_zero_and_empty_bins_are_finite():
    rng = np.random.default_rng(1)
    scores = rng.normal(600, 50, 20_000)
    spec = distribution_spec(scores)
    assert len(spec["edges"]) == 9
    assert sum(spec["shares"]) == pytest.approx(1)
    assert spec_psi(spec, scores) == pytest.approx(0, abs=1e-9)
    assert spec_psi(spec, rng.normal(600, 50, 20_000)) < 0.01  # same population, new draw
    assert psi([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0
    one_sided = psi([1.0, 0.0], [0.0, 1.0])
    assert np.isfinite(one_sided)
    assert one_sided == pytest.approx(2 * (1 - EPSILON) * np.log(1 / EPSILON))


def test_psi_of_a_shifted_sample_says_act():
    rng = np.random.default_rng(2)
    spec = distribution_spec(rng.normal(600, 50, 20_000))
    shifted = spec_psi(spec, rng.normal(640, 50, 20_000))
    assert shifted > 0.25
    assert band_for(shifted) == MonitoringRun.Band.ACT
    drifted = spec_psi(spec, rng.normal(620, 50, 20_000))
    assert band_for(drifted) == MonitoringRun.Band.WATCH


def test_baseline_from_a_training_sample_and_a_bad_harvest_year():
    trained = generate_history(20_000, seed=7).frame
    scores = 600 - 40 * trained["debt_ratio"].to_numpy()
    baseline = baseline_from_sample(scores, trained)
    assert set(baseline) == {"score", "features"}
    assert "bad" not in baseline["features"]
    assert baseline["features"]["has_business"]["categories"] == [0.0, 1.0]
    assert "edges" in baseline["features"]["net_income"]
    peer = baseline["features"]["peer_colour_rank"]
    assert peer["missing"] == pytest.approx(0.2, abs=0.02)
    assert sum(peer["shares"]) + peer["missing"] == pytest.approx(1)

    again = generate_history(20_000, seed=8).frame
    assert spec_psi(peer, again["peer_colour_rank"]) < 0.01
    bad_year = generate_history(20_000, seed=8, shift=2.0).frame
    assert spec_psi(peer, bad_year["peer_colour_rank"]) > 0.25


def test_unseen_categories_count_against_stability():
    spec = distribution_spec(np.array([0.0, 1.0] * 50))
    shares = bucket_shares(np.array([0.0, 1.0, 2.0, np.nan]), spec)
    assert shares.tolist() == [0.25, 0.25, 0.25, 0.25]  # 0, 1, other, missing
    assert spec_psi(spec, np.array([0.0, 1.0, 2.0, np.nan])) > 0.25


def test_discrimination_needs_both_classes():
    rng = np.random.default_rng(3)
    bad = rng.random(2000) < 0.1
    scores = 600 - 60 * bad + rng.normal(0, 30, 2000)
    auc, ks = discrimination(scores, bad.astype(int))
    assert 0.85 < auc < 0.99
    assert 0.5 < ks < 0.95
    assert discrimination(scores, np.zeros(2000, dtype=int)) is None
    assert discrimination(scores[:10], bad[:10].astype(int)) is None


# --- the service -------------------------------------------------------------------------------


@pytest.fixture
def scorecard(db):
    card = Scorecard.objects.create(
        segment=ScoringSegment.objects.get(code="farmer", bank=None),
        version=1,
        name="农户评分卡",
        status=Scorecard.Status.CHAMPION,
        source=Scorecard.Source.SYNTHETIC,
        baseline={
            "score": distribution_spec(np.linspace(500, 700, 1001)),
            "features": {
                "debt_ratio": distribution_spec(np.linspace(0, 1, 1001)),
                "has_business": distribution_spec(np.array([0.0] * 9 + [1.0])),
                "deposits": distribution_spec(np.linspace(0, 1e5, 1001)),
            },
        },
    )
    # The card scores debt ratio and business; deposits are in the baseline but never scored.
    ScorecardBin.objects.bulk_create(
        [
            ScorecardBin(
                scorecard=card,
                feature="debt_ratio",
                bin_index=0,
                kind="numeric",
                label="[-inf, 0.5)",
                upper=0.5,
                points=30,
            ),
            ScorecardBin(
                scorecard=card,
                feature="debt_ratio",
                bin_index=1,
                kind="numeric",
                label="[0.5, inf)",
                lower=0.5,
                points=10,
            ),
            *business_bins(card),
        ]
    )
    return card


def _score(household, scorecard, score, *, at, features):
    """A score storing ``features`` (by name; the card's others missing, none at all if empty)."""
    names = PointsTable.load(scorecard).features if features else ()
    return HouseholdScore.objects.create(
        household=household,
        bank_id=household.bank_id,
        scorecard=scorecard,
        score=Decimal(score),
        grade="A",
        probability_of_default=Decimal("0.05"),
        feature_values=[features.get(name) for name in names],
        scored_at=at,
    )


def test_monitoring_run_uses_each_households_latest_recent_score(villages, scorecard, settings):
    settings.RISK_MONITORING_MIN_SAMPLE = 1  # six households: banded for the test's sake
    now = timezone.now()
    households = villages["v1_households"] + villages["v2_households"]
    for n, household in enumerate(households):
        features = {"debt_ratio": n / 10, "has_business": None}
        _score(household, scorecard, 690, at=now - datetime.timedelta(days=2), features=features)
        _score(household, scorecard, 505, at=now - datetime.timedelta(days=60), features={})
    _score(households[0], scorecard, 520, at=now - datetime.timedelta(days=5), features={})

    run = monitoring_run(scorecard=scorecard, now=now)

    assert run.sample_size == 6
    assert run.score_psi > 0.25
    assert run.band == MonitoringRun.Band.ACT
    assert set(run.feature_psi) == {"debt_ratio", "has_business"}  # deposits never stored
    assert run.feature_psi["has_business"] > 0.25  # all missing
    assert run.matured_auc is None
    assert run.matured_ks is None
    assert MonitoringRun.objects.get() == run


def test_monitoring_run_with_matured_outcomes(villages, scorecard):
    now = timezone.now()
    for household in villages["v1_households"]:
        _score(household, scorecard, 600, at=now, features={})
    rng = np.random.default_rng(4)
    bad = rng.random(500) < 0.2
    pairs = list(
        zip(
            (650 - 80 * bad + rng.normal(0, 30, 500)).tolist(),
            bad.astype(int).tolist(),
            strict=True,
        )
    )
    register_matured_outcomes(lambda card: pairs if card == scorecard else [])
    try:
        run = monitoring_run(scorecard=scorecard, now=now)
    finally:
        register_matured_outcomes(None)
    assert run.matured_auc > 0.9
    assert 0 < run.matured_ks < 1


def test_nothing_is_stored_without_baseline_or_recent_scores(villages, scorecard):
    assert monitoring_run(scorecard=scorecard) is None
    _score(villages["v1_households"][0], scorecard, 600, at=timezone.now(), features={})
    scorecard.baseline = {}
    assert monitoring_run(scorecard=scorecard) is None
    assert not MonitoringRun.objects.exists()


def test_monitoring_run_all_covers_champions_and_challengers(villages, scorecard):
    retired = Scorecard.objects.create(
        segment=scorecard.segment,
        version=2,
        name="旧卡",
        status=Scorecard.Status.RETIRED,
        source=Scorecard.Source.SYNTHETIC,
        baseline=scorecard.baseline,
    )
    for card in (scorecard, retired):
        _score(villages["v1_households"][0], card, 600, at=timezone.now(), features={})
    assert monitoring.monitoring_run_all() == 1
    assert MonitoringRun.objects.get().scorecard == scorecard


def test_daily_schedule_is_registered(db):
    from django_celery_beat.models import PeriodicTask

    from common.schedules import schedules_ensure_defaults
    from risk.batch_tasks import MONITORING_TASK, register_schedules

    register_schedules()
    register_schedules()  # twice is harmless
    schedules_ensure_defaults()
    scheduled = PeriodicTask.objects.get(task=MONITORING_TASK)
    assert scheduled.enabled
    assert (scheduled.crontab.hour, scheduled.crontab.minute) == ("5", "30")
