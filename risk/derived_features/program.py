"""Computing derived features before the rules that read them, for one row or for columns.

A program is built from frozen versions (``code`` → expression), each compiled against the
built-in features and the other derived codes, and run in dependency order. A cycle cannot get
here (the services refuse it at save); the program still refuses one rather than loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

import numpy as np

from risk.expressions.engine import CompiledExpression, expression_compile
from risk.expressions.schema import NUMBER, schema_of


@dataclass(frozen=True)
class DerivedProgram:
    steps: tuple[tuple[str, CompiledExpression], ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.steps)

    @property
    def inputs(self) -> frozenset[str]:
        """The built-in features the program reads."""
        computed = set(self.codes)
        return frozenset(
            name for _, compiled in self.steps for name in compiled.features if name not in computed
        )

    def evaluate_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(row)
        for code, compiled in self.steps:
            values[code] = compiled.evaluate_row(values)
        return values

    def evaluate_columns(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = dict(columns)
        for code, compiled in self.steps:
            values[code] = compiled.evaluate_columns(values)
        return values


def dependency_order(depends: Mapping[str, Iterable[str]]) -> list[str]:
    """Codes so that each comes after the codes it reads; raises ``CycleError`` on a cycle."""
    graph = {code: [name for name in names if name in depends] for code, names in depends.items()}
    return list(TopologicalSorter(graph).static_order())


def derived_program(
    definitions: Mapping[str, str], *, base: Mapping[str, str], needed: Iterable[str] | None = None
) -> DerivedProgram:
    """Compile ``definitions`` (code → expression) over ``base`` (name → type), keeping only the
    codes ``needed`` and those they read (all when ``needed`` is None)."""
    schema = schema_of({**base, **dict.fromkeys(definitions, NUMBER)})
    compiled = {
        code: expression_compile(text, schema=schema, result=NUMBER)
        for code, text in definitions.items()
    }
    wanted = set(definitions if needed is None else (n for n in needed if n in definitions))
    pending = list(wanted)
    while pending:
        for name in compiled[pending.pop()].features:
            if name in definitions and name not in wanted:
                wanted.add(name)
                pending.append(name)
    try:
        order = dependency_order({code: compiled[code].features for code in wanted})
    except CycleError as exc:
        raise ValueError(f"derived features in a cycle: {exc.args[1]}") from None
    return DerivedProgram(tuple((code, compiled[code]) for code in order))
