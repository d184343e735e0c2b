"""The types an expression is checked against.

A schema maps each feature name to its type. Every household, external and context feature is a
``NUMBER`` (binary features are the numbers 0 and 1; missing is ``None`` for one row and ``NaN`` in
a column); ``TEXT`` is there for the few values that are words (a segment, a channel), compared
only for equality. The schema of the rules themselves (catalogue + external + context + enabled
derived features) is built at the features level, which knows the catalogue:
``risk.derived_features.schema.rule_schema``. This package only receives one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

NUMBER = "number"
TEXT = "text"
BOOLEAN = "boolean"  # the type of a condition; no feature is stored as one
NULL = "null"  # the literal ``null``: a missing value of any type

TYPE_LABELS = {NUMBER: "数值", TEXT: "文本", BOOLEAN: "条件(真/假)", NULL: "空值(null)"}

Schema = Mapping[str, str]


def schema_of(types: Mapping[str, str]) -> Schema:
    """A read-only schema, refusing a type the language does not know."""
    unknown = {name: kind for name, kind in types.items() if kind not in (NUMBER, TEXT)}
    if unknown:
        raise ValueError(f"unknown feature types: {unknown}")
    return MappingProxyType(dict(types))
