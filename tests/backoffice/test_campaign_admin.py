"""A campaign's admin page shows its progress; a campaign under way cannot be deleted."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from villages.models import Campaign, Household
from villages.services import campaign_create, campaign_transition
from villages.services.campaigns import campaign_delete

User = get_user_model()


@pytest.fixture
def admin_client(client, villages):
    client.force_login(User.objects.get(username="b1_admin"))
    return client


def _campaign(villages, *, start=False):
    campaign = campaign_create(
        village=villages["v1"],
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 31),
    )
    if start:
        campaign_transition(campaign=campaign, to_status=Campaign.Status.IN_PROGRESS)
    return campaign


def test_change_page_shows_progress_and_coverage(admin_client, villages):
    campaign = _campaign(villages)
    first, second, _ = villages["v1_households"]
    Household.objects.filter(pk=first.pk).update(
        credit_grade="AA", pre_approved_limit=Decimal("50000")
    )
    Household.objects.filter(pk=second.pk).update(credit_grade="A")

    html = admin_client.get(f"/admin/villages/campaign/{campaign.pk}/change/").content.decode()

    assert "整村授信进度" in html
    assert "已建档" in html
    assert "3 / 3 户" in html
    assert "已评级" in html
    assert "2 / 3 户" in html
    assert "授信覆盖率 <strong>33.33%</strong>" in html
    assert "筹备中" in html  # the status by its label


def test_in_progress_campaign_delete_page_refuses_with_reason(admin_client, villages):
    campaign = _campaign(villages, start=True)

    for method in ("get", "post"):
        response = getattr(admin_client, method)(
            f"/admin/villages/campaign/{campaign.pk}/delete/", follow=True
        )
        assert response.status_code == 200
        assert "正在进行中，不能删除" in response.content.decode()
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_bulk_delete_with_an_in_progress_campaign_deletes_nothing(admin_client, villages):
    other = campaign_create(
        village=villages["v1"],
        name="第一期",
        starts_on=datetime.date(2026, 1, 1),
        ends_on=datetime.date(2026, 3, 1),
    )
    campaign_transition(campaign=other, to_status=Campaign.Status.CANCELLED)
    running = _campaign(villages, start=True)
    response = admin_client.post(
        "/admin/villages/campaign/",
        {"action": "delete_selected", "_selected_action": [running.pk, other.pk], "post": "yes"},
        follow=True,
    )
    assert "正在进行中，不能删除" in response.content.decode()
    assert Campaign.objects.filter(pk__in=[running.pk, other.pk]).count() == 2


def test_planned_campaign_is_deleted_after_confirmation(admin_client, villages):
    campaign = _campaign(villages)
    response = admin_client.post(f"/admin/villages/campaign/{campaign.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Campaign.objects.filter(pk=campaign.pk).exists()


def test_service_refuses_in_progress_delete(villages):
    campaign = _campaign(villages, start=True)
    with pytest.raises(ValidationError) as error:
        campaign_delete(campaign=campaign)
    assert "不能删除" in str(error.value)
    assert Campaign.objects.filter(pk=campaign.pk).exists()
