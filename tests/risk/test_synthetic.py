"""The synthetic history: seeded, believable, and learnable up to the truth it was drawn from."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from risk.models import HouseholdFeatures
from risk.synthetic import FEATURES, SEGMENT_BAD_RATES, TARGET, generate_history
from tests.risk.model_setup import trained


def test_same_seed_same_history_other_seed_other_history():
    first, again = generate_history(500, seed=3), generate_history(500, seed=3)
    other = generate_history(500, seed=4)
    assert first.frame.equals(again.frame)
    assert np.array_equal(first.true_pd, again.true_pd)
    assert not first.frame.equals(other.frame)


def test_columns_are_the_household_feature_columns():
    frame = generate_history(300, seed=1).frame
    model_columns = {
        f.name
        for f in HouseholdFeatures._meta.concrete_fields
        if f.get_internal_type() == "FloatField"
    }
    # Debts (an amount) feed the limit model, not the scorecards: the history draws the ratio.
    assert set(FEATURES) == model_columns - {"debts"}
    assert list(frame.columns) == [*FEATURES, TARGET]
    assert set(frame[TARGET].unique()) <= {0, 1}


@pytest.mark.parametrize("segment", sorted(SEGMENT_BAD_RATES))
def test_believable_households_and_bad_rate(segment):
    history = generate_history(20_000, seed=11, segment=segment)
    frame = history.frame
    assert frame["head_age"].between(20, 80).all()
    assert frame["family_size"].between(1, 9).all()
    assert (frame["labour_count"] <= frame["family_size"]).all()
    assert frame["debt_ratio"].min() >= 0
    assert frame["dependants_ratio"].between(0, 1).all()
    # Peer review has not reached everyone; no repayment history means missing, not "never late".
    assert 0.15 < frame["peer_colour_rank"].isna().mean() < 0.25
    assert (frame.loc[frame["repaid_loans"] == 0, "max_days_overdue"].isna()).all()
    if segment == "individual_business":
        assert (frame["has_business"] == 1).all()
    if segment == "urban_resident":
        assert frame["wage_income_share"].median() > 0.6
    assert history.true_pd.mean() == pytest.approx(SEGMENT_BAD_RATES[segment], abs=0.005)
    assert frame[TARGET].mean() == pytest.approx(SEGMENT_BAD_RATES[segment], abs=0.01)


def test_bad_rate_and_shift_are_parameters():
    assert generate_history(20_000, seed=2, bad_rate=0.03).frame[TARGET].mean() < 0.045
    calm = generate_history(20_000, seed=2).frame
    bad_year = generate_history(20_000, seed=2, shift=1.0).frame
    assert bad_year["net_income"].median() < calm["net_income"].median()
    assert bad_year["debt_ratio"].mean() > calm["debt_ratio"].mean()


def test_unknown_segment_is_refused():
    with pytest.raises(ValueError, match="unknown segment"):
        generate_history(10, segment="fishermen")


def test_trained_scorecard_reaches_the_truth_on_the_holdout():
    """Trained on 5,000 households (70 % fit, 30 % holdout); the holdout AUC of the scorecard
    is within 0.02 of the AUC of the generating model's own PD on the same households."""
    history, result = trained(rows=5000, seed=2026)
    y = history.frame[TARGET].to_numpy()[result.test_index]
    truth_auc = roc_auc_score(y, history.true_pd[result.test_index])
    model_auc = result.metrics["test"]["auc"]
    assert truth_auc > 0.8
    assert abs(model_auc - truth_auc) <= 0.02, (model_auc, truth_auc)
    # The noise features the truth ignores are worth less than the ones it uses.
    iv = result.feature_iv
    assert iv["years_since_survey"] < iv["debt_ratio"]
