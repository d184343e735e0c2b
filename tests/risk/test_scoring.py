"""Scoring from the points table: parity with optbinning, grades, PD, reason codes, sticky
challenger assignment and the single-household service."""

from __future__ import annotations

import uuid
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from risk import scoring
from risk.models import HouseholdScore, Scorecard, ScorecardBin, ScoringSegment
from risk.registry import scorecard_promote, scorecard_submit
from risk.scoring import (
    PointsTable,
    challenger_assigned,
    check_grade_cutoffs,
    clear_cache,
    default_grade_cutoffs,
    score_household,
    shadow_bucket,
)
from tests.risk.model_setup import trained


@pytest.fixture(autouse=True)
def _fresh_tables():
    clear_cache()
    yield
    clear_cache()


def test_points_table_scores_equal_optbinning_on_the_test_set(db, register):
    _, result = trained()
    scorecard = register()
    table = PointsTable.load(scorecard)
    assert set(table.features) == set(result.features)
    X = result.X_test[list(table.features)].to_numpy(dtype=np.float64)
    assert np.isnan(X).any()  # missing values take the missing bin in both
    ours = table.scores(X)
    theirs = result.model.score(result.X_test)
    assert np.max(np.abs(ours - theirs)) < 1e-6
    assert np.array_equal(table.points_matrix(X).sum(axis=1), ours)
    # The one-row path of a request scores the same.
    assert [sum(table.score_row(list(x))[0]) for x in X[:300]] == ours[:300].tolist()
    assert [table.grade_of(s) for s in ours[:300]] == table.grades(ours[:300]).tolist()


def test_load_is_one_query_and_cached(db, register, django_assert_num_queries):
    scorecard = register()
    with django_assert_num_queries(1):
        table = PointsTable.load(scorecard)
    with django_assert_num_queries(0):
        assert PointsTable.load(scorecard) is table


def test_grades_from_cutoffs_and_pd_from_pdo(db, register):
    scorecard = register(
        grade_cutoffs=[["AAA", 700], ["AA", 660], ["A", 620], ["B", 580], ["C", 0]]
    )
    table = PointsTable.load(scorecard)
    scores = np.array([720, 700, 699.99, 660, 630, 580, 579, 10, -5])
    assert list(table.grades(scores)) == ["AAA", "AAA", "AA", "AA", "A", "B", "C", "C", "C"]
    pd = table.probabilities_of_default(np.array([600.0, 620.0, 580.0]))
    assert pd == pytest.approx([1 / 51, 1 / 101, 1 / 26])


def test_default_cutoffs_are_pd_anchored_and_checked():
    cutoffs = default_grade_cutoffs(base_score=600, base_odds=50, pdo=20)
    assert [grade for grade, _ in cutoffs] == ["AAA", "AA", "A", "B", "C"]
    assert cutoffs[0][1] == 620  # PD 1 % = odds 99:1 ≈ 600 + 20·log2(99/50)
    for bad in ([], [["AAA", 600], ["AA", 650]], [["AAA", 600], ["AAA", 500]], [["A", "x"]]):
        with pytest.raises(ValidationError):
            check_grade_cutoffs(bad)


def _hand_made_table(db_scorecard) -> PointsTable:
    rows = [
        ("debt_ratio", 0, "numeric", None, 0.3, None, 30),
        ("debt_ratio", 1, "numeric", 0.3, 0.8, None, 10),
        ("debt_ratio", 2, "missing", None, None, None, 5),
        ("peer_colour_rank", 0, "categorical", None, None, [0, 1], -20),
        ("peer_colour_rank", 1, "categorical", None, None, [2, 3], 25),
        ("peer_colour_rank", 2, "special", None, None, [-1], 3),
        ("peer_colour_rank", 3, "missing", None, None, None, 0),
    ]
    ScorecardBin.objects.bulk_create(
        ScorecardBin(
            scorecard=db_scorecard,
            feature=feature,
            bin_index=index,
            kind=kind,
            label=f"{kind}{index}",
            lower=lower,
            upper=upper,
            categories=categories,
            points=Decimal(points),
        )
        for feature, index, kind, lower, upper, categories, points in rows
    )
    return PointsTable.load(db_scorecard)


@pytest.fixture
def hand_made(db):
    scorecard = Scorecard.objects.create(
        segment=ScoringSegment.objects.get(code="farmer", bank=None),
        version=99,
        name="手工表",
        source=Scorecard.Source.UPLOAD,
        grade_cutoffs=[["A", 40], ["B", 0]],
    )
    return _hand_made_table(scorecard)


def test_numeric_categorical_special_missing_and_outside(hand_made):
    assert hand_made.features == ("debt_ratio", "peer_colour_rank")
    X = np.array(
        [
            [0.1, 3],  # first bin, good category
            [0.3, 0],  # lower edge belongs to the upper bin
            [0.9, 2],  # beyond the last (closed) bin → missing bin
            [np.nan, np.nan],
            [np.inf, 7],  # inf and an unseen category → missing bins
            [0.5, -1],  # special code
        ]
    )
    assert hand_made.points_matrix(X).tolist() == [
        [30, 25],
        [10, -20],
        [5, 25],
        [5, 0],
        [5, 0],
        [10, 3],
    ]
    assert hand_made.bin_indices(X)[:, 0].tolist() == [0, 1, 2, 2, 2, 1]
    for x, positions in zip(X, hand_made.bin_positions(X), strict=True):
        assert hand_made.score_row(list(x))[1] == positions.tolist()


def test_reason_codes_in_chinese_worst_first(hand_made):
    X = np.array([0.5, 0.0])
    points = hand_made.points_matrix(X[None, :])[0]
    reasons = hand_made.reason_codes(points, X)
    assert [r["feature"] for r in reasons] == ["peer_colour_rank", "debt_ratio"]
    first = reasons[0]
    assert first["label"] == "评议名单(黑0灰1绿2白3)"
    assert first["shortfall"] == 45
    assert first["best_points"] == 25
    assert not first["missing"]
    assert "黑名单" in first["text"]
    assert "少 45 分" in first["text"]
    assert hand_made.reason_codes(points, X, top=1) == reasons[:1]


def test_reason_codes_say_missing_and_outside_every_bin(hand_made):
    X = np.array([[np.nan, 9.0], [2.5, 2.0]])
    points = hand_made.points_matrix(X)
    missing, outside = hand_made.reason_codes_many(points, X)
    assert missing[0]["missing"]
    assert "缺失" in missing[0]["text"]
    assert missing[0]["value"] is None
    unseen = next(r for r in missing if r["feature"] == "peer_colour_rank")
    assert unseen["missing"]
    assert "不在评分卡任何分箱内" in unseen["text"]
    assert outside[0]["feature"] == "debt_ratio"
    assert outside[0]["missing"]
    assert "2.5" in outside[0]["text"]
    assert "按“缺失”分箱计分" in outside[0]["text"]


def test_best_row_has_no_reasons(hand_made):
    X = np.array([0.1, 3.0])
    assert hand_made.reason_codes(hand_made.points_matrix(X[None, :])[0], X) == []


def test_shadow_assignment_is_sticky_and_about_the_share():
    ids = [uuid.uuid4() for _ in range(4000)]
    first = [challenger_assigned(h) for h in ids]
    assert first == [challenger_assigned(uuid.UUID(str(h))) for h in ids]  # same every call
    assert 0.45 < np.mean(first) < 0.55
    known = uuid.UUID("00000000-0000-0000-0000-000000000001")
    assert shadow_bucket(known) == shadow_bucket(str(known))  # text or UUID, same bucket
    few = Scorecard(shadow_percent=10)
    assert 0.07 < np.mean([challenger_assigned(h, few) for h in ids]) < 0.13
    everyone = Scorecard(shadow_percent=100)
    assert all(challenger_assigned(h, everyone) for h in ids[:100])


# --- one household -----------------------------------------------------------------------------


@pytest.fixture
def champion_and_challenger(register, staff):
    modeller, checker = staff["fed_modeller"], staff["fed_admin"]
    champion = register(trained_by=modeller)
    scorecard_submit(scorecard=champion, actor=modeller.user)
    scorecard_promote(scorecard=champion, actor=checker.user)
    _, other = trained(seed=8, max_bins=5)
    challenger = register(trained_by=modeller, result=other)
    scorecard_submit(scorecard=challenger, actor=modeller.user, shadow_percent=100)
    return champion, challenger


def test_score_household_stores_score_grade_pd_reasons_and_shadow(
    villages, champion_and_challenger
):
    champion, challenger = champion_and_challenger
    household = villages["v1_households"][0]
    moment = timezone.now()
    result = score_household(household=household, scored_at=moment)
    assert result.role == HouseholdScore.Role.CHAMPION
    assert result.scorecard == champion
    assert result.bank_id == household.bank_id
    assert result.scored_at == moment
    table = PointsTable.load(champion)
    X = np.array(
        [[np.nan if result.features[f] is None else result.features[f] for f in table.features]]
    )
    expected = table.scores(X)[0]
    assert result.score == Decimal(str(expected)).quantize(Decimal("0.01"))
    assert result.grade == table.grades(np.array([expected]))[0]
    assert float(result.probability_of_default) == pytest.approx(
        table.probabilities_of_default(np.array([expected]))[0], abs=1e-6
    )
    assert set(result.features) == set(table.features)
    assert result.reason_codes
    # stored as [feature, bin_index]; read back with the Chinese text the account manager sees
    points, positions = table.score_row(X[0].tolist())
    assert result.reason_codes == table.codes(points, positions)
    reasons = result.reasons()
    assert [r["feature"] for r in reasons] == [f for f, _ in result.reason_codes]
    assert reasons == table.reason_codes(table.points_matrix(X)[0], X[0])
    assert all(r["text"].startswith(r["label"]) for r in reasons)
    shadow = HouseholdScore.objects.get(household=household, role=HouseholdScore.Role.CHALLENGER)
    assert shadow.scorecard == challenger
    assert shadow.scored_at == moment


def test_challenger_only_for_its_sticky_sample(villages, champion_and_challenger, monkeypatch):
    _, challenger = champion_and_challenger
    Scorecard.objects.filter(pk=challenger.pk).update(shadow_percent=1)
    households = villages["v1_households"]
    for household in households:
        score_household(household=household)
    shadowed = set(
        HouseholdScore.objects.filter(role=HouseholdScore.Role.CHALLENGER).values_list(
            "household_id", flat=True
        )
    )
    assert shadowed == {h.pk for h in households if shadow_bucket(h.pk) < 1}


def test_no_champion_is_a_clear_error(villages, media):
    with pytest.raises(ValidationError) as excinfo:
        score_household(household=villages["v1_households"][0])
    assert "没有生产(冠军)评分卡" in excinfo.value.message_dict["scorecard"][0]
    assert not HouseholdScore.objects.exists()


def test_bank_champion_wins_and_missing_segment_falls_back(register, staff, villages):
    modeller, checker = staff["fed_modeller"], staff["fed_admin"]
    federation = register(trained_by=modeller)
    scorecard_submit(scorecard=federation, actor=modeller.user)
    scorecard_promote(scorecard=federation, actor=checker.user)
    bank1 = villages["v1"].bank
    own = register(bank=bank1, trained_by=staff["b1_risk"])
    scorecard_submit(scorecard=own, actor=staff["b1_risk"].user)
    scorecard_promote(scorecard=own, actor=staff["b1_risk2"].user)

    assert scoring.scorecards_for(bank_id=bank1.pk, segment="farmer")[0] == own
    other_bank = villages["v2"].bank
    assert scoring.scorecards_for(bank_id=other_bank.pk, segment="farmer")[0] == federation
    # No urban champion anywhere: the farmer champion scores.
    assert scoring.scorecards_for(bank_id=other_bank.pk, segment="urban_resident") == (
        federation,
        None,
    )
