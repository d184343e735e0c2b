"""The schema rules and scorecards are typed against: every household feature of the catalogue,
every external-data and application-context feature, and the enabled derived features that apply
to a bank (the federation's, with the bank's own of the same code in their place).

It lives at the features level because it reads the catalogue; the rule language below only
receives a schema (``risk.expressions.schema``)."""

from __future__ import annotations

from risk.derived_features.models import DerivedFeature
from risk.expressions.schema import NUMBER, Schema, schema_of
from risk.external_features import CONTEXT_FEATURES, EXTERNAL_FEATURES
from risk.features import CATALOGUE

BUILT_IN_FEATURES = (*CATALOGUE, *EXTERNAL_FEATURES, *CONTEXT_FEATURES)


def base_schema() -> dict[str, str]:
    """Every feature the platform computes or receives (all numbers)."""
    return {feature.name: NUMBER for feature in BUILT_IN_FEATURES}


def feature_labels() -> dict[str, str]:
    return {feature.name: feature.label for feature in BUILT_IN_FEATURES}


def derived_features_for_bank(bank_id: int | None) -> dict[str, DerivedFeature]:
    """Code → the derived feature that applies to ``bank_id`` (``None``: the federation's)."""
    applying: dict[str, DerivedFeature] = {}
    rows = (
        DerivedFeature.objects.applying_to_bank(bank_id)
        .filter(enabled=True)
        .select_related("current_version")
        .order_by("code", "owner_id")  # NULL (the federation) sorts last: a bank's own wins
    )
    for feature in rows:
        applying.setdefault(feature.code, feature)
    return applying


def rule_schema(*, bank_id: int | None = None) -> Schema:
    """What a rule or a derived feature of ``bank_id`` (``None``: the federation) may name."""
    types = base_schema()
    for code in derived_features_for_bank(bank_id):
        types.setdefault(code, NUMBER)
    return schema_of(types)
