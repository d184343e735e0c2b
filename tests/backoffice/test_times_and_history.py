"""Times are read in Beijing time wherever staff see them, and history pages name related rows
instead of showing their ids."""

import datetime

from django.contrib.auth import get_user_model

from org.models import Staff
from risk.admin_views import psi_chart_html
from risk.models import MonitoringRun
from tests.risk.model_setup import media, register, staff  # noqa: F401
from villages.models import FieldVisit, VisitPhoto
from villages.services import campaign_create

User = get_user_model()
UTC = datetime.UTC

# 20:30 UTC on 1 March is 04:30 on 2 March in Beijing: a date taken in UTC is a day early.
LATE_EVENING_UTC = datetime.datetime(2026, 3, 1, 20, 30, tzinfo=UTC)


def test_field_visit_and_photo_labels_are_in_beijing_time(villages):
    household = villages["v1_households"][0]
    visit = FieldVisit(household=household, visited_at=LATE_EVENING_UTC, purpose="archive")
    photo = VisitPhoto(visit=visit, kind="house", captured_at=LATE_EVENING_UTC)

    assert str(visit).endswith("2026-03-02")
    assert str(photo) == "房屋 · 2026-03-02 04:30"


def test_psi_chart_axis_is_in_beijing_time(register):  # noqa: F811
    scorecard = register()
    MonitoringRun.objects.create(
        scorecard=scorecard,
        computed_at=LATE_EVENING_UTC,
        sample_size=100,
        score_psi=0.05,
        band=MonitoringRun.Band.STABLE,
    )

    chart = psi_chart_html(scorecard)

    assert ">03-02<" in chart
    assert "2026-03-02 04:30" in chart
    assert "03-01" not in chart


def test_history_page_names_related_rows_instead_of_ids(client, villages):
    lead = Staff.objects.get(user__username="b1_am2")
    campaign = campaign_create(
        village=villages["v1"],
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 31),
        lead=lead,
    )
    client.force_login(User.objects.get(username="b1_admin"))

    html = client.get(f"/admin/villages/campaign/{campaign.pk}/history/").content.decode()

    assert f"<strong>行政村</strong>：{villages['v1']}" in html
    assert f"<strong>负责人</strong>：{lead}" in html
    assert f"<strong>行政村</strong>：{villages['v1'].pk}<" not in html
    assert "筹备中" in html  # choices by label
