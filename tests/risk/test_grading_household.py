"""Scoring one household now: the PAD's endpoint and the household list's admin action."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from risk.features import household_feature_row
from risk.models import HouseholdScore
from risk.scoring import PointsTable, clear_cache
from tests.risk.batch_setup import make_scorecard
from villages.models import Household


@pytest.fixture
def champion(villages):
    clear_cache()
    return make_scorecard("farmer")


def url(household) -> str:
    return f"/api/v1/households/{household.pk}/score/"


def expected_grade(scorecard, household) -> tuple[float, str]:
    table = PointsTable.load(scorecard)
    row = household_feature_row(household)
    X = np.array([[np.nan if row[f] is None else row[f] for f in table.features]], dtype=float)
    score = table.scores(X)
    return round(float(score[0]), 2), str(table.grades(score)[0])


def test_account_manager_scores_a_household_after_a_visit(villages, champion, login_as):
    household = villages["v1_households"][0]
    score, grade = expected_grade(champion, household)
    client = login_as("b1_am2")
    key = str(uuid.uuid4())

    response = client.post(url(household), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["grade"], float(body["score"])) == (grade, score)
    assert body["household"] == str(household.pk)
    assert body["role_label"] == "冠军"
    assert body["scored_at"].endswith("+08:00")  # Beijing time on the PAD
    assert body["reasons"], "the reasons that cost points are listed"
    assert all("分" in reason["text"] for reason in body["reasons"])  # Chinese sentences
    household.refresh_from_db()
    assert household.credit_grade == grade
    assert HouseholdScore.objects.filter(household=household).count() == 1

    # The PAD resends after a lost answer: the first score comes back, nothing is scored again.
    again = client.post(url(household), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == body
    assert HouseholdScore.objects.filter(household=household).count() == 1


def test_scoring_moves_the_household_for_delta_sync(villages, champion, login_as):
    household = villages["v1_households"][0]
    before = Household.objects.get(pk=household.pk).updated_at
    login_as("b1_am2").post(url(household), format="json")
    household.refresh_from_db()
    assert household.updated_at > before


def test_another_banks_household_is_not_found(villages, champion, login_as):
    foreign = villages["v2_households"][0]
    response = login_as("b1_admin").post(url(foreign), format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not HouseholdScore.objects.exists()
    foreign.refresh_from_db()
    assert foreign.credit_grade == ""


def test_a_village_the_account_manager_does_not_serve_is_not_found(villages, champion, login_as):
    # b1_am1 serves no village of the fixture: bank 1's household is outside his villages.
    response = login_as("b1_am1").post(url(villages["v1_households"][0]), format="json")
    assert response.status_code == 404
    assert not HouseholdScore.objects.exists()


@pytest.mark.parametrize("username", ["b1_reviewer1", "fed_admin"])
def test_roles_that_may_not_score_are_refused_before_anything_else(
    villages, champion, login_as, username
):
    household = villages["v1_households"][0]
    response = login_as(username).post(url(household), format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "permission_denied"
    assert body["message"] in {"没有为农户评分的权限", "省联社人员对法人行社数据只读"}
    # Even for an id that does not exist: permission is answered first.
    unknown = login_as(username).post(f"/api/v1/households/{uuid.uuid4()}/score/", format="json")
    assert unknown.status_code == 403
    assert not HouseholdScore.objects.exists()


def test_without_a_champion_the_answer_names_the_scorecard(villages, login_as):
    clear_cache()
    response = login_as("b1_am2").post(url(villages["v1_households"][0]), format="json")
    assert response.status_code == 400
    body = response.json()
    assert "没有生产(冠军)评分卡" in body["fields"]["scorecard"][0]
    assert not HouseholdScore.objects.exists()


# --- the admin -----------------------------------------------------------------------------------


def admin_client(username: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


CHANGELIST = "admin:villages_household_changelist"


def test_admin_action_scores_the_selected_households(villages, champion):
    households = villages["v1_households"][:2]
    client = admin_client("b1_admin")

    page = client.get(reverse(CHANGELIST))
    assert "立即评分(评级)" in page.content.decode()

    response = client.post(
        reverse(CHANGELIST),
        {"action": "grade_households", "_selected_action": [str(h.pk) for h in households]},
        follow=True,
    )

    text = response.content.decode()
    assert "已评分：" in text
    for household in households:
        _, grade = expected_grade(champion, household)
        household.refresh_from_db()
        assert household.credit_grade == grade
        assert f"北杜村 {household.head.name} {grade}" in text
    assert HouseholdScore.objects.count() == 2


def test_admin_action_is_not_offered_to_a_role_without_the_permission(villages, champion):
    client = admin_client("b1_reviewer1")
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "立即评分(评级)" not in page.content.decode()
    client.post(
        reverse(CHANGELIST),
        {"action": "grade_households", "_selected_action": [str(villages["v1_households"][0].pk)]},
    )
    assert not HouseholdScore.objects.exists()


def test_admin_action_reports_a_refusal_by_household(villages):
    clear_cache()  # no champion
    response = admin_client("b1_admin").post(
        reverse(CHANGELIST),
        {"action": "grade_households", "_selected_action": [str(villages["v1_households"][0].pk)]},
        follow=True,
    )
    text = response.content.decode()
    assert "北杜村" in text
    assert "没有生产(冠军)评分卡" in text
    assert not HouseholdScore.objects.exists()
