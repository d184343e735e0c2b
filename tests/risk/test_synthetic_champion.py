"""A scorecard trained on synthetic data never becomes a champion, nor scores a real household,
where RISK_ALLOW_SYNTHETIC_CHAMPION is off (the production profile's default)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from risk.models import HouseholdScore, Scorecard, ScorecardStatusChange
from risk.registry import scorecard_promote, scorecard_submit
from risk.scoring import clear_cache, score_household

DRAFT, CHAMPION = Scorecard.Status.DRAFT, Scorecard.Status.CHAMPION


@pytest.fixture(autouse=True)
def _fresh_lookups():
    clear_cache()
    yield
    clear_cache()


def test_synthetic_scorecard_stays_a_draft_when_not_allowed(register, staff, settings):
    settings.RISK_ALLOW_SYNTHETIC_CHAMPION = False
    scorecard = register(trained_by=staff["fed_modeller"])  # training and the draft are fine

    with pytest.raises(ValidationError) as refused:
        scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)

    assert "合成数据" in refused.value.message_dict["source"][0]
    scorecard.refresh_from_db()
    assert scorecard.status == DRAFT
    assert not ScorecardStatusChange.objects.filter(scorecard=scorecard, action="submit").exists()


def test_synthetic_challenger_is_not_promoted_when_not_allowed(register, staff, settings):
    scorecard = register(trained_by=staff["fed_modeller"])
    scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)
    settings.RISK_ALLOW_SYNTHETIC_CHAMPION = False

    with pytest.raises(ValidationError) as refused:
        scorecard_promote(scorecard=scorecard, actor=staff["fed_admin"].user)

    assert "不能提交、晋级" in refused.value.message_dict["source"][0]
    scorecard.refresh_from_db()
    assert scorecard.status == Scorecard.Status.CHALLENGER
    assert not Scorecard.objects.filter(status=CHAMPION).exists()


def test_admin_promote_action_names_the_reason(register, staff, settings, client):
    scorecard = register(trained_by=staff["fed_modeller"])
    scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)
    settings.RISK_ALLOW_SYNTHETIC_CHAMPION = False
    client.force_login(staff["fed_admin"].user)

    response = client.post(
        "/admin/risk/scorecard/",
        {"action": "promote_action", "_selected_action": [scorecard.pk], "reason": "上线"},
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert any("合成数据" in m and "不能提交、晋级" in m for m in shown), shown
    scorecard.refresh_from_db()
    assert scorecard.status == Scorecard.Status.CHALLENGER


def test_synthetic_champion_refuses_to_score_real_households(villages, register, staff, settings):
    # Promoted while allowed (as in a development database carried over), then the rule is on.
    scorecard = register(trained_by=staff["fed_modeller"])
    scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)
    scorecard_promote(scorecard=scorecard, actor=staff["fed_admin"].user)
    settings.RISK_ALLOW_SYNTHETIC_CHAMPION = False

    with pytest.raises(ValidationError) as refused:
        score_household(household=villages["v1_households"][0])

    assert "合成数据" in refused.value.message_dict["scorecard"][0]
    assert not HouseholdScore.objects.exists()


def test_development_keeps_the_synthetic_demo_champion(villages, register, staff, settings):
    settings.RISK_ALLOW_SYNTHETIC_CHAMPION = True
    scorecard = register(trained_by=staff["fed_modeller"])
    scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)
    scorecard_promote(scorecard=scorecard, actor=staff["fed_admin"].user)

    score = score_household(household=villages["v1_households"][0])

    assert score.scorecard == scorecard


def test_the_setting_follows_the_profile():
    from django.conf import settings

    assert settings.RISK_ALLOW_SYNTHETIC_CHAMPION is (not settings.PRODUCTION)
