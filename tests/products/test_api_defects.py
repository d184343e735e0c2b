"""Defects of the product API found as a new user would."""

from __future__ import annotations

from decimal import Decimal

import pytest

from products.models import Product

pytestmark = pytest.mark.urls("tests.products.urls")

BASE = "/api/v1/products/"


@pytest.fixture
def catalogue(province, make_product):
    parent = make_product("FED-1")
    make_product("YD-1", owner=province["bank1"], parent=parent, amount_max=Decimal("200000"))
    return parent


def test_available_products_carry_their_version_number(catalogue, login_as):
    response = login_as("b1_am1").get(
        f"{BASE}available/", {"channel": "pad", "segment": "farmer", "age": 40}
    )
    assert response.status_code == 200
    assert [
        (i["product"]["code"], i["product"]["current_version_number"]) for i in response.data
    ] == [("YD-1", 1)]


def test_an_account_manager_cloning_is_refused_before_the_body_is_checked(catalogue, login_as):
    # An empty body: before the fix this was 400 (code and name missing), and the same user
    # with a corrected body then got 403.
    response = login_as("b1_am1").post(f"{BASE}{catalogue.pk}/clone/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert response.json()["fields"] == {}
    assert Product.objects.count() == 2


def test_a_permitted_user_still_gets_the_field_errors(catalogue, login_as):
    response = login_as("b1_risk").post(f"{BASE}{catalogue.pk}/clone/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"code", "name"}
