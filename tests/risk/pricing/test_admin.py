"""The 额度模型 / 定价模型 back office: lists and version pages render in Chinese, a draft's
tables are edited with refusals beside the cell, maker-checker actions, and the 试算 page."""

from __future__ import annotations

import pytest
from django.test import Client

from products.demo import seed_products
from products.models import Product
from risk.pricing import defaults, services
from risk.pricing.models import LimitModel, LimitModelVersion, PricingModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(staff):
    def make(username: str) -> Client:
        client = Client()
        client.force_login(staff[username].user)
        return client

    return make


@pytest.fixture
def bank_draft(staff):
    return services.limit_model_create(
        actor=staff["b1_risk"].user,
        code="YD-LIMIT",
        name="尧都额度模型",
        parameters=defaults.LIMIT_PARAMETERS,
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/risk/limitmodel/",
        "/admin/risk/pricingmodel/",
        "/admin/risk/limitmodelversion/",
        "/admin/risk/pricingmodelversion/",
        "/admin/risk/limitmodel/add/",
        "/admin/risk/pricingmodel/add/",
    ],
)
def test_pages_render(client_for, url):
    page = client_for("b1_risk").get(url)
    assert page.status_code == 200


def test_model_page_lists_versions_and_an_active_version_is_read_only(client_for):
    model = LimitModel.objects.get(code="FED-LIMIT-DEFAULT")
    page = client_for("b1_risk").get(f"/admin/risk/limitmodel/{model.pk}/change/")
    assert "省联社默认额度模型" in page.content.decode()
    version = model.versions.get()
    page = client_for("fed_admin").get(f"/admin/risk/limitmodelversion/{version.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "收入倍数" in html
    assert "白名单：1.2" in html
    assert 'name="income_multiples_AAA"' not in html  # no input: active versions do not change
    assert "系统预置" in html  # the change log


def test_a_draft_is_edited_cell_by_cell_and_a_bad_cell_is_named(client_for, bank_draft):
    url = f"/admin/risk/limitmodelversion/{bank_draft.pk}/change/"
    client = client_for("b1_risk")
    assert 'name="income_multiples_AAA"' in client.get(url).content.decode()
    data = {
        "effective_from": "",
        "change_note": "提高AAA倍数",
        "no_review_multiplier": "1.0",
        "cap_at_suggested_amount": "on",
        "max_debt_ratio": "",
        # The change log inline's management form (shown, never edited).
        "changes-TOTAL_FORMS": "1",
        "changes-INITIAL_FORMS": "1",
    }
    for table in ("income_multiples", "asset_shares", "colour_multipliers"):
        for key, value in defaults.LIMIT_PARAMETERS[table].items():
            data[f"{table}_{key}"] = value
    refused = client.post(url, {**data, "income_multiples_AA": "-2", "asset_shares_B": ""})
    html = refused.content.decode()
    assert refused.status_code == 200
    assert "收入倍数(AA)不能为负数" in html
    assert "缺少净资产比例(B)" in html
    bank_draft.refresh_from_db()
    assert bank_draft.income_multiples["AA"] == "2.5"
    saved = client.post(url, {**data, "income_multiples_AAA": "4"})
    assert saved.status_code == 302
    bank_draft.refresh_from_db()
    assert bank_draft.income_multiples["AAA"] == "4"
    assert bank_draft.change_note == "提高AAA倍数"


def test_add_form_creates_a_model_and_its_draft(client_for):
    data = {
        "code": "YD-PRICE",
        "name": "尧都定价模型",
        "description": "",
        "is_default": "on",
        "effective_from": "",
        "no_review_adjustment": "0",
        "spreads_by_grade_AAA": "0.25",
        "colour_adjustments_black": "0",
        "colour_adjustments_grey": "0.3",
        "colour_adjustments_green": "0",
        "colour_adjustments_white": "-0.2",
    }
    response = client_for("b1_risk").post("/admin/risk/pricingmodel/add/", data)
    assert response.status_code == 302
    version = PricingModelVersion.objects.get(model__code="YD-PRICE")
    assert version.status == "draft"
    assert version.spreads_by_grade == {"AAA": "0.25"}
    assert version.model.owner.code == "SXRCU-YD"


def test_submit_and_activate_actions_need_two_people(client_for, bank_draft):
    changelist = "/admin/risk/limitmodelversion/"

    def act(username, action):
        return client_for(username).post(
            changelist,
            {"action": action, "_selected_action": [bank_draft.pk], "reason": ""},
            follow=True,
        )

    act("b1_risk", "submit_action")
    page = act("b1_risk", "activate_action")
    assert "双人复核" in page.content.decode()
    assert LimitModelVersion.objects.get(pk=bank_draft.pk).status == "pending"
    act("b1_risk2", "activate_action")
    assert LimitModelVersion.objects.get(pk=bank_draft.pk).status == "active"


def test_another_banks_model_is_not_shown(client_for, bank_draft):
    page = client_for("b2_risk").get("/admin/risk/limitmodel/")
    html = page.content.decode()
    assert "省联社默认额度模型" in html
    assert "尧都额度模型" not in html


def test_trial_page_answers_with_every_step(client_for, province):
    seed_products()
    product = Product.objects.get(code="SX-XYD-NH")
    client = client_for("b1_risk")
    url = "/admin/risk/limitmodel/trial/"
    assert client.get(url).status_code == 200
    page = client.post(
        url,
        {
            "product": product.pk,
            "grade": "AA",
            "net_income": "60000",
            "total_assets": "500000",
            "debts": "100000",
            "colour": "white",
            "suggested_amount": "",
            "on_date": "",
        },
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "收入法额度" in html
    assert "决策日LPR" in html
    assert "省联社默认额度模型 v1" in html
    assert 'id="trial-limit"' in html
    missing = client.post(
        url,
        {"product": product.pk, "grade": "AA", "colour": "none", "net_income": ""},
    )
    assert "缺少经济档案" in missing.content.decode()
