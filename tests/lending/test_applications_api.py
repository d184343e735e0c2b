"""Applications from the PAD: created once per client UUID (201, then 200), submitted and
decided, a second submit a 409, the timeline in Chinese, another bank's household a 404."""

from __future__ import annotations

import uuid

from lending.applications.models import Application
from tests.lending.test_lines import MODEST
from tests.risk.decisions.test_outcomes import _household


def _body(world, household, **overrides):
    return {
        "client_uuid": str(uuid.uuid4()),
        "household": str(household.pk),
        "applicant": str(household.head_id),
        "product": world["product"].pk,
        "amount": "20000",
        "term_months": 12,
        "repayment_method": "equal_instalment",
        "purpose": "购买化肥种子",
        "channel": "pad",
        **overrides,
    }


def test_the_pad_applies_submits_and_reads_the_timeline(world, local_flow, login_as):
    household = _household(world, figures=MODEST, sequence=970)
    client = login_as("b1_am2")
    body = _body(world, household)
    created = client.post("/api/v1/applications/", body, format="json")
    assert created.status_code == 201, created.content
    resent = client.post("/api/v1/applications/", body, format="json")
    assert resent.status_code == 200
    assert resent.json()["id"] == created.json()["id"]
    pk = created.json()["id"]
    submitted = client.post(f"/api/v1/applications/{pk}/submit/", format="json")
    assert submitted.status_code == 200, submitted.content
    data = submitted.json()
    assert data["status_label"] == "自动审批通过"
    assert [step["to_label"] for step in data["timeline"]] == ["草稿", "已提交", "自动审批通过"]
    again = client.post(f"/api/v1/applications/{pk}/submit/", format="json")
    assert again.status_code == 409, again.content.decode()
    assert again.json()["code"] == "conflict"
    assert "自动审批通过" in again.json()["message"]
    listed = client.get("/api/v1/applications/", {"household": str(household.pk)}).json()
    assert [row["id"] for row in listed["results"]] == [pk]
    assert (
        household.head.id_number not in client.get(f"/api/v1/applications/{pk}/").content.decode()
    )


def test_bad_input_and_foreign_households(world, local_flow, login_as):
    household = _household(world, figures=MODEST, sequence=971)
    client = login_as("b1_am2")
    wrong = client.post(
        "/api/v1/applications/", _body(world, household, term_months=99), format="json"
    )
    assert wrong.status_code == 400
    assert "term_months" in wrong.json()["fields"]
    wrong_party = client.post(
        "/api/v1/applications/",
        _body(world, household, guarantors=[str(uuid.uuid4())]),
        format="json",
    )
    assert "guarantors" in wrong_party.json()["fields"]
    foreign = world["v2_households"][0]
    assert (
        client.post("/api/v1/applications/", _body(world, foreign), format="json").status_code
        == 404
    )
    assert not Application.objects.exists()
    withdrawn_pk = client.post("/api/v1/applications/", _body(world, household), format="json")
    pk = withdrawn_pk.json()["id"]
    out = client.post(f"/api/v1/applications/{pk}/withdraw/", {"reason": "不借了"}, format="json")
    assert out.json()["status_label"] == "已撤回"


def test_the_pad_uploads_documents_investigates_and_resubmits(world, local_flow, media, login_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from lending.applications import services
    from lending.applications.models import ApprovalTask
    from tests.lending.test_approval import investigation, png, referred

    application = referred(world, sequence=985)
    client = login_as("b1_am2")
    url = f"/api/v1/applications/{application.pk}/attachments/"
    key = str(uuid.uuid4())
    first = client.post(
        url, {"client_uuid": key, "kind": "land_contract", "file": png()}, format="multipart"
    )
    assert first.status_code == 201, first.content
    assert first.json()["kind_label"] == "土地承包经营权证"
    again = client.post(
        url, {"client_uuid": key, "kind": "land_contract", "file": png()}, format="multipart"
    )
    assert again.status_code == 200
    text = SimpleUploadedFile("a.jpg", b"not a picture at all", content_type="image/jpeg")
    refused = client.post(
        url,
        {"client_uuid": str(uuid.uuid4()), "kind": "id_card", "file": text},
        format="multipart",
    )
    assert refused.status_code == 400
    assert "file" in refused.json()["fields"]
    assert application.attachments.count() == 1

    no_gps = investigation(world, application.household, gps=False)
    bad = client.post(
        f"/api/v1/applications/{application.pk}/investigation/",
        {"visit": str(no_gps.pk)},
        format="json",
    )
    assert bad.status_code == 400
    assert "定位" in str(bad.json())
    visit = investigation(world, application.household)
    sent = client.post(
        f"/api/v1/applications/{application.pk}/investigation/",
        {"visit": str(visit.pk), "comment": "实地核实"},
        format="json",
    )
    assert sent.status_code == 200, sent.content
    assert sent.json()["status_label"] == "支行审查"
    assert [a["kind"] for a in sent.json()["attachments"]] == ["land_contract"]

    task = ApprovalTask.objects.get(application=application)
    services.approval_task_decide(
        task=task, actor=task.assignee.user, outcome="return", comment="补充收入证明"
    )
    back = client.post(
        f"/api/v1/applications/{application.pk}/resubmit/",
        {"comment": "已上传收入证明"},
        format="json",
    )
    assert back.status_code == 200, back.content
    assert back.json()["status_label"] == "支行审查"
    assert back.json()["timeline"][-2]["to_label"] == "退回补充资料"
