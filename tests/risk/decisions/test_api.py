"""Decisions over the API: decide, what-if, detail; another bank's household is a 404, bad input
a 400 naming the field, and a resend with the same Idempotency-Key decides nothing twice."""

from __future__ import annotations

import datetime

from risk.decisions.models import Decision, DecisionKind
from tests.risk.decisions.test_outcomes import WELL_OFF, _household


def test_decide_what_if_and_detail(world, login_as):
    household = _household(world, figures=WELL_OFF, sequence=830)
    client = login_as("b1_am2")
    url = f"/api/v1/households/{household.pk}/decisions/"
    body = {"product": world["product"].pk, "requested_amount": "20000"}
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-830")
    assert first.status_code == 201, first.content
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-830")
    assert again.json()["id"] == first.json()["id"]
    assert Decision.objects.filter(household=household).count() == 1
    data = first.json()
    assert data["outcome_label"] in ("通过", "转人工审批", "拒绝")
    assert all(r["text"] for r in data["reasons"])
    what_if = client.post(f"{url}what-if/", {"product": world["product"].pk}, format="json")
    assert what_if.status_code == 201
    assert Decision.objects.get(pk=what_if.json()["id"]).kind == DecisionKind.WHAT_IF
    detail = client.get(f"/api/v1/decisions/{data['id']}/")
    assert detail.status_code == 200
    assert household.head.id_number not in detail.content.decode()


def test_foreign_household_and_bad_input(world, login_as):
    client = login_as("b1_am2")
    foreign = world["v2_households"][0]
    before = Decision.objects.count()
    response = client.post(
        f"/api/v1/households/{foreign.pk}/decisions/",
        {"product": world["product"].pk},
        format="json",
    )
    assert response.status_code == 404
    own = world["v1_households"][0]
    bad = client.post(
        f"/api/v1/households/{own.pk}/decisions/",
        {"product": world["product"].pk, "requested_amount": "-5"},
        format="json",
    )
    assert bad.status_code == 400
    assert "requested_amount" in bad.json()["fields"]
    unknown = client.post(
        f"/api/v1/households/{own.pk}/decisions/", {"product": 999999}, format="json"
    )
    assert unknown.status_code == 400
    assert "product" in unknown.json()["fields"]
    assert Decision.objects.count() == before


def test_detail_carries_the_trace_and_the_household_lists_its_decisions(world, login_as):
    old = _household(world, figures=WELL_OFF, birth=datetime.date(1940, 3, 1), sequence=831)
    client = login_as("b1_am2")
    url = f"/api/v1/households/{old.pk}/decisions/"
    decided = client.post(url, {"product": world["product"].pk}, format="json").json()
    assert decided["outcome"] == "reject"
    steps = [step["step"] for step in decided["trace"]]
    assert steps[0] == "风险名单"
    assert steps[-1] == "结论"
    hits = [step["result"] for step in decided["trace"] if step["step"] == "规则命中"]
    assert any("年龄" in hit for hit in hits), decided["trace"]
    assert decided["trace"][-1]["result"] == "拒绝"
    assert client.get(f"/api/v1/decisions/{decided['id']}/").json()["trace"] == decided["trace"]

    what_if = client.post(f"{url}what-if/", {"product": world["product"].pk}, format="json")
    listed = client.get(url)
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [r["id"] for r in rows] == [what_if.json()["id"], decided["id"]]  # newest first
    assert rows[1]["outcome_label"] == "拒绝"
    assert "年龄" in rows[1]["primary_reason_text"]
    assert rows[0]["kind_label"] == "试算(不用于授信)"
    only_applications = client.get(url, {"kind": DecisionKind.APPLICATION}).json()["results"]
    assert [r["id"] for r in only_applications] == [decided["id"]]
    bad = client.get(url, {"outcome": "maybe"})
    assert bad.status_code == 400
    assert "outcome" in bad.json()["fields"]
    foreign = world["v2_households"][0]
    assert client.get(f"/api/v1/households/{foreign.pk}/decisions/").status_code == 404
