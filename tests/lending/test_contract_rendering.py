"""Contract PDFs: the amount in Chinese capitals, a PDF that shows the borrower's name in a CJK
font embedded from the project's own file, and templates versioned so that a signed contract's
text never changes under it."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from pypdf import PdfReader

from lending.applications.models import ApplicationStatus
from lending.contracts import services
from lending.contracts.models import ContractStatus, EvidenceKind, TemplateStatus
from lending.contracts.rendering import amount_in_capitals
from tests.lending.contract_setup import approved_application


@pytest.mark.parametrize(
    ("amount", "capitals"),
    [
        ("20000", "贰万元整"),
        ("10010.50", "壹万零壹拾元伍角整"),
        ("105000", "壹拾万伍仟元整"),
        ("1000000", "壹佰万元整"),
        ("100000001.07", "壹亿零壹元零柒分"),
        ("0.30", "叁角整"),
        ("3005.2", "叁仟零伍元贰角整"),
    ],
)
def test_amounts_in_chinese_capitals(amount, capitals):
    assert amount_in_capitals(Decimal(amount)) == capitals


def _fonts(reader: PdfReader) -> list[str]:
    names = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            names.append(str(font["/BaseFont"]))
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                assert "/FontFile2" in descriptor  # the glyphs travel inside the PDF
    return names


def test_the_contract_pdf_shows_the_borrower_in_an_embedded_cjk_font(world, local_flow):
    application = approved_application(world, 980)
    contract = services.contract_render(
        application=application, actor=world["staff"]["b1_am2"].user
    )

    reader = PdfReader(io.BytesIO(bytes(contract.pdf)))
    text = "".join(page.extract_text() for page in reader.pages)
    assert application.applicant.name in text
    assert "贰万元整" in text
    assert "农户小额信用循环贷款合同" in text
    assert contract.number in text
    # The stylesheet's font, subset and embedded (WenQuanYi Micro Hei, a CJK font).
    assert any(name.endswith("+ContractCJK") for name in _fonts(reader))
    assert any(ord(char) > 0x4E00 for char in text)

    application.refresh_from_db()
    assert application.status == ApplicationStatus.CONTRACT_PENDING
    assert contract.status == ContractStatus.PENDING
    assert contract.template.code == services.DEFAULT_TEMPLATE_CODE
    assert [s.role for s in contract.signers.order_by("order")] == [
        "borrower",
        "co_borrower",
        "guarantor",
    ]
    assert list(contract.evidence.values_list("kind", flat=True)) == [EvidenceKind.RENDERED]


def test_templates_are_versioned_and_only_drafts_change(world, local_flow):
    admin = world["staff"]["b1_am2"].user
    with pytest.raises(ValidationError) as broken:
        services.contract_template_create(
            code="T-X", title="测试合同", body="{% if %}", actor=admin
        )
    assert "body" in broken.value.message_dict

    first = services.contract_template_create(
        code="T-X", title="测试合同", body="<p>{{ borrower.name }}</p>"
    )
    services.contract_template_activate(template=first)
    with pytest.raises(ValidationError) as frozen:
        services.contract_template_update(template=first, title="改", body="<p>改</p>")
    assert "status" in frozen.value.message_dict

    second = services.contract_template_copy(template=first)
    assert (second.version, second.status) == (2, TemplateStatus.DRAFT)
    services.contract_template_update(
        template=second, title="测试合同", body="<p>第二版{{ borrower.name }}</p>"
    )
    services.contract_template_activate(template=second)
    first.refresh_from_db()
    assert first.status == TemplateStatus.RETIRED
    assert first.body == "<p>{{ borrower.name }}</p>"  # what earlier contracts were rendered from
