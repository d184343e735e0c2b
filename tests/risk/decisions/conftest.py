"""Fixtures of the decision tests: the demo organisation and products, two small villages, a
champion scorecard for farmers, and the seeded rules, limit and pricing models and strategy."""

from __future__ import annotations

import pytest

from tests.risk.model_setup import media, register, staff  # noqa: F401


@pytest.fixture(autouse=True)
def _seeded(request):
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        from risk.decisions.inputs import clear_layout_cache
        from risk.decisions.services import clear_prepared_cache, strategy_defaults_ensure
        from risk.pricing.services import pricing_defaults_ensure
        from risk.rules.services import rules_seed_catalogue
        from risk.scoring import clear_cache

        rules_seed_catalogue()
        pricing_defaults_ensure()
        strategy_defaults_ensure()
        clear_layout_cache()
        clear_prepared_cache()
        clear_cache()


@pytest.fixture
def world(province, villages, register, staff):  # noqa: F811
    """Everything a decision needs: products in force, a champion for each segment."""
    from products.demo import seed_products
    from products.models import Product
    from risk.registry import scorecard_promote, scorecard_submit

    seed_products()
    modeller, checker = staff["fed_modeller"].user, staff["fed_admin"].user
    cards = {}
    for segment in ("farmer", "individual_business"):
        card = register(segment, trained_by=staff["fed_modeller"])
        scorecard_submit(scorecard=card, actor=modeller, shadow_percent=100)
        cards[segment] = scorecard_promote(scorecard=card, actor=checker, reason="测试")
    product = Product.objects.get(code="SX-XYD-NH")  # 农户信用贷: automatic approval to 50,000
    return {
        **villages,
        "province": province,
        "product": product,
        "cards": cards,
        "staff": staff,
    }
