"""Inconsistent versions are refused with the offending field named, and nothing is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from products.models import ProductVersion
from products.parameters import parameter_errors
from products.services import product_create, product_version_create, product_version_update
from tests.products.conftest import BASE_PARAMETERS

D = Decimal


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_min": D("500000")}, "amount_min"),  # min > max
        ({"amount_min": D("0")}, "amount_min"),
        ({"term_min_months": 48}, "term_min_months"),  # min > max
        ({"term_max_months": 400}, "term_max_months"),
        ({"age_min": 70}, "age_min"),  # min > max
        ({"age_min": 16}, "age_min"),
        ({"spread_min": D("3.5")}, "spread_min"),  # spread min > max
        ({"rate_floor": D("7")}, "rate_floor"),  # floor > cap
        # 1Y LPR is 3.00% today: 3.00 + 0.10 is below the 3.45% floor ...
        ({"spread_min": D("0.10"), "spread_by_grade": {}}, "spread_min"),
        # ... and 3.00 + 3.50 above the 6% cap.
        ({"spread_max": D("3.50")}, "spread_max"),
        ({"spread_by_grade": {"AAA": "0.10"}}, "spread_by_grade"),  # grade outside range
        ({"spread_by_grade": {"AAAA": "1.00"}}, "spread_by_grade"),  # unknown grade
        ({"line_validity_months": None}, "line_validity_months"),  # revolving without validity
        ({"repayment_methods": []}, "repayment_methods"),
        ({"repayment_methods": ["weekly"]}, "repayment_methods"),
        ({"guarantee_type": "guarantor", "guarantors_min": 0}, "guarantors_min"),
        ({"guarantee_type": "none", "guarantors_min": 2}, "guarantors_min"),
        ({"penalty_markup_pct": D("150")}, "penalty_markup_pct"),
        ({"auto_approve_limit": D("400000")}, "auto_approve_limit"),
        ({"approval_bands": [{"up_to": "100000", "levels": ["branch"]}]}, "approval_bands"),
        (
            {"approval_bands": [{"up_to": "300000", "levels": ["central_review", "branch"]}]},
            "approval_bands",
        ),
        ({"approval_bands": [{"up_to": "300000", "levels": ["boss"]}]}, "approval_bands"),
        ({"grace_days": 120}, "grace_days"),
        ({"amount_max": 1.5}, "amount_max"),  # floats never touch money
        ({"colour": "red"}, "colour"),  # not a parameter at all
    ],
)
def test_inconsistent_version_is_refused_naming_the_field(users, overrides, field):
    product = product_create(
        actor=users["fed_admin"],
        code="T-1",
        name="测试",
        series="credit",
        purpose="farm_business",
        segments=["farmer"],
        channels=["pad"],
    )
    with pytest.raises(ValidationError) as exc:
        product_version_create(
            product=product,
            actor=users["fed_admin"],
            parameters={**BASE_PARAMETERS, **overrides},
        )
    assert field in exc.value.message_dict, exc.value.message_dict
    assert not ProductVersion.objects.exists()


def test_the_base_parameters_are_consistent(users):
    assert parameter_errors(BASE_PARAMETERS, complete=False) == {}


def test_failed_draft_update_changes_nothing(users, make_product):
    product = make_product("P-1", active=False)
    draft = product.versions.get()
    with pytest.raises(ValidationError) as exc:
        product_version_update(
            version=draft, actor=users["fed_admin"], parameters={"amount_max": "5000"}
        )
    assert "amount_min" in exc.value.message_dict
    draft.refresh_from_db()
    assert draft.amount_max == D("300000.00")


def test_quarterly_amortising_terms_must_be_whole_quarters():
    errors = parameter_errors(
        {**BASE_PARAMETERS, "repayment_frequency": "quarterly", "term_min_months": 4},
        complete=False,
    )
    assert "term_min_months" in errors


def test_product_identity_is_validated_by_field(users):
    with pytest.raises(ValidationError) as exc:
        product_create(
            actor=users["fed_admin"],
            code="T-1",
            name="测试",
            series="credit",
            purpose="farm_business",
            segments=[],
            channels=["pad"],
        )
    assert "segments" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        product_create(
            actor=users["fed_admin"],
            code="T-1",
            name="测试",
            series="credit",
            purpose="farm_business",
            segments=["farmer"],
            channels=["fax"],
        )
    assert "channels" in exc.value.message_dict
