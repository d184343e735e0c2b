"""Evaluating a published rule set for one application (a row) or for a column of households.

Both paths run the same compiled expressions (``risk.expressions``): derived features first, in
dependency order, then the rules in their frozen order. In ``stop_at_first_reject`` mode a row
stops at its first rejecting hit: the row path stops there; the column path drops, for each rule,
the rows some earlier rule already rejected. So ``rule_set_evaluate_columns(...).row_hits(i)``
equals ``rule_set_evaluate_row(...)`` for every row ``i`` (a property test holds them equal).

A published version never changes, so its compiled form is cached per process by id.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from risk.derived_features.models import DerivedFeatureVersion
from risk.derived_features.program import DerivedProgram, derived_program
from risk.derived_features.schema import base_schema
from risk.expressions.engine import CompiledExpression, columns_prepare, expression_compile
from risk.expressions.schema import BOOLEAN, NUMBER, schema_of
from risk.rules.models import (
    OUTCOME_BY_SEVERITY,
    OUTCOME_SEVERITY,
    RuleOutcome,
    RuleSetMode,
    RuleSetVersion,
    RuleSetVersionMember,
)


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired: what the decision stores and shows."""

    position: int
    rule_code: str
    rule_version_id: int
    version: int
    outcome: str
    reason_code: str
    reason_text: str
    source: str


@dataclass(frozen=True)
class CompiledRule:
    hit: RuleHit  # the hit this rule produces when it fires
    condition: CompiledExpression


@dataclass(frozen=True)
class CompiledRuleSet:
    version_id: int
    mode: str
    rules: tuple[CompiledRule, ...]
    derived: DerivedProgram

    @property
    def stops_at_first_reject(self) -> bool:
        return self.mode == RuleSetMode.STOP_AT_FIRST_REJECT

    @functools.cached_property
    def inputs(self) -> frozenset[str]:
        """The built-in features the set reads (what the caller must supply)."""
        derived = set(self.derived.codes)
        names = {name for rule in self.rules for name in rule.condition.features}
        return frozenset((names - derived) | self.derived.inputs)

    @functools.cached_property
    def feature_types(self) -> dict[str, str]:
        return dict.fromkeys(self.inputs, NUMBER)


@dataclass(frozen=True)
class RuleSetColumns:
    """A rule set over columns: per rule (in order) the rows it fired on, per row the index of
    the first rejecting rule (-1: none) and the most severe outcome (0 none, 1 flag, 2 refer,
    3 reject: ``OUTCOME_SEVERITY``)."""

    rules: tuple[CompiledRule, ...]
    hits: tuple[np.ndarray, ...]
    first_reject: np.ndarray
    outcome: np.ndarray

    def hits_by_code(self) -> dict[str, np.ndarray]:
        return {rule.hit.rule_code: hits for rule, hits in zip(self.rules, self.hits, strict=True)}

    def row_hits(self, index: int) -> list[RuleHit]:
        return [rule.hit for rule, hits in zip(self.rules, self.hits, strict=True) if hits[index]]

    def row_outcome(self, index: int) -> str:
        return OUTCOME_BY_SEVERITY[int(self.outcome[index])]


def _load(version_id: int) -> CompiledRuleSet:
    set_version = RuleSetVersion.objects.get(pk=version_id)
    members = list(
        RuleSetVersionMember.objects.filter(set_version_id=version_id)
        .select_related("rule_version")
        .order_by("position")
    )
    definitions = {
        row.code: row.expression
        for row in DerivedFeatureVersion.objects.filter(
            pk__in=list(set_version.derived_versions.values())
        )
    }
    base = base_schema()
    derived = derived_program(definitions, base=base)
    schema = schema_of({**base, **dict.fromkeys(definitions, NUMBER)})
    rules = []
    for member in members:
        rv = member.rule_version
        hit = RuleHit(
            position=member.position,
            rule_code=rv.code,
            rule_version_id=rv.pk,
            version=rv.version,
            outcome=rv.outcome,
            reason_code=rv.reason_code,
            reason_text=rv.reason_text,
            source=rv.source,
        )
        rules.append(
            CompiledRule(hit, expression_compile(rv.expression, schema=schema, result=BOOLEAN))
        )
    return CompiledRuleSet(version_id, set_version.mode, tuple(rules), derived)


@functools.lru_cache(maxsize=256)
def _cached(version_id: int) -> CompiledRuleSet:
    return _load(version_id)


def rule_set_compile(version: RuleSetVersion | int) -> CompiledRuleSet:
    return _cached(version if isinstance(version, int) else version.pk)


def _compiled(version) -> CompiledRuleSet:
    return version if isinstance(version, CompiledRuleSet) else rule_set_compile(version)


def rule_set_evaluate_row(
    version: RuleSetVersion | CompiledRuleSet | int, features: Mapping[str, Any]
) -> list[RuleHit]:
    """The rules of ``version`` that fire for one row of features (``None`` = missing), in
    order; in stop mode nothing after the first rejecting hit."""
    compiled = _compiled(version)
    values = compiled.derived.evaluate_row(features) if compiled.derived.steps else features
    hits = []
    for rule in compiled.rules:
        if rule.condition.evaluate_row(values):
            hits.append(rule.hit)
            if rule.hit.outcome == RuleOutcome.REJECT and compiled.stops_at_first_reject:
                break
    return hits


def rule_set_evaluate_columns(
    version: RuleSetVersion | CompiledRuleSet | int, columns: Mapping[str, np.ndarray]
) -> RuleSetColumns:
    """The same over columns of equal length (float64, ``NaN`` = missing)."""
    compiled = _compiled(version)
    missing = sorted(compiled.inputs - set(columns))
    if missing:
        raise KeyError(f"missing columns: {', '.join(missing)}")
    prepared = columns_prepare(columns, compiled.feature_types)
    if compiled.derived.steps:
        prepared = compiled.derived.evaluate_columns(prepared)
    size = len(next(iter(columns.values()))) if columns else 0
    rejected = np.zeros(size, dtype=bool)
    first_reject = np.full(size, -1, dtype=np.int32)
    outcome = np.zeros(size, dtype=np.int8)
    all_hits = []
    for index, rule in enumerate(compiled.rules):
        fired = rule.condition.evaluate_columns(prepared, prepared=True)
        if compiled.stops_at_first_reject:
            fired &= ~rejected
        if rule.hit.outcome == RuleOutcome.REJECT:
            first_reject[fired & ~rejected] = index
            rejected |= fired
        np.maximum(outcome, np.int8(OUTCOME_SEVERITY[rule.hit.outcome]), out=outcome, where=fired)
        all_hits.append(fired)
    return RuleSetColumns(compiled.rules, tuple(all_hits), first_reject, outcome)
