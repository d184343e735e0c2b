"""Back office: changelists by series/owner, tenancy, diff, maker-checker actions, history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from products.models import Product, ProductVersion, VersionStatus
from products.services import (
    product_retire,
    product_version_derive,
    product_version_submit,
    product_version_update,
)

pytestmark = pytest.mark.urls("tests.products.urls")


@pytest.fixture
def admin_client_for(users):
    def make(username: str) -> Client:
        client = Client()
        client.force_login(users[username])
        return client

    return make


@pytest.fixture
def catalogue(province, make_product):
    parent = make_product("FED-1")
    make_product("FED-2", series="pledge")
    make_product("YD-1", owner=province["bank1"], parent=parent)
    make_product("XF-1", owner=province["bank2"], parent=parent)
    return parent


def test_changelist_by_series_and_owner(catalogue, admin_client_for, province):
    client = admin_client_for("b1_admin")
    page = client.get("/admin/products/product/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "FED-1" in text
    assert "YD-1" in text
    assert "XF-1" not in text

    federation_only = client.get(
        "/admin/products/product/", {"owner": "federation"}
    ).content.decode()
    assert "FED-2" in federation_only
    assert "YD-1" not in federation_only
    pledge = client.get("/admin/products/product/", {"series": "pledge"}).content.decode()
    assert "FED-2" in pledge
    assert "FED-1" not in pledge


def test_changelist_query_count_is_flat(
    catalogue, admin_client_for, make_product, django_assert_max_num_queries
):
    client = admin_client_for("fed_admin")
    client.get("/admin/products/product/")
    with django_assert_max_num_queries(30) as before:
        client.get("/admin/products/product/")
    for n in range(5):
        make_product(f"MORE-{n}")
    with django_assert_max_num_queries(len(before.captured_queries)):
        client.get("/admin/products/product/")


def test_other_banks_product_is_404_in_admin(catalogue, admin_client_for):
    other = Product.objects.get(code="XF-1")
    assert (
        admin_client_for("b1_admin").get(f"/admin/products/product/{other.pk}/change/").status_code
        == 404
    )


def test_bank_staff_view_federation_products_read_only(catalogue, admin_client_for):
    page = admin_client_for("b1_admin").get(f"/admin/products/product/{catalogue.pk}/change/")
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()  # no editable input


def test_version_diff_view_shows_what_changed(users, catalogue, admin_client_for):
    draft = product_version_derive(product=catalogue, actor=users["fed_admin"])
    product_version_update(
        version=draft, actor=users["fed_admin"], parameters={"amount_max": "250000"}
    )

    page = admin_client_for("fed_checker").get(f"/admin/products/productversion/{draft.pk}/diff/")

    assert page.status_code == 200
    rows = {row.name: row for row in page.context["rows"]}
    assert rows["amount_max"].changed
    assert (rows["amount_max"].before, rows["amount_max"].after) == (
        Decimal("300000.00"),
        Decimal("250000.00"),
    )
    assert not rows["amount_min"].changed
    assert page.context["changed_count"] == 1


def test_activate_action_enforces_maker_checker(users, catalogue, admin_client_for):
    draft = product_version_derive(product=catalogue, actor=users["fed_admin"])
    product_version_submit(version=draft, actor=users["fed_admin"])
    url = "/admin/products/productversion/"
    data = {"action": "activate_action", "_selected_action": [draft.pk], "reason": ""}

    admin_client_for("fed_admin").post(url, data, follow=True)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.PENDING

    admin_client_for("fed_checker").post(url, data, follow=True)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.ACTIVE


def test_active_version_is_read_only_in_admin(catalogue, admin_client_for):
    version = catalogue.versions.get()
    client = admin_client_for("fed_admin")
    page = client.get(f"/admin/products/productversion/{version.pk}/change/")
    assert page.status_code == 200
    assert 'name="amount_max"' not in page.content.decode()
    client.post(f"/admin/products/productversion/{version.pk}/change/", {"amount_max": "1"})
    version.refresh_from_db()
    assert version.amount_max == Decimal("300000.00")


def _form_data(client, url):
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name)
        if name in ("spread_by_grade", "approval_bands"):
            data[name] = field.prepare_value(value)
        elif isinstance(value, list):
            data[name] = value
        elif value is None:
            data[name] = ""
        elif isinstance(value, bool):
            data[name] = "true" if value else "false"
        else:
            data[name] = str(value)
    return data


def test_draft_edit_form_shows_field_errors(users, catalogue, admin_client_for):
    draft = product_version_derive(product=catalogue, actor=users["fed_admin"])
    client = admin_client_for("fed_admin")
    url = f"/admin/products/productversion/{draft.pk}/change/"
    data = _form_data(client, url)
    data["amount_min"] = "400000"

    response = client.post(url, data)

    assert response.status_code == 200
    assert "amount_min" in response.context["adminform"].form.errors
    draft.refresh_from_db()
    assert draft.amount_min == Decimal("10000.00")


def test_draft_edit_in_admin_goes_through_the_service(users, catalogue, admin_client_for):
    draft = product_version_derive(product=catalogue, actor=users["fed_admin"])
    client = admin_client_for("fed_checker")
    url = f"/admin/products/productversion/{draft.pk}/change/"
    data = _form_data(client, url)
    data["amount_max"] = "250000"

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    draft.refresh_from_db()
    assert draft.amount_max == Decimal("250000.00")
    assert draft.updated_by == users["fed_checker"]  # and so may no longer check it


def test_history_page_lists_audited_changes(users, catalogue, admin_client_for):
    version = catalogue.versions.get()
    page = admin_client_for("fed_admin").get(
        f"/admin/products/productversion/{version.pk}/history/"
    )
    assert page.status_code == 200
    assert len(page.context["rows"]) >= 2  # insert + status updates


def test_suspend_action_needs_a_reason(catalogue, admin_client_for):
    client = admin_client_for("fed_admin")
    url = "/admin/products/product/"
    client.post(url, {"action": "suspend_action", "_selected_action": [catalogue.pk], "reason": ""})
    catalogue.refresh_from_db()
    assert catalogue.status == "active"
    client.post(
        url, {"action": "suspend_action", "_selected_action": [catalogue.pk], "reason": "排查"}
    )
    catalogue.refresh_from_db()
    assert catalogue.status == "suspended"


def test_version_changelist_and_lpr_pages_load(catalogue, admin_client_for):
    client = admin_client_for("b1_admin")
    assert client.get("/admin/products/productversion/").status_code == 200
    assert client.get("/admin/products/loanprimerate/").status_code == 200
    assert client.get("/admin/products/productstatuschange/").status_code == 200
    assert ProductVersion.objects.count() == 4


_INLINES_EMPTY = {
    "versions-TOTAL_FORMS": "0",
    "versions-INITIAL_FORMS": "0",
    "status_changes-TOTAL_FORMS": "0",
    "status_changes-INITIAL_FORMS": "0",
}


def test_sub_product_wider_than_its_parent_is_refused_on_the_form(
    catalogue, admin_client_for, province
):
    response = admin_client_for("b1_risk").post(
        "/admin/products/product/add/",
        {
            "code": "YD-9",
            "name": "个体户子产品",
            "series": "credit",
            "purpose": "farm_business",
            "segments": ["individual_business"],
            "channels": ["pad"],
            "owner": province["bank1"].pk,
            "parent": catalogue.pk,
            **_INLINES_EMPTY,
        },
    )
    assert response.status_code == 200  # the form again, with the reason by the field
    assert response.context["adminform"].form.errors["segments"] == [
        "上级产品不面向这些客群：个体工商户"
    ]
    assert not Product.objects.filter(code="YD-9").exists()


def test_a_retired_product_cannot_be_edited(catalogue, admin_client_for, users):
    product = Product.objects.get(code="FED-2")  # no sub-products
    product_retire(product=product, actor=users["fed_admin"], reason="停办")
    response = admin_client_for("fed_admin").post(
        f"/admin/products/product/{product.pk}/change/",
        {
            "name": "改名",
            "purpose": product.purpose,
            "segments": product.segments,
            "channels": product.channels,
            **_INLINES_EMPTY,
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == ["已下架的产品不能修改"]
    product.refresh_from_db()
    assert product.name != "改名"


def test_a_new_version_is_refused_on_the_form_while_another_is_open(
    users, catalogue, admin_client_for
):
    product_version_derive(product=catalogue, actor=users["fed_admin"])  # the open draft
    before = ProductVersion.objects.filter(product=catalogue).count()
    response = admin_client_for("fed_admin").post(
        "/admin/products/productversion/add/", {"product": catalogue.pk, "change_note": "再建一版"}
    )
    assert response.status_code == 200  # the form again, not a server error
    assert response.context["adminform"].form.errors["product"] == [
        "该产品已有未生效的版本(草稿或待复核)，请先处理"
    ]
    assert ProductVersion.objects.filter(product=catalogue).count() == before


def test_a_retired_product_takes_no_new_version(users, catalogue, admin_client_for):
    product = Product.objects.get(code="FED-2")  # no sub-products
    product_retire(product=product, actor=users["fed_admin"], reason="停办")
    before = ProductVersion.objects.filter(product=product).count()
    response = admin_client_for("fed_admin").post(
        "/admin/products/productversion/add/", {"product": product.pk, "change_note": "新版"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["product"] == ["已下架的产品不能新增版本"]
    assert ProductVersion.objects.filter(product=product).count() == before


def test_a_clone_whose_code_would_be_too_long_is_refused_for_that_row(
    catalogue, make_product, admin_client_for
):
    source = make_product("F" * 36)  # the bank's clone is "SXRCU-YD-" + 36 characters
    response = admin_client_for("b1_admin").post(
        "/admin/products/product/",
        {"action": "clone_action", "_selected_action": [source.pk], "reason": ""},
        follow=True,
    )
    assert response.status_code == 200  # the list again, not a server error
    assert [str(m) for m in response.context["messages"]] == [
        f"{source}：产品代码：“SXRCU-YD-{'F' * 36}”超过40个字符"
    ]
    assert not Product.objects.filter(code__startswith="SXRCU-YD-F").exists()
