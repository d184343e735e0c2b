"""Which products a household may apply for: bank, channel, segment, age."""

from __future__ import annotations

import pytest

from products.selectors import products_available
from products.services import product_suspend


def codes(**kwargs):
    return [item.product.code for item in products_available(**kwargs)]


@pytest.fixture
def catalogue(users, province, make_product):
    credit = make_product("FED-CREDIT", channels=["pad", "wechat"], segments=["farmer"])
    make_product(
        "FED-SALARY",
        series="credit",
        channels=["mobile_banking", "wechat"],
        segments=["salaried", "public_servant"],
        age_min=22,
        age_max=60,
    )
    make_product("FED-DRAFT", active=False, channels=["pad"], segments=["farmer"])
    make_product("YD-OWN", owner=province["bank1"], channels=["pad"], segments=["farmer"])
    make_product(
        "XF-CREDIT", owner=province["bank2"], parent=credit, channels=["pad"], segments=["farmer"]
    )
    return province


def test_by_channel_segment_and_bank(catalogue):
    bank1, bank2 = catalogue["bank1"].pk, catalogue["bank2"].pk

    assert codes(bank_id=bank1, channel="pad", segment="farmer", age=40) == ["FED-CREDIT", "YD-OWN"]
    assert codes(bank_id=bank1, channel="wechat", segment="farmer", age=40) == ["FED-CREDIT"]
    assert codes(bank_id=bank1, channel="wechat", segment="salaried", age=40) == ["FED-SALARY"]
    assert codes(bank_id=bank1, channel="counter", segment="farmer", age=40) == []
    # Bank 2 sees its own sub-product instead of the federation product it tailors.
    assert codes(bank_id=bank2, channel="pad", segment="farmer", age=40) == ["XF-CREDIT"]


def test_by_age_from_the_effective_terms(catalogue):
    bank1 = catalogue["bank1"].pk
    assert codes(bank_id=bank1, channel="wechat", segment="salaried", age=21) == []
    assert codes(bank_id=bank1, channel="wechat", segment="salaried", age=22) == ["FED-SALARY"]
    assert codes(bank_id=bank1, channel="wechat", segment="salaried", age=61) == []


def test_suspending_a_parent_stops_its_sub_products(users, catalogue):
    from products.models import Product

    product_suspend(
        product=Product.objects.get(code="FED-CREDIT"), actor=users["fed_admin"], reason="排查"
    )
    assert codes(bank_id=catalogue["bank2"].pk, channel="pad", segment="farmer", age=40) == []
    assert codes(bank_id=catalogue["bank1"].pk, channel="pad", segment="farmer", age=40) == [
        "YD-OWN"
    ]


def test_returns_effective_terms_and_a_fixed_number_of_queries(
    catalogue, django_assert_num_queries
):
    with django_assert_num_queries(2):
        available = products_available(
            bank_id=catalogue["bank2"].pk, channel="pad", segment="farmer", age=40
        )
    assert available[0].terms.version_ids[0] == available[0].product.parent.versions.get().pk
