import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from pghistory.models import Events

from villages.models import Campaign, Household
from villages.services import campaign_create, campaign_transition


def test_campaign_progress_counts_and_coverage(login_as, villages):
    village = villages["v1"]
    campaign = campaign_create(
        village=village,
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 31),
    )
    first, second, _ = villages["v1_households"]
    Household.objects.filter(pk=first.pk).update(
        credit_grade="AA", pre_approved_limit=Decimal("100000")
    )
    Household.objects.filter(pk=second.pk).update(credit_grade="A")

    rows = login_as("b1_admin").get("/api/v1/campaigns/").json()["results"]

    assert [row["id"] for row in rows] == [campaign.pk]
    progress = rows[0]["progress"]
    assert progress == {
        "households": 3,
        "archived": 3,
        "reviewed": 0,
        "rated": 2,
        "pre_approved": 1,
        "archived_percent": "100.00",
        "coverage_percent": "33.33",
    }


def test_campaign_transitions_are_guarded_and_audited(villages):
    campaign = campaign_create(
        village=villages["v1"],
        name="活动",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 31),
    )
    with pytest.raises(ValidationError):
        campaign_transition(campaign=campaign, to_status=Campaign.Status.COMPLETED)
    campaign_transition(campaign=campaign, to_status=Campaign.Status.IN_PROGRESS)
    campaign_transition(campaign=campaign, to_status=Campaign.Status.COMPLETED)

    diffs = [
        e.pgh_diff
        for e in Events.objects.tracks(campaign)
        .filter(pgh_label="update")
        .order_by("pgh_created_at")
    ]
    assert [d["status"] for d in diffs] == [
        ["planned", "in_progress"],
        ["in_progress", "completed"],
    ]


def test_campaign_dates_validated(villages):
    with pytest.raises(ValidationError) as error:
        campaign_create(
            village=villages["v1"],
            name="x",
            starts_on=datetime.date(2026, 10, 1),
            ends_on=datetime.date(2026, 9, 1),
        )
    assert "ends_on" in error.value.message_dict
