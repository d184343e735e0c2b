"""Training pipeline: binning, PDO scaling, metrics, and bad datasets refused by column."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import NON_FIELD_ERRORS

from risk.models import Scorecard, ScorecardTraining, ScoringSegment
from risk.registry import scorecard_training_create, scorecard_training_run
from risk.synthetic import generate_history
from risk.training import (
    TrainingDataError,
    TrainingSettings,
    outcomes_training_frame,
    prepare_training_data,
    read_training_csv,
    register_outcome_provider,
    train_scorecard_model,
)
from tests.risk.model_setup import trained


def _errors(excinfo) -> dict:
    return excinfo.value.message_dict


def test_result_has_bins_metrics_iv_and_baseline():
    history, result = trained()
    assert result.rows == 4000
    assert result.bads == int(history.frame["bad"].sum())
    assert set(result.features) <= set(result.candidates)
    assert "years_since_survey" not in result.features  # pure noise, IV below 0.02
    for split in ("train", "test"):
        metrics = result.metrics[split]
        assert 0.75 < metrics["auc"] < 1
        assert metrics["gini"] == pytest.approx(2 * metrics["auc"] - 1, abs=1e-4)
        assert 0 < metrics["ks"] < 1
    assert result.metrics["test"]["rows"] == 1200  # 30 % holdout, stratified
    assert list(result.feature_iv) == sorted(result.feature_iv, key=lambda f: -result.feature_iv[f])
    # Each feature: numeric bins with open outer ends, then special, then missing.
    for feature in result.features:
        rows = [b for b in result.bins if b.feature == feature]
        assert [b.bin_index for b in rows] == list(range(len(rows)))
        numeric = [b for b in rows if b.kind == "numeric"]
        assert numeric[0].lower is None
        assert numeric[-1].upper is None
        assert all(a.upper == b.lower for a, b in itertools.pairwise(numeric))
        assert [b.kind for b in rows[-2:]] == ["special", "missing"]
        assert all(float(b.points).is_integer() for b in rows)
        assert sum(b.count for b in rows) == 2800
    assert set(result.baseline) == {"score", "features"}


def test_points_follow_pdo_scaling():
    """Score s means good:bad odds of base_odds · 2^((s − base)/pdo): the model's PD and the
    score's PD agree up to the integer rounding of points."""
    _, result = trained()
    scores = result.model.score(result.X_test)
    odds = 50 * 2 ** ((scores - 600) / 20)
    pd_from_score = 1 / (1 + odds)
    pd_from_model = result.model.predict_proba(result.X_test)[:, 1]
    assert np.corrcoef(pd_from_score, pd_from_model)[0, 1] > 0.99
    assert np.median(np.abs(pd_from_score - pd_from_model)) < 0.01


def test_seed_fixes_the_split_and_settings_move_the_scale():
    frame = generate_history(1500, seed=9).frame
    first = train_scorecard_model(frame, settings=TrainingSettings(random_seed=1, max_bins=4))
    again = train_scorecard_model(frame, settings=TrainingSettings(random_seed=1, max_bins=4))
    assert first.metrics == again.metrics
    shifted = train_scorecard_model(
        frame, settings=TrainingSettings(random_seed=1, max_bins=4, base_score=700)
    )
    assert np.allclose(
        shifted.model.score(frame) - first.model.score(frame), 100, atol=len(first.features)
    )


def test_progress_is_reported():
    steps = []
    frame = generate_history(800, seed=4).frame
    train_scorecard_model(frame, progress=lambda percent, step: steps.append(percent))
    assert steps == sorted(steps)
    assert steps[0] <= 5
    assert steps[-1] >= 85


# --- bad input -------------------------------------------------------------------------------


@pytest.fixture
def frame():
    return generate_history(600, seed=21).frame


def test_missing_target_column(frame):
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(frame.drop(columns=["bad"]))
    assert "bad" in _errors(excinfo)
    assert "缺少目标列" in _errors(excinfo)["bad"][0]


def test_too_few_rows(frame):
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(frame.head(150))
    assert "150 行" in _errors(excinfo)[NON_FIELD_ERRORS][0]


def test_too_few_bads(frame):
    few = frame.copy()
    bad_rows = few.index[few["bad"] == 1]
    few.loc[bad_rows[10:], "bad"] = 0
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(few)
    assert "坏样本只有 10 个" in _errors(excinfo)["bad"][0]


def test_constant_target(frame):
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(frame.assign(bad=0))
    assert "没有好坏之分" in _errors(excinfo)["bad"][0]


def test_target_not_zero_or_one(frame):
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(frame.assign(bad=frame["bad"] * 2))
    assert "只能是 0 或 1" in _errors(excinfo)["bad"][0]


def test_text_in_a_numeric_column_names_column_and_row(frame):
    text = frame.astype({"net_income": object})
    text.loc[4, "net_income"] = "三万"
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(text)
    message = _errors(excinfo)["net_income"][0]
    assert "非数字" in message
    assert "第5行“三万”" in message


def test_all_missing_feature(frame):
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(frame.assign(deposits=np.nan))
    assert "全部为空" in _errors(excinfo)["deposits"][0]


def test_unknown_requested_feature(frame):
    with pytest.raises(TrainingDataError) as excinfo:
        prepare_training_data(frame, features=["head_age", "shoe_size"])
    assert "shoe_size" in _errors(excinfo)


def test_csv_reads_text_gbk_and_thousands_separators(frame):
    lines = frame.head(300).to_csv(index=False).splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("net_income")] = '"12,345"'
    cells[header.index("deposits")] = "缺失"
    lines[1] = ",".join(cells)
    parsed = read_training_csv(io.BytesIO("\n".join(lines).encode("gb18030")))
    prepared = prepare_training_data(parsed)
    assert prepared.X.loc[0, "net_income"] == 12345
    assert np.isnan(prepared.X.loc[0, "deposits"])
    assert prepared.ignored_columns == ()


def test_database_outcomes_say_there_are_none_yet(db):
    segment = ScoringSegment.objects.get(code="farmer", bank=None)
    with pytest.raises(TrainingDataError) as excinfo:
        outcomes_training_frame(segment=segment)
    assert "还没有到期的贷款表现数据" in _errors(excinfo)[NON_FIELD_ERRORS][0]


def test_database_outcomes_from_a_registered_provider(db, villages):
    from risk.features import features_materialise
    from villages.models import Household

    households = villages["v1_households"]
    features_materialise(households=Household.objects.filter(pk__in=[h.pk for h in households]))
    register_outcome_provider(
        lambda segment, bank: pd.DataFrame(
            {"household_id": [h.pk for h in households], "bad": [0, 1, 0]}
        )
    )
    try:
        frame = outcomes_training_frame(segment=None)
    finally:
        register_outcome_provider(None)
    assert len(frame) == 3
    assert sorted(frame["bad"]) == [0, 0, 1]
    assert "head_age" in frame.columns
    assert "household_id" not in frame.columns


def test_bad_csv_fails_the_run_and_registers_nothing(db, media):
    from django.core.files.base import ContentFile

    text = generate_history(400, seed=3).frame.astype({"land_mu": object})
    text.loc[7, "land_mu"] = "十亩"
    training = scorecard_training_create(
        segment=ScoringSegment.objects.get(code="farmer", bank=None),
        source=Scorecard.Source.UPLOAD,
        dataset=ContentFile(text.to_csv(index=False).encode(), name="history.csv"),
    )
    training = scorecard_training_run(training_id=training.pk)
    assert training.status == ScorecardTraining.Status.FAILED
    assert "land_mu" in training.error
    assert "第8行“十亩”" in training.error
    assert not Scorecard.objects.exists()
