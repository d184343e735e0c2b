"""The admin index shows each role the numbers it acts on, scoped to what the role may see,
with charts drawn in the page (no script, no internet)."""

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from risk.models import MonitoringRun
from risk.registry import scorecard_promote, scorecard_submit
from tests.risk.model_setup import media, register, staff  # noqa: F401
from villages.models import Household
from villages.selectors import week_start
from villages.services import campaign_create

User = get_user_model()


def _index(client, username: str) -> str:
    client.force_login(User.objects.get(username=username))
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def campaigns(villages):
    for key, name in [("v1", "北杜村整村授信"), ("v2", "魏村整村授信")]:
        campaign_create(
            village=villages[key],
            name=name,
            starts_on=datetime.date(2026, 10, 1),
            ends_on=datetime.date(2026, 12, 31),
        )
    first = villages["v1_households"][0]
    Household.objects.filter(pk=first.pk).update(
        credit_grade="AA", pre_approved_limit=Decimal("80000")
    )
    return villages


def test_bank_admin_sees_own_coverage_and_this_weeks_work(client, campaigns):
    html = _index(client, "b1_admin")

    assert "授信覆盖率（按行政村）" in html
    assert "北杜村" in html
    assert "33.33%" in html  # one of three households pre-approved
    assert "筹备中" in html  # campaign status by its label
    assert "魏村" not in html  # the other bank's village
    # the fixture's archives were written just now: three households this week
    assert re.search(r'id="archived-this-week">3<', html)
    assert re.search(r'id="rated-this-week">0<', html)
    chart = html[html.index('id="dashboard"') :]
    assert "<svg" in chart
    assert "<script" not in chart
    assert "http" not in chart.replace("http://www.w3.org/2000/svg", "")
    # the module list is still there below the panels
    assert "/admin/villages/household/" in html


def test_federation_sees_every_bank(client, campaigns):
    html = _index(client, "fed_admin")
    assert "北杜村" in html
    assert "魏村" in html
    assert "全省" in html
    assert re.search(r'id="archived-this-week">6<', html)


def test_account_manager_sees_their_villages_without_the_models_panel(client, campaigns):
    html = _index(client, "b2_am1")
    assert "魏村" in html
    assert "北杜村" not in html
    assert "我负责的行政村" in html
    assert "需关注的评分模型" not in html


def test_week_starts_on_monday_in_beijing_time():
    # Sunday 2026-03-08 17:00 UTC is Monday 01:00 in Beijing: a new week there.
    sunday_evening_utc = datetime.datetime(2026, 3, 8, 17, 0, tzinfo=datetime.UTC)
    start = week_start(sunday_evening_utc)
    assert timezone.localtime(start).date() == datetime.date(2026, 3, 9)
    assert timezone.localtime(start).hour == 0


def test_models_needing_attention_are_listed_with_their_band(client, register, staff):  # noqa: F811
    scorecard = register(trained_by=staff["fed_modeller"])
    scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)
    champion = scorecard_promote(scorecard=scorecard, actor=staff["fed_admin"].user)
    MonitoringRun.objects.create(
        scorecard=champion,
        computed_at=timezone.now(),
        sample_size=300,
        score_psi=0.04,  # the score is stable…
        band=MonitoringRun.Band.STABLE,
        feature_psi={"debt_ratio": 17.0, "net_income": 0.02},  # …but a feature has moved
    )

    html = _index(client, "b1_admin")

    panel = html[html.index('id="panel-models"') :]
    assert str(champion) in panel
    assert "需处置(&gt;0.25)" in panel
    assert "资产负债率" in panel  # the drifting feature by its Chinese label
