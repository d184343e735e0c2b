"""The product factory's back office shows every choice by its Chinese label, edits grade spreads
and approval bands as form fields (not JSON), logs status changes readably and shows an example
repayment schedule on a version's page."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from products.models import ProductVersion
from products.services import lpr_record, product_version_derive
from tests.products.conftest import make_product, users  # noqa: F401


@pytest.fixture
def client_for(users):  # noqa: F811
    def make(username: str) -> Client:
        client = Client()
        client.force_login(users[username])
        return client

    return make


@pytest.fixture
def product(province, make_product):  # noqa: F811
    lpr_record(effective_date=date(2024, 1, 1), lpr_1y=Decimal("3.10"), lpr_5y_plus=Decimal("3.60"))
    return make_product("FED-1", required_documents=["id_card", "household_register"])


def _active(product) -> ProductVersion:
    return product.versions.get(number=1)


def test_active_version_page_shows_labels_not_codes(client_for, product):
    html = (
        client_for("fed_admin")
        .get(f"/admin/products/productversion/{_active(product).pk}/change/")
        .content.decode()
    )

    for label in ["等额本息", "随借随还", "按季结息(每季末月20日)", "1年期LPR", "户口簿"]:
        assert label in html
    assert "≤100,000元：支行审查；≤300,000元：支行审查→集中审查中心" in html
    assert "AAA +0.45，A +1.45（百分点）" in html
    for code in ["equal_instalment", "quarterly_20th", "central_review", "household_register"]:
        assert code not in html


def test_version_page_shows_an_example_schedule(client_for, product):
    html = (
        client_for("fed_admin")
        .get(f"/admin/products/productversion/{_active(product).pk}/change/")
        .content.decode()
    )

    assert "还款计划试算(示例)" in html
    assert "等额本息：50,000.00 元，12 个月" in html
    assert "1年期LPR" in html  # the rate's basis by its label
    assert html.count('class="schedule-example"') == 3  # one per repayment method allowed
    assert "<th>还款日</th>" in html


def test_draft_is_edited_with_boxes_per_grade_and_band_rows(client_for, users, product):  # noqa: F811
    draft = product_version_derive(product=product, actor=users["fed_admin"])
    client = client_for("fed_admin")
    url = f"/admin/products/productversion/{draft.pk}/change/"

    html = client.get(url).content.decode()
    assert 'name="spread_by_grade_AAA" value="0.45"' in html
    assert 'name="approval_bands_1_up_to" value="300000"' in html
    assert 'name="approval_bands_1_central_review" checked' in html
    assert '<textarea name="spread_by_grade"' not in html

    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if name in ("spread_by_grade", "approval_bands"):
            continue
        if isinstance(value, (list, tuple)):
            data[name] = list(value)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    data.update(
        {
            "spread_by_grade_AAA": "0.50",
            "spread_by_grade_AA": "0.80",
            "approval_bands_0_up_to": "50000",
            "approval_bands_0_branch": "on",
            "approval_bands_1_up_to": "300000",
            "approval_bands_1_branch": "on",
            "approval_bands_1_approval_centre": "on",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    draft.refresh_from_db()
    assert draft.spread_by_grade == {"AAA": "0.50", "AA": "0.80"}
    assert draft.approval_bands == [
        {"up_to": "50000", "levels": ["branch"]},
        {"up_to": "300000", "levels": ["branch", "approval_centre"]},
    ]


def test_a_bad_spread_is_named_in_chinese_and_nothing_saved(client_for, users, product):  # noqa: F811
    draft = product_version_derive(product=product, actor=users["fed_admin"])
    client = client_for("fed_admin")
    url = f"/admin/products/productversion/{draft.pk}/change/"
    response = client.post(url, {"spread_by_grade_AA": "很多", "approval_bands_0_branch": "on"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "评级 AA 的加点须为数字" in str(errors["spread_by_grade"])
    assert "第1档已选审批层级，请填写金额上限" in str(errors["approval_bands"])
    draft.refresh_from_db()
    assert draft.spread_by_grade == {"AAA": "0.45", "A": "1.45"}


def test_status_change_log_reads_in_chinese(client_for, product):
    product_html = (
        client_for("fed_admin")
        .get(f"/admin/products/product/{product.pk}/change/")
        .content.decode()
    )
    log_html = client_for("fed_admin").get("/admin/products/productstatuschange/").content.decode()

    for html in (product_html, log_html):
        assert "复核生效" in html
        assert "待复核" in html
        assert "上架" in html
        assert ">version_create" not in html
        assert "version_create →" not in html
        assert ">pending<" not in html


def test_diff_page_shows_labels(client_for, users, product):  # noqa: F811
    draft = product_version_derive(product=product, actor=users["fed_admin"])
    html = (
        client_for("fed_checker")
        .get(f"/admin/products/productversion/{draft.pk}/diff/")
        .content.decode()
    )
    assert "等额本息、随借随还、按期付息、到期还本" in html
    assert "equal_instalment" not in html
