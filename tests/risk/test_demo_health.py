"""Issue 13: a fresh demo's scorecards are trained on a population like the demo villages', and
monitoring does not band a PSI computed on too few scored households (样本不足)."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from risk.models import MonitoringRun, Scorecard, ScorecardTraining
from risk.monitoring import DEFAULT_MIN_SAMPLE, monitoring_run
from risk.synthetic import Population, generate_history
from tests.risk.test_monitoring import _score, scorecard  # noqa: F401


def test_the_default_population_draws_the_default_history():
    default = generate_history(500, seed=7).frame
    described = generate_history(500, seed=7, population=Population()).frame
    assert default.equals(described)


def test_a_population_without_repayment_history_and_little_peer_review():
    frame = generate_history(
        2000,
        seed=7,
        population={"history_share": 0.0, "peer_coverage": 0.2, "survey_years": [0.5, 0.5]},
    ).frame
    assert "repaid_loans" not in frame  # nobody has them
    assert "max_days_overdue" not in frame
    assert frame["peer_colour_rank"].notna().mean() == pytest.approx(0.2, abs=0.03)
    assert set(frame["years_since_survey"]) == {0.5}


def test_an_invalid_population_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Population.of({"peer_coverage": 1.5})
    with pytest.raises(ValueError, match="unknown population fields"):
        Population.of({"colour": 1})


def test_monitoring_with_fewer_scores_than_the_minimum_is_insufficient(villages, scorecard):  # noqa: F811
    now = timezone.now()
    households = villages["v1_households"] + villages["v2_households"]
    assert len(households) < DEFAULT_MIN_SAMPLE
    for n, household in enumerate(households):
        features = {"debt_ratio": n / 10, "has_business": None}
        _score(household, scorecard, 690, at=now - datetime.timedelta(days=2), features=features)

    run = monitoring_run(scorecard=scorecard, now=now)

    assert run.sample_size == len(households)
    assert run.score_psi > 0.25  # the PSI is kept for the record …
    assert run.band == MonitoringRun.Band.SPARSE  # … but not banded
    assert run.get_band_display() == "样本不足"


@pytest.fixture
def fresh_demo(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_a_fresh_demo_trains_on_the_demo_villages_population(fresh_demo):
    farmer = ScorecardTraining.objects.filter(segment__code="farmer").first()
    population = farmer.settings["synthetic_population"]
    assert population["history_share"] == 0.0  # no demo household has borrowed yet
    assert 0.1 < population["peer_coverage"] < 0.25  # one village in six reviewed
    low, high = population["survey_years"]
    assert low == high  # one survey date
    for card in Scorecard.objects.filter(
        status__in=[Scorecard.Status.CHAMPION, Scorecard.Status.CHALLENGER]
    ):
        run = card.monitoring_runs.order_by("-computed_at").first()
        if run is None:
            continue  # scored nobody (the demo has no urban residents)
        # The repayment features nobody in the demo has are not on the cards any more.
        assert "repaid_loans" not in run.feature_psi
        assert "max_days_overdue" not in run.feature_psi
        if run.sample_size < DEFAULT_MIN_SAMPLE:
            assert run.band == MonitoringRun.Band.SPARSE


def test_a_fresh_demo_leaves_every_scorecard_stable_or_insufficient(fresh_demo):
    """A fresh ``make run`` shows healthy models: the demo trains on its own villages'
    households (drawn with replacement), so nothing drifts at once."""
    bands = {
        card.pk: card.monitoring_runs.order_by("-computed_at").first().band
        for card in Scorecard.objects.filter(monitoring_runs__isnull=False).distinct()
    }
    assert bands
    assert set(bands.values()) <= {MonitoringRun.Band.STABLE, MonitoringRun.Band.SPARSE}
    assert MonitoringRun.Band.STABLE in bands.values()  # the farmer champion has enough scores


def test_a_population_of_households_is_drawn_from_them_only():
    rows = [
        {"head_age": 40.0, "family_size": 3.0, "land_mu": 5.0, "repaid_loans": None},
        {"head_age": 60.0, "family_size": 5.0, "land_mu": 12.0, "repaid_loans": None},
    ]
    frame = generate_history(500, seed=7, population=Population(households=rows)).frame
    assert set(frame["head_age"]) == {40.0, 60.0}
    assert set(frame["land_mu"]) == {5.0, 12.0}
    assert "repaid_loans" not in frame  # nobody in the population has a repayment history
    with pytest.raises(ValueError, match="unknown household features"):
        Population(households=[{"shoe_size": 42}])
