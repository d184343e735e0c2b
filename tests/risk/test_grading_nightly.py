"""The nightly re-rating: exactly the households whose archive changed after their latest score
(and those with an archive never scored) are scored again, by a task the beat schedule runs."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.contrib.auth import get_user_model
from django_celery_beat.models import PeriodicTask

from common.schedules import schedules_ensure_defaults
from org.models import Staff
from risk.grading_selectors import households_archive_changed_since_scored
from risk.models import HouseholdScore
from risk.scoring import clear_cache
from risk.services import household_score, household_scores_refresh
from risk.tasks import NIGHTLY_RATING_TASK, rate_changed_households
from tests.risk.batch_setup import make_scorecard
from villages.models import Household
from villages.services import archive_upsert, household_upsert


@pytest.fixture
def world(villages):
    """Bank 1: household 0 scored after its archive, household 1 scored then its archive edited,
    household 2 never scored; a household without any archive; bank 2 never scored."""
    clear_cache()
    make_scorecard("farmer")
    admin = get_user_model().objects.get(username="b1_admin")
    scored, edited, never = villages["v1_households"]
    household_score(household=scored, actor=admin)
    household_score(household=edited, actor=admin)
    archive = edited.archives.get()
    archive_upsert(
        archive_id=archive.pk,
        household=edited,
        survey_date=archive.survey_date,
        surveyed_by=Staff.objects.get(user__username="b1_am2"),
        figures={"land_contracted_mu": "20", "income_crops": "90000", "deposits": "5000"},
    )
    no_archive, _ = household_upsert(
        household_id=uuid.uuid4(),
        village=villages["v1"],
        actor=Staff.objects.get(user__username="b1_am2"),
        group_name="第二组",
        address="北杜村9号",
        phone="",
    )
    return {
        "scored": scored,
        "edited": edited,
        "never": never,
        "no_archive": no_archive,
        "foreign": villages["v2_households"],
    }


def selected() -> set:
    return set(households_archive_changed_since_scored().values_list("pk", flat=True))


def test_selection_is_exactly_the_households_whose_archive_changed_after_their_score(world):
    assert selected() == {
        world["edited"].pk,
        world["never"].pk,
        *(h.pk for h in world["foreign"]),
    }


def test_an_archive_edited_before_the_latest_score_is_not_selected_again(world):
    admin = get_user_model().objects.get(username="b1_admin")
    household_score(household=world["edited"], actor=admin)
    assert world["edited"].pk not in selected()


def test_the_nightly_run_scores_them_once_and_rates_them(world):
    before = HouseholdScore.objects.filter(role="champion").count()

    assert household_scores_refresh(page_size=2) == 5  # pages of two: three transactions

    assert HouseholdScore.objects.filter(role="champion").count() == before + 5
    assert HouseholdScore.objects.filter(household=world["scored"]).count() == 1
    assert HouseholdScore.objects.filter(household=world["edited"]).count() == 2
    assert not HouseholdScore.objects.filter(household=world["no_archive"]).exists()
    grades = Household.objects.filter(
        pk__in=[world["never"].pk, *(h.pk for h in world["foreign"])]
    ).values_list("credit_grade", flat=True)
    assert all(grades)
    assert HouseholdScore.objects.filter(household=world["never"], job__isnull=True).exists()
    # Nothing left: a second run the same night scores nobody.
    assert selected() == set()
    assert household_scores_refresh() == 0


def test_the_rated_grade_is_the_one_the_household_page_shows(world):
    household_scores_refresh()
    never = Household.objects.get(pk=world["never"].pk)
    latest = HouseholdScore.objects.filter(household=never, role="champion").latest("scored_at")
    assert never.credit_grade == latest.grade


def test_the_schedule_exists_and_its_task_runs_the_service(world):
    PeriodicTask.objects.filter(task=NIGHTLY_RATING_TASK).delete()
    schedules_ensure_defaults()
    schedule = PeriodicTask.objects.get(task=NIGHTLY_RATING_TASK)
    assert schedule.name == "档案变更农户夜间重新评级"
    assert (schedule.crontab.hour, schedule.crontab.minute) == ("2", "30")
    assert str(schedule.crontab.timezone) == "Asia/Shanghai"

    assert rate_changed_households.apply().get() == 5
    assert selected() == set()


def test_an_import_dated_archive_without_a_score_is_picked_up(world):
    # An archive written for a household scored long ago (e.g. a second survey this year).
    admin_staff = Staff.objects.get(user__username="b1_am2")
    archive_upsert(
        archive_id=uuid.uuid4(),
        household=world["scored"],
        survey_date=datetime.date(2026, 11, 20),
        surveyed_by=admin_staff,
        figures={"land_contracted_mu": "3"},
    )
    assert world["scored"].pk in selected()
