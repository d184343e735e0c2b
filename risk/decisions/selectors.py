"""Reads of strategies and decisions."""

from __future__ import annotations

from datetime import date

from django.db.models import Q

from risk.decisions.models import Decision, StrategyVersion
from risk.rules.models import RuleSetVersion


def strategy_version_effective(*, product, bank_id: int | None, on_date: date):
    """The strategy version a decision on ``product`` for ``bank_id`` uses on ``on_date``.

    Most specific first: the bank's strategy naming the product (or its parent), the
    federation's naming it, the bank's default strategy, the federation's default. Within one
    strategy, the activated version with the latest ``effective_from`` on or before the date.
    ``None`` when nothing applies (the decision is then refused with a named error)."""
    product_ids = [product.pk] + ([product.parent_id] if product.parent_id else [])
    candidates = list(
        StrategyVersion.objects.applying_to_bank(bank_id)
        .in_force_on(on_date)
        .filter(Q(model__products__in=product_ids) | Q(model__is_default=True))
        .select_related("model")
        .prefetch_related("model__products")
    )

    def rank(version) -> tuple:
        names_product = any(p.pk in product_ids for p in version.model.products.all())
        own = version.model.owner_id is not None
        return (not names_product, not own, version.model.code)

    candidates.sort(key=rank)
    return candidates[0] if candidates else None


def rule_set_version_current(*, code: str, bank_id: int | None) -> RuleSetVersion | None:
    """The latest published version of the rule set ``code``: the bank's own set of that code
    first, else the federation's."""
    versions = list(
        RuleSetVersion.objects.filter(rule_set__code=code)
        .filter(Q(rule_set__owner__isnull=True) | Q(rule_set__owner_id=bank_id))
        .select_related("rule_set")
        .order_by("-version")
    )
    own = [v for v in versions if v.rule_set.owner_id is not None]
    return (own or versions or [None])[0]


def decisions_for_household(household_id, *, limit: int = 20):
    return (
        Decision.objects.filter(household_id=household_id)
        .select_related("product", "strategy_version__model")
        .order_by("-decided_at")[:limit]
    )
