"""The pure-online path end to end over the API, as the self-service app and the PAD drive it:
create → submit (the strategy approves at once) → contract rendered → every party asks for a
code and signs → the application is 已签约 and its credit line 已生效. Along the way: masked
phones, the PDF download with its hash, a wrong code counted even though the call fails, a
replayed signature, and another bank's contract a 404."""

from __future__ import annotations

import base64
import uuid

from lending.applications.models import Application
from lending.contracts.models import Contract, ContractSigner
from lending.contracts.verification import contract_verify
from lending.lines.models import CreditLine, LineStatus
from tests.lending.contract_setup import SIGNATURE, code_for, household_with_phone

SIGNATURE_B64 = "data:image/png;base64," + base64.b64encode(SIGNATURE).decode()


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_pure_online_application_to_active_line(
    world, local_flow, login_as, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    household = household_with_phone(world, 1010)
    co_borrower = household_with_phone(world, 1011).head
    guarantor = household_with_phone(world, 1012).head
    client = login_as("b1_am2")
    created = client.post(
        "/api/v1/applications/",
        {
            "client_uuid": str(uuid.uuid4()),
            "household": str(household.pk),
            "applicant": str(household.head_id),
            "product": world["product"].pk,
            "amount": "20000",
            "term_months": 12,
            "repayment_method": "equal_instalment",
            "purpose": "购买化肥种子",
            "channel": "pad",
            "co_borrowers": [str(co_borrower.pk)],
            "guarantors": [str(guarantor.pk)],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    submitted = client.post(f"/api/v1/applications/{pk}/submit/", format="json").json()
    assert submitted["status_label"] == "自动审批通过"

    assert client.get(f"/api/v1/applications/{pk}/contract/").status_code == 404
    with capture(execute=True):
        rendered = client.post(f"/api/v1/applications/{pk}/contract/", format="json")
    assert rendered.status_code == 201, rendered.content
    contract = rendered.json()
    assert contract["status_label"] == "待签署"
    assert [s["role_label"] for s in contract["signers"]] == ["借款人", "共同借款人", "保证人"]
    assert contract["signers"][0]["phone"] == "139****0001"
    body = rendered.content.decode()
    assert household.head.phone not in body
    assert household.head.id_number not in body
    again = client.post(f"/api/v1/applications/{pk}/contract/", format="json")
    assert (again.status_code, again.json()["id"]) == (200, contract["id"])

    pdf = client.get(contract["pdf_url"])
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["X-Content-SHA256"] == contract["sha256"]
    assert client.get(contract["pdf_url"], HTTP_ACCEPT="application/pdf").content == pdf.content

    base = f"/api/v1/contracts/{contract['id']}"
    for n, signer in enumerate(contract["signers"]):
        with capture(execute=True):
            sent = client.post(
                f"{base}/signing-codes/", {"member": signer["member"]}, format="json"
            )
        assert sent.status_code == 201, sent.content
        assert sent.json()["phone"] == signer["phone"]
        member = household.members.model.objects.get(pk=signer["member"])
        code = code_for(member)
        sign = {
            "member": signer["member"],
            "code": code,
            "document_sha256": contract["sha256"],
            "signature": SIGNATURE_B64,
            "device_id": "PAD-0042",
        }
        if n == 0:
            wrong = client.post(
                f"{base}/sign/",
                {**sign, "code": _wrong(code)},
                format="json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            assert wrong.status_code == 400
            assert wrong.json()["fields"]["code"] == ["验证码错误，还可尝试4次"]
            # Answered, and the count stays although the call failed.
            assert (
                ContractSigner.objects.get(
                    contract_id=contract["id"], member=member
                ).failed_attempts
                == 1
            )
        key = str(uuid.uuid4())
        with capture(execute=True):
            signed = client.post(f"{base}/sign/", sign, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert signed.status_code == 200, signed.content
        replay = client.post(f"{base}/sign/", sign, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert replay.status_code == 200
        assert replay["Idempotent-Replayed"] == "true"

    final = signed.json()
    assert final["status_label"] == "已签署"
    assert {s["status_label"] for s in final["signers"]} == {"已签署"}
    application = Application.objects.get(pk=pk)
    assert application.get_status_display() == "已签约"
    line = CreditLine.objects.get(pk=application.line_id)
    assert line.status == LineStatus.ACTIVE
    assert line.get_status_display() == "已生效"
    assert client.get(f"/api/v1/applications/{pk}/").json()["status_label"] == "已签约"
    sealed = client.get(final["pdf_url"])
    assert sealed["X-Content-SHA256"] == final["signed_sha256"]
    assert contract_verify(Contract.objects.get(pk=contract["id"])).ok

    stranger = login_as("b2_am1")
    assert stranger.get(f"/api/v1/applications/{pk}/contract/").status_code == 404
    assert stranger.get(final["pdf_url"]).status_code == 404
    assert (
        stranger.post(
            f"{base}/signing-codes/", {"member": signer["member"]}, format="json"
        ).status_code
        == 404
    )


def test_signing_against_an_old_render_is_refused(
    world, local_flow, login_as, django_capture_on_commit_callbacks
):
    from lending.contracts import services
    from tests.lending.contract_setup import approved_application

    application = approved_application(world, 1020, with_parties=False)
    with django_capture_on_commit_callbacks(execute=True):
        old = services.contract_render(application=application)
        new = services.contract_render(application=application, rerender=True)
    client = login_as("b1_am2")
    body = {
        "member": str(application.applicant_id),
        "code": "123456",
        "document_sha256": old.sha256,
        "signature": SIGNATURE_B64,
        "device_id": "PAD-1",
    }
    refused = client.post(
        f"/api/v1/contracts/{old.pk}/sign/",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert refused.status_code == 400
    assert new.number in refused.json()["fields"]["contract"][0]
    stale = client.post(
        f"/api/v1/contracts/{new.pk}/sign/",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert "document_sha256" in stale.json()["fields"]
    assert client.get(f"/api/v1/applications/{application.pk}/contract/").json()["id"] == new.pk
