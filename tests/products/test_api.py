"""Product API: catalogue, detail with effective terms, availability, schedule preview, LPR."""

from __future__ import annotations

from decimal import Decimal

import pytest

from products.models import Product

pytestmark = pytest.mark.urls("tests.products.urls")

BASE = "/api/v1/products/"


@pytest.fixture
def catalogue(province, make_product):
    parent = make_product("FED-1")
    make_product("FED-2", series="pledge", channels=["counter"], segments=["salaried"])
    make_product("YD-1", owner=province["bank1"], parent=parent, amount_max=Decimal("200000"))
    make_product("XF-1", owner=province["bank2"], parent=parent, term_max_months=12)
    return parent


def test_list_shows_federation_and_own_products_only(catalogue, login_as):
    response = login_as("b1_admin").get(BASE)
    assert response.status_code == 200
    assert [p["code"] for p in response.data["results"]] == ["FED-1", "YD-1", "FED-2"]
    fed = response.data["results"][0]
    assert fed["owner"] is None
    assert fed["current_version_number"] == 1
    assert fed["series_display"] == "信用贷"


def test_list_filters_by_series_and_owner(catalogue, login_as, province):
    client = login_as("fed_admin")
    by_series = client.get(BASE, {"series": "pledge"}).data["results"]
    assert [p["code"] for p in by_series] == ["FED-2"]
    by_owner = client.get(BASE, {"owner": province["bank2"].pk}).data["results"]
    assert [p["code"] for p in by_owner] == ["XF-1"]
    federation = client.get(BASE, {"owner": "federation"}).data["results"]
    assert {p["code"] for p in federation} == {"FED-1", "FED-2"}


@pytest.mark.parametrize("owner", ["²", "-1", "abc"])
def test_list_refuses_an_owner_that_is_not_an_id(catalogue, login_as, owner):
    # "²".isdigit() is true but int("²") fails: it was a server error.
    response = login_as("fed_admin").get(BASE, {"owner": owner})
    assert response.status_code == 400
    assert list(response.data["fields"]) == ["owner"]


def test_list_query_count_does_not_grow_with_the_catalogue(
    catalogue, login_as, make_product, django_assert_max_num_queries
):
    client = login_as("b1_admin")
    client.get(BASE)  # warm up per-user caches
    with django_assert_max_num_queries(5) as small:
        client.get(BASE)
    for n in range(6):
        make_product(f"MORE-{n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(BASE)
    assert response.data["count"] == 9


def test_another_banks_product_is_not_found(catalogue, login_as):
    other = Product.objects.get(code="XF-1")
    response = login_as("b1_admin").get(f"{BASE}{other.pk}/")
    assert response.status_code == 404
    assert response.data["code"] == "not_found"


def test_detail_has_effective_parameters_with_inheritance(catalogue, login_as):
    product = Product.objects.get(code="YD-1")
    response = login_as("b1_am1").get(f"{BASE}{product.pk}/")
    assert response.status_code == 200
    terms = response.data["effective_terms"]
    assert terms["amount_max"] == "200000.00"
    assert terms["amount_min"] == "10000.00"
    assert "amount_min" in terms["inherited"]
    assert "amount_max" not in terms["inherited"]
    assert terms["spread_by_grade"] == {"AAA": "0.45", "A": "1.45"}
    assert [v["number"] for v in response.data["versions"]] == [1]


def test_available_for_a_household(catalogue, login_as):
    response = login_as("b1_am1").get(
        f"{BASE}available/", {"channel": "pad", "segment": "farmer", "age": 40}
    )
    assert response.status_code == 200
    assert [item["product"]["code"] for item in response.data] == ["YD-1"]
    assert response.data[0]["terms"]["amount_max"] == "200000.00"


def test_available_errors_name_the_field(catalogue, login_as, province):
    response = login_as("b1_am1").get(f"{BASE}available/", {"channel": "fax", "segment": "farmer"})
    assert response.status_code == 400
    assert {"channel", "age"} <= set(response.data["fields"])
    foreign = login_as("b1_am1").get(
        f"{BASE}available/",
        {"channel": "pad", "segment": "farmer", "age": 40, "bank": province["bank2"].pk},
    )
    assert foreign.status_code == 404
    federation = login_as("fed_admin").get(
        f"{BASE}available/", {"channel": "pad", "segment": "farmer", "age": 40}
    )
    assert federation.status_code == 400
    assert "bank" in federation.data["fields"]


def test_schedule_preview_matches_the_published_bank_calculator(make_product, login_as):
    product = make_product("FED-1", rate_floor=Decimal("3.45"), rate_cap=Decimal("6.00"))
    version = product.versions.get()
    response = login_as("b1_am1").get(
        f"{BASE}versions/{version.pk}/schedule-preview/",
        {
            "amount": "100000",
            "term_months": 12,
            "method": "equal_instalment",
            "annual_rate": "4.35",
            "start_date": "2025-01-15",
        },
    )
    assert response.status_code == 200, response.data
    rows = response.data["instalments"]
    assert len(rows) == 12
    assert {row["total"] for row in rows[:-1]} == {"8530.99"}
    assert response.data["totals"]["principal"] == "100000.00"
    assert response.data["totals"]["interest"] == "2371.90"  # last instalment absorbs the rounding
    assert rows[0]["due_date"] == "2025-02-15"


def test_schedule_preview_prices_from_lpr_and_grade(make_product, login_as):
    version = make_product("FED-1").versions.get()
    response = login_as("b1_am1").get(
        f"{BASE}versions/{version.pk}/schedule-preview/",
        {"amount": "50000", "term_months": 12, "grade": "A", "start_date": "2025-06-01"},
    )
    assert response.status_code == 200, response.data
    # 1Y LPR 3.00% on 2025-06-01 + grade A spread 1.45 = 4.45%
    assert Decimal(response.data["annual_rate"]) == Decimal("4.45")
    assert response.data["method"] == "equal_instalment"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"amount": "500000", "term_months": 12}, "amount"),
        ({"amount": "50000", "term_months": 60}, "term_months"),
        ({"amount": "50000", "term_months": 12, "method": "bullet"}, "method"),
        ({"amount": "50000", "term_months": 12, "annual_rate": "9.99"}, "annual_rate"),
        ({"amount": "50000", "term_months": 12, "start_date": "2019-01-01"}, "start_date"),
        ({"term_months": 12}, "amount"),
        # maturity past year 9999: was a server error
        ({"amount": "50000", "term_months": 12, "start_date": "9999-12-01"}, "start_date"),
    ],
)
def test_schedule_preview_errors_name_the_field(make_product, login_as, params, field):
    version = make_product("FED-1").versions.get()
    response = login_as("b1_am1").get(f"{BASE}versions/{version.pk}/schedule-preview/", params)
    assert response.status_code == 400
    assert field in response.data["fields"], response.data


def test_schedule_preview_quarterly_term_not_a_multiple_of_three_is_refused_in_chinese(
    make_product, login_as
):
    version = make_product(
        "FED-Q", repayment_frequency="quarterly", term_min_months=3
    ).versions.get()
    response = login_as("b1_am1").get(
        f"{BASE}versions/{version.pk}/schedule-preview/", {"amount": "50000", "term_months": 7}
    )
    assert response.status_code == 400
    assert response.data["fields"] == {"term_months": ["该产品按季还款，期限须为3个月的整数倍"]}


def test_schedule_preview_of_another_banks_version_is_not_found(catalogue, login_as):
    version = Product.objects.get(code="XF-1").versions.get()
    response = login_as("b1_am1").get(
        f"{BASE}versions/{version.pk}/schedule-preview/", {"amount": "50000", "term_months": 12}
    )
    assert response.status_code == 404


def test_lpr_endpoint(login_as):
    client = login_as("b1_am1")
    assert client.get(f"{BASE}lpr/", {"on": "2024-08-01"}).data["lpr_1y"] == "3.350000"
    early = client.get(f"{BASE}lpr/", {"on": "2019-01-01"})
    assert early.status_code == 400
    assert list(early.data["fields"]) == ["on"]  # the parameter the client sent


def test_clone_endpoint_makes_a_sub_product_for_the_callers_bank(catalogue, login_as, province):
    response = login_as("b1_risk").post(
        f"{BASE}{catalogue.pk}/clone/", {"code": "YD-2", "name": "尧都新品"}, format="json"
    )
    assert response.status_code == 201, response.data
    clone = Product.objects.get(code="YD-2")
    assert (clone.owner, clone.parent) == (province["bank1"], catalogue)


def test_clone_endpoint_refuses_account_managers(catalogue, login_as):
    response = login_as("b1_am1").post(
        f"{BASE}{catalogue.pk}/clone/", {"code": "YD-2", "name": "x"}, format="json"
    )
    assert response.status_code == 403
    assert not Product.objects.filter(code="YD-2").exists()


def test_unauthenticated_is_refused(catalogue):
    from rest_framework.test import APIClient

    assert APIClient().get(BASE).status_code == 401
