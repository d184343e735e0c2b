"""The household changelist as staff read it: the head's name on one line, filters saying what
they filter."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders


@pytest.fixture
def admin_client(client, villages):
    client.force_login(get_user_model().objects.get(username="b1_admin"))
    return client


def test_the_campaign_status_filter_is_titled_as_the_campaigns(admin_client):
    html = admin_client.get("/admin/villages/household/").content.decode()
    assert "以 整村授信活动状态" in html
    assert "以 状态" not in html


def test_the_head_name_column_does_not_wrap(admin_client):
    html = admin_client.get("/admin/villages/household/").content.decode()
    stylesheet = re.search(r'href="([^"]*villages/admin/households\.css)"', html)
    assert stylesheet, "the household list links its stylesheet"
    with open(finders.find("villages/admin/households.css"), encoding="utf-8") as handle:
        css = handle.read()
    rule = re.search(r"\.field-head_name[^{]*\{([^}]*)\}", css)
    assert rule
    assert "white-space: nowrap" in rule.group(1)
    assert 'class="field-head_name' in html
