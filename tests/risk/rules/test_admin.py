"""The rules back office: a broken expression shown beside the field with its position, writes
through the services (an edit makes a version), and one bank never sees another's rules."""

from __future__ import annotations

import pytest
from django.test import Client

from risk.rules.models import Rule, RuleVersion
from risk.rules.services import rule_create

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/risk/rule/"


@pytest.fixture
def client_for(staff):
    def make(username: str) -> Client:
        client = Client()
        client.force_login(staff[username].user)
        return client

    return make


def form_data(rule: Rule, **changes) -> dict:
    data = {
        "name": rule.name,
        "category": rule.category,
        "expression": rule.expression,
        "outcome": rule.outcome,
        "reason_code": rule.reason_code,
        "reason_text": rule.reason_text,
        "source": rule.source,
        "enabled": "on",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


@pytest.fixture
def bank1_rule(staff, province):
    return rule_create(
        by=staff["b1_risk"].user,
        owner=province["bank1"],
        code="B1_INCOME",
        name="本行收入下限",
        category="admission",
        expression="net_income < 8000",
        outcome="refer",
        reason_code="B1_INCOME",
        reason_text="家庭净收入低于8000元",
    )


def test_a_broken_expression_shows_its_position_beside_the_field(client_for, bank1_rule):
    url = f"{CHANGELIST}{bank1_rule.pk}/change/"
    response = client_for("b1_risk").post(
        url, form_data(bank1_rule, expression="net_income < 8000 and\n  dept_ratio > 1")
    )
    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors["expression"]
    assert errors[0].startswith("第2行第3列：未知的特征“dept_ratio”，是否应为“debt_ratio”")
    assert "第2行第3列" in response.content.decode()
    bank1_rule.refresh_from_db()
    assert bank1_rule.expression == "net_income < 8000"
    assert bank1_rule.version == 1


def test_an_edit_in_the_admin_makes_a_new_version_listed_read_only(client_for, bank1_rule):
    client = client_for("b1_risk")
    url = f"{CHANGELIST}{bank1_rule.pk}/change/"
    response = client.post(url, form_data(bank1_rule, expression="net_income < 9000"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    bank1_rule.refresh_from_db()
    assert bank1_rule.version == 2
    assert RuleVersion.objects.filter(rule=bank1_rule).count() == 2
    page = client.get(url).content.decode()
    assert "net_income &lt; 8000" in page  # the first version, still shown


def test_the_list_filters_by_category_and_a_bank_sees_only_its_own_and_the_federations(
    client_for, bank1_rule
):
    page = client_for("b2_risk").get(CHANGELIST, {"q": "INCOME"}).content.decode()
    assert "B1_INCOME" not in page
    assert "INCOME_FLOOR" in page
    assert client_for("b2_risk").get(f"{CHANGELIST}{bank1_rule.pk}/change/").status_code == 404
    own = client_for("b1_risk").get(CHANGELIST, {"category": "antifraud"}).content.decode()
    assert "AF_SCORE_REJECT" in own
    assert "CR_CURRENT_OVERDUE" not in own


def test_a_bank_cannot_change_a_federation_rule_but_federation_staff_can(client_for):
    federal = Rule.objects.get(owner=None, code="INCOME_FLOOR")
    url = f"{CHANGELIST}{federal.pk}/change/"
    response = client_for("b1_risk").post(url, form_data(federal, expression="net_income < 1"))
    assert response.status_code == 403
    response = client_for("fed_admin").post(url, form_data(federal, expression="net_income < 6000"))
    assert response.status_code == 302
    federal.refresh_from_db()
    assert federal.expression == "net_income < 6000"
    assert federal.version == 2


def test_rule_sets_and_derived_features_pages_open(client_for):
    client = client_for("fed_admin")
    assert client.get("/admin/risk/ruleset/").status_code == 200
    assert client.get("/admin/risk/derivedfeature/").status_code == 200
    from risk.rules.models import RuleSet

    rule_set = RuleSet.objects.get(owner=None, code="ADMISSION_DEFAULT")
    page = client.get(f"/admin/risk/ruleset/{rule_set.pk}/change/").content.decode()
    assert "CR_CURRENT_OVERDUE v1" in page
