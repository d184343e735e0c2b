"""Fixtures of the limit and pricing tests: product terms built by hand (the formula reads only
amounts, spreads and rates from them) and the seeded federation parameters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from products.parameters import ProductTerms
from risk.pricing import defaults
from risk.pricing.parameters import limit_parameters_clean, pricing_parameters_clean


def make_terms(**overrides) -> ProductTerms:
    values = {
        "product_id": 1,
        "version_id": 1,
        "version_ids": (1,),
        "amount_min": Decimal("10000"),
        "amount_max": Decimal("300000"),
        "term_min_months": 6,
        "term_max_months": 36,
        "repayment_methods": ("equal_instalment",),
        "repayment_frequency": "monthly",
        "interest_settlement": "quarterly",
        "base_rate": "lpr_1y",
        "spread_min": Decimal("0"),
        "spread_max": Decimal("3.000000"),
        "spread_by_grade": {"AAA": Decimal("0.5"), "C": Decimal("2.8")},
        "rate_floor": Decimal("3.450000"),
        "rate_cap": Decimal("6.000000"),
        "penalty_markup_pct": Decimal("50"),
        "compound_interest": False,
        "grace_days": 0,
        "guarantee_type": "none",
        "guarantors_min": 0,
        "spouse_co_borrower_required": False,
        "required_documents": ("id_card",),
        "age_min": 18,
        "age_max": 65,
        "line_validity_months": 36,
        "approval_bands": (),
        "auto_approve_limit": Decimal("0"),
        "contract_template_code": "T1",
    }
    values.update(overrides)
    return ProductTerms(**values)


def limit_params(**overrides):
    params, errors = limit_parameters_clean({**defaults.LIMIT_PARAMETERS, **overrides})
    assert not errors, errors
    return params


def pricing_params(**overrides):
    params, errors = pricing_parameters_clean({**defaults.PRICING_PARAMETERS, **overrides})
    assert not errors, errors
    return params


@pytest.fixture
def terms():
    return make_terms()


@pytest.fixture(autouse=True)
def _seeded_defaults(request):
    """The federation defaults a data migration seeds; a test that empties the database
    (transactional tests flush every table) takes them away from the tests after it, and from
    the next run that reuses the test database."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        from risk.pricing.services import pricing_defaults_ensure

        pricing_defaults_ensure()
