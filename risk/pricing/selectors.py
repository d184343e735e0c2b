"""Reads of the limit and pricing models: which version applies to a bank on a date, and the LPR
a decision prices from. The decision engine calls these once per decision (online) or once per
batch, then evaluates with ``limits`` / ``rates`` without touching the database again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError

from products.models import BaseRate
from products.selectors import lpr_on
from risk.pricing.models import LimitModelVersion, PricingModelVersion


def _effective(version_model, *, bank_id: int | None, on_date: date):
    """The bank's default model's version in force on ``on_date`` if it has one, else the
    federation default's. One query."""
    candidates = list(
        version_model.objects.filter(model__is_default=True)
        .applying_to_bank(bank_id)
        .in_force_on(on_date)
        .select_related("model")
    )
    own = [v for v in candidates if v.model.owner_id is not None]
    if own:
        return own[0]
    return candidates[0] if candidates else None


def limit_model_effective(*, bank_id: int | None, on_date: date) -> LimitModelVersion | None:
    """The limit model version a decision for ``bank_id`` uses on ``on_date``: the bank's own
    default model's version in force that day if any, else the federation default's (``None``
    only when neither has an active version, which the seed prevents)."""
    return _effective(LimitModelVersion, bank_id=bank_id, on_date=on_date)


def pricing_model_effective(*, bank_id: int | None, on_date: date) -> PricingModelVersion | None:
    """As ``limit_model_effective``, for the pricing model."""
    return _effective(PricingModelVersion, bank_id=bank_id, on_date=on_date)


def decision_lpr(*, terms, on_date: date) -> Decimal | None:
    """The LPR of the product's base rate in force on ``on_date``; ``None`` when no quote is
    published for that date (the pricing formula then reports ``rate_lpr_missing``)."""
    try:
        quote = lpr_on(on_date)
    except ValidationError:
        return None
    return quote.rate_for(terms.base_rate or BaseRate.LPR_1Y)
