from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

BASE_PARAMETERS = {
    "amount_min": Decimal("10000"),
    "amount_max": Decimal("300000"),
    "term_min_months": 1,
    "term_max_months": 36,
    "repayment_methods": ["equal_instalment", "revolving", "periodic_interest"],
    "repayment_frequency": "monthly",
    "interest_settlement": "quarterly_20th",
    "base_rate": "lpr_1y",
    "spread_min": Decimal("0.45"),
    "spread_max": Decimal("3.00"),
    "spread_by_grade": {"AAA": "0.45", "A": "1.45"},
    "rate_floor": Decimal("3.45"),
    "rate_cap": Decimal("6.00"),
    "line_validity_months": 36,
    "age_min": 18,
    "age_max": 65,
    "approval_bands": [
        {"up_to": "100000", "levels": ["branch"]},
        {"up_to": "300000", "levels": ["branch", "central_review"]},
    ],
    "contract_template_code": "HT-TEST",
}


@pytest.fixture
def users(province):
    """Demo logins by username, plus a second federation product manager (the checker)."""
    from products.demo import _federation_checker

    _federation_checker()
    return {u.username: u for u in get_user_model().objects.all()}


@pytest.fixture
def make_product(users):
    """``make_product(code, owner=None, parent=None, active=True, **parameters)``: a product
    with v1 put in force through the real maker-checker flow."""
    from products.services import (
        product_create,
        product_version_activate,
        product_version_create,
        product_version_submit,
    )

    def make(
        code: str,
        *,
        owner=None,
        parent=None,
        active: bool = True,
        locked=(),
        segments=("farmer", "new_agri_entity"),
        channels=("pad", "mobile_banking", "wechat"),
        series="credit",
        **parameters,
    ):
        maker, checker = (
            (users["fed_admin"], users["fed_checker"])
            if owner is None
            else (
                (users["b1_risk"], users["b1_admin"])
                if owner.code == "SXRCU-YD"
                else (users["b2_risk"], users["b2_admin"])
            )
        )
        product = product_create(
            actor=maker,
            code=code,
            name=f"测试产品{code}",
            series=series,
            purpose="farm_business",
            segments=list(segments),
            channels=list(channels),
            owner=owner,
            parent=parent,
        )
        values = parameters if parent is not None else {**BASE_PARAMETERS, **parameters}
        version = product_version_create(
            product=product, actor=maker, parameters=values, locked_parameters=locked
        )
        if active:
            product_version_submit(version=version, actor=maker)
            product_version_activate(version=version, actor=checker)
            product.refresh_from_db()
        return product

    return make


def new_version(product, maker, checker, **parameters):
    """Derive v(n+1) from the latest version with ``parameters`` changed, and put it in force."""
    from products.services import (
        product_version_activate,
        product_version_derive,
        product_version_submit,
        product_version_update,
    )

    draft = product_version_derive(product=product, actor=maker)
    product_version_update(version=draft, actor=maker, parameters=parameters)
    product_version_submit(version=draft, actor=maker)
    return product_version_activate(version=draft, actor=checker)
