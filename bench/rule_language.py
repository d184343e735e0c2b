"""How the rule language's engine was chosen: the candidates measured on one rule, this machine.

Not part of ``make bench`` (it measures libraries, not the platform). Run::

    DJANGO_SETTINGS_MODULE=config.settings .venv/bin/python -m bench.rule_language

``zen-engine`` and ``numexpr`` are not project dependencies; the run measures them when they
import (``pip install --target DIR zen-engine numexpr`` and ``PYTHONPATH=DIR``) and says so
otherwise. The rule: ``credit_hard_inquiries_3m >= 6 or (net_income / (debt + 1) < 0.5 and
antifraud_score > 60)`` over rows with about 10 % of each value missing.
"""

from __future__ import annotations

import os
import time

import numpy as np

RULE = "credit_hard_inquiries_3m >= 6 or (net_income / (debt + 1) < 0.5 and antifraud_score > 60)"
NAMES = ("credit_hard_inquiries_3m", "net_income", "debt", "antifraud_score")
ROWS_ONLINE = 20_000
COLUMN_ROWS = 1_000_000


def _columns(size: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    columns = {
        "credit_hard_inquiries_3m": rng.integers(0, 10, size).astype(float),
        "net_income": rng.normal(40_000, 20_000, size).round(),
        "debt": rng.exponential(20_000, size).round(),
        "antifraud_score": rng.uniform(0, 100, size).round(1),
    }
    for values in columns.values():
        values[rng.random(size) < 0.1] = np.nan
    return columns


def _rows(columns: dict[str, np.ndarray], size: int) -> list[dict]:
    return [
        {name: (None if np.isnan(v := columns[name][i]) else float(v)) for name in NAMES}
        for i in range(size)
    ]


def _per_second(label: str, count: int, run) -> None:
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    print(f"{label:<58} {count / elapsed:>12,.0f} rows/s  ({elapsed * 1e6 / count:.2f} µs/row)")


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import rule_engine

    from risk.expressions.engine import expression_compile
    from risk.expressions.schema import schema_of

    columns = _columns(COLUMN_ROWS)
    rows = _rows(columns, ROWS_ONLINE)
    complete = [row for row in rows if None not in row.values()]

    # rule-engine as shipped: typed, one row at a time; a missing value raises, so only the
    # complete rows can be given to it.
    context = rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(
            dict.fromkeys(NAMES, rule_engine.DataType.FLOAT)
        )
    )
    native = rule_engine.Rule(RULE, context=context)
    _per_second(
        "rule-engine Rule.matches (complete rows only)",
        len(complete),
        lambda: [native.matches(row) for row in complete],
    )

    try:
        import zen

        zen_rule = RULE.replace("debt + 1", "(debt + 1)")
        _per_second(
            "zen-engine evaluate_expression (complete rows only)",
            len(complete),
            lambda: [zen.evaluate_expression(zen_rule, row) for row in complete],
        )
    except ImportError:
        print("zen-engine: not installed, not measured")

    compiled = expression_compile(RULE, schema=schema_of(dict.fromkeys(NAMES, "number")))
    _per_second(
        "this language, one row (rule-engine AST → Python closures)",
        len(rows),
        lambda: [compiled.evaluate_row(row) for row in rows],
    )
    started = time.perf_counter()
    expression_compile(RULE, schema=schema_of(dict.fromkeys(NAMES, "number")))
    print(
        f"{'this language, parse + type-check + compile once':<58} "
        f"{(time.perf_counter() - started) * 1e3:>12.2f} ms"
    )
    _per_second(
        f"this language, a column of {COLUMN_ROWS:,} (→ numpy)",
        COLUMN_ROWS,
        lambda: compiled.evaluate_columns(columns),
    )
    try:
        import numexpr

        expression = (
            "(credit_hard_inquiries_3m >= 6) | ((net_income / (debt + 1) < 0.5)"
            " & (antifraud_score > 60))"
        )
        _per_second(
            f"numexpr, a column of {COLUMN_ROWS:,} (no missing/zero rules)",
            COLUMN_ROWS,
            lambda: numexpr.evaluate(expression, local_dict=columns),
        )
    except ImportError:
        print("numexpr: not installed, not measured")

    column_result = compiled.evaluate_columns(columns)
    disagreements = sum(
        compiled.evaluate_row(row) != bool(column_result[i]) for i, row in enumerate(rows)
    )
    print(f"row and column disagree on {disagreements} of {len(rows)} rows")


if __name__ == "__main__":
    main()
