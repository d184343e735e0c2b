"""Batch grading from the back office and the API: a job per village, campaign or bank, run in
chunks (in-process in tests), with its progress and names shown in Chinese."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from org.models import Institution, Staff
from risk.models import HouseholdScore, ScoringJob
from risk.scoring import clear_cache
from tests.risk.batch_setup import make_scorecard
from villages.models import Household
from villages.services import campaign_create


@pytest.fixture
def champion(villages):
    clear_cache()
    return make_scorecard("farmer")


def admin_client(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def rated(households) -> list[str]:
    return list(
        Household.objects.filter(pk__in=[h.pk for h in households])
        .order_by("pk")
        .values_list("credit_grade", flat=True)
    )


def test_village_action_runs_a_job_that_completes_with_the_right_counts(
    villages, champion, django_capture_on_commit_callbacks
):
    village = villages["v1"]
    client = admin_client("b1_admin")
    assert (
        "批量评分(所选行政村的全部农户)"
        in client.get(reverse("admin:villages_village_changelist")).content.decode()
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:villages_village_changelist"),
            {"action": "grade_villages", "_selected_action": [village.pk]},
        )

    job = ScoringJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:risk_scoringjob_change", args=[job.pk])
    assert (job.scope, job.scope_id, job.bank_id) == ("village", str(village.pk), village.bank_id)
    assert (job.status, job.total_households, job.scored_households) == ("done", 3, 3)
    assert HouseholdScore.objects.filter(job=job, role="champion").count() == 3
    assert all(rated(villages["v1_households"]))
    assert not any(rated(villages["v2_households"]))

    page = client.get(response.url).content.decode()
    assert "行政村：北杜村" in page
    assert "已完成" in page
    assert "100%" in page
    listing = client.get(reverse("admin:risk_scoringjob_changelist")).content.decode()
    assert "行政村：北杜村" in listing
    scores = client.get(reverse("admin:risk_householdscore_changelist") + f"?job={job.pk}")
    assert scores.status_code == 200
    assert len(scores.context["cl"].result_list) == 3


def test_campaign_action_scores_the_campaigns_village(
    villages, champion, django_capture_on_commit_callbacks
):
    village = villages["v1"]
    campaign = campaign_create(
        village=village,
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 11, 1),
        ends_on=datetime.date(2026, 12, 31),
        lead=Staff.objects.get(user__username="b1_am2"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        admin_client("b1_admin").post(
            reverse("admin:villages_campaign_changelist"),
            {"action": "grade_campaigns", "_selected_action": [campaign.pk]},
        )
    job = ScoringJob.objects.get()
    assert (job.scope, job.status, job.scored_households) == ("campaign", "done", 3)
    assert all(rated(villages["v1_households"]))


def test_batch_actions_are_not_offered_without_the_permission(villages, champion):
    client = admin_client("b1_am2")
    page = client.get(reverse("admin:villages_village_changelist")).content.decode()
    assert "批量评分" not in page
    client.post(
        reverse("admin:villages_village_changelist"),
        {"action": "grade_villages", "_selected_action": [villages["v1"].pk]},
    )
    assert not ScoringJob.objects.exists()


def test_a_bank_administrator_scores_the_whole_bank_from_the_job_page(
    villages, champion, django_capture_on_commit_callbacks
):
    bank = Institution.objects.get(code="SXRCU-YD")
    client = admin_client("b1_admin")
    form = client.get(reverse("admin:risk_scoringjob_add")).content.decode()
    assert "尧都农村商业银行" in form
    assert "襄汾农村商业银行" not in form

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:risk_scoringjob_add"), {"target_bank": bank.pk})

    job = ScoringJob.objects.get()
    assert response.url == reverse("admin:risk_scoringjob_change", args=[job.pk])
    assert (job.scope, job.bank_id, job.status, job.total_households) == (
        "bank",
        bank.pk,
        "done",
        3,
    )
    assert "法人行社：尧都农村商业银行" in client.get(response.url).content.decode()


def test_another_banks_bank_cannot_be_chosen(villages, champion):
    foreign = Institution.objects.get(code="SXRCU-XF")
    response = admin_client("b1_admin").post(
        reverse("admin:risk_scoringjob_add"), {"target_bank": foreign.pk}
    )
    assert response.status_code == 200  # the form again, with the choice refused
    assert not ScoringJob.objects.exists()


# --- the API -------------------------------------------------------------------------------------

JOBS = "/api/v1/risk/scoring-jobs/"


def test_api_starts_a_village_job_and_reports_its_progress(
    villages, champion, login_as, django_capture_on_commit_callbacks
):
    client = login_as("b1_risk")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            JOBS, {"scope": "village", "scope_id": str(villages["v1"].pk)}, format="json"
        )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]

    body = client.get(f"{JOBS}{job_id}/").json()
    assert body["scope_label"] == "行政村"
    assert body["scope_name"] == "北杜村"
    assert (body["status"], body["status_label"]) == ("done", "已完成")
    assert (body["total_households"], body["scored_households"]) == (3, 3)
    assert body["progress_percent"] == 100


def test_api_bank_scope_defaults_to_the_users_bank(
    villages, champion, login_as, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login_as("b1_admin").post(JOBS, {"scope": "bank"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["scope_name"] == "尧都农村商业银行"
    assert response.json()["total_households"] == 3


def test_api_refuses_a_role_without_the_permission_first(villages, champion, login_as):
    response = login_as("b1_am2").post(JOBS, {"scope": "nonsense"}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "没有发起批量评分的权限"
    assert not ScoringJob.objects.exists()


def test_api_another_banks_village_is_not_found_and_nothing_is_created(
    villages, champion, login_as
):
    response = login_as("b1_admin").post(
        JOBS, {"scope": "village", "scope_id": str(villages["v2"].pk)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["scope_id"] == ["行政村不存在"]
    assert not ScoringJob.objects.exists()


def test_api_another_banks_job_is_not_found(villages, champion, login_as):
    from risk.services import scoring_job_start

    foreign = scoring_job_start(
        scope="village",
        scope_id=villages["v2"].pk,
        actor=get_user_model().objects.get(username="b2_admin"),
    )
    assert login_as("b1_admin").get(f"{JOBS}{foreign.pk}/").status_code == 404
    assert login_as("b2_admin").get(f"{JOBS}{foreign.pk}/").status_code == 200


def test_job_list_queries_do_not_grow_with_jobs(villages, champion):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from risk.services import scoring_job_start

    admin = get_user_model().objects.get(username="b1_admin")
    client = admin_client("b1_admin")
    url = reverse("admin:risk_scoringjob_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    scoring_job_start(scope="village", scope_id=villages["v1"].pk, actor=admin)
    one = queries()
    scoring_job_start(scope="bank", actor=admin)
    scoring_job_start(scope="village", scope_id=villages["v1"].pk, actor=admin)
    assert queries() == one
