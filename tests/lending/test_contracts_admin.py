"""合同模板 and 电子合同 in the admin: a template drafted, refused beside its body for a syntax
error, previewed as a PDF, activated; a contract's page with its signers and chain in Chinese and
no full ID number, the evidence report for every reader and the PDF only for roles that may see
identities in full; the changelist's query count does not grow with its rows."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from pypdf import PdfReader

from lending.contracts import services
from lending.contracts.models import ContractTemplate, TemplateStatus
from tests.lending.contract_setup import approved_application, sign_all


def _login(client, username):
    client.force_login(get_user_model().objects.get(username=username))


def test_a_template_is_drafted_previewed_and_activated(world, client):
    _login(client, "fed_admin")
    broken = client.post(
        "/admin/lending/contracttemplate/add/",
        {"code": "HT-NEW", "title": "新合同", "body": "{% for %}", "note": ""},
    )
    assert broken.status_code == 200
    assert "模板语法错误" in broken.content.decode()
    assert not ContractTemplate.objects.filter(code="HT-NEW").exists()

    added = client.post(
        "/admin/lending/contracttemplate/add/",
        {
            "code": "HT-NEW",
            "title": "新合同",
            "body": "<h1>{{ contract.title }}</h1><p>借款人{{ borrower.name }}</p>",
            "note": "初稿",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    template = ContractTemplate.objects.get(code="HT-NEW")
    assert (template.version, template.status) == (1, TemplateStatus.DRAFT)
    page = client.get(f"/admin/lending/contracttemplate/{template.pk}/change/").content.decode()
    assert "以示例数据生成 PDF 预览" in page
    preview = client.get(f"/admin/lending/contracttemplate/{template.pk}/preview/")
    assert preview["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(preview.content)).pages[0].extract_text()
    assert "借款人张示例" in text

    client.post(
        "/admin/lending/contracttemplate/",
        {"action": "activate_action", "_selected_action": [template.pk]},
    )
    template.refresh_from_db()
    assert template.status == TemplateStatus.ACTIVE
    frozen = client.get(f"/admin/lending/contracttemplate/{template.pk}/change/").content.decode()
    assert 'name="body"' not in frozen  # read-only once active


def test_contract_pages_and_downloads(
    world, local_flow, client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    for sequence in (1060, 1070):
        application = approved_application(world, sequence)
        with django_capture_on_commit_callbacks(execute=True):
            contract = services.contract_render(application=application)
    contract = sign_all(contract, django_capture_on_commit_callbacks)

    _login(client, "b1_admin")
    with django_assert_max_num_queries(15):
        listing = client.get("/admin/lending/contract/")
    assert listing.status_code == 200
    assert "已签署" in listing.content.decode()
    assert "待签署" in listing.content.decode()
    filtered = client.get("/admin/lending/contract/?status__exact=pending").content.decode()
    assert contract.number not in filtered

    detail = client.get(f"/admin/lending/contract/{contract.pk}/change/").content.decode()
    for label in (
        "签署方与签署状态",
        "存证记录(哈希链)",
        "银行电子签章",
        "证据报告(PDF)",
        "保证人",
    ):
        assert label in detail
    for signer in contract.signers.select_related("member"):
        assert signer.member.id_number not in detail
        assert signer.member.phone not in detail
    # A bank administrator reads masked identities only: the report, not the contract PDF.
    assert client.get(f"/admin/lending/contract/{contract.pk}/pdf/").status_code == 403
    report = client.get(f"/admin/lending/contract/{contract.pk}/report/")
    assert report.status_code == 200
    assert report["Content-Type"] == "application/pdf"

    _login(client, "b1_am2")
    pdf = client.get(f"/admin/lending/contract/{contract.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf.content == bytes(contract.signed_pdf)


def test_an_approved_application_gets_its_contract_from_the_admin(world, local_flow, client):
    application = approved_application(world, 1080, with_parties=False)
    _login(client, "b1_admin")
    assert "为审批通过的申请生成合同" in client.get("/admin/lending/contract/").content.decode()
    page = client.get("/admin/lending/contract/render/").content.decode()
    assert str(application) in page
    rendered = client.post("/admin/lending/contract/render/", {"application": application.pk})
    assert rendered.status_code == 302
    application.refresh_from_db()
    assert application.get_status_display() == "待签约"
    assert application.contracts.get().status == "pending"
    assert str(application) not in client.get("/admin/lending/contract/render/").content.decode()
    # Another bank's reviewer cannot render it.
    _login(client, "b2_admin")
    assert (
        client.post("/admin/lending/contract/render/", {"application": application.pk}).status_code
        == 404
    )
