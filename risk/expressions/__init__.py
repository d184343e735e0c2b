"""The rule language: one expression, typed against a schema, evaluated for one row or a column.

``rule-engine`` parses and types; :mod:`risk.expressions.engine` compiles the parsed tree into
Python closures (one row) and numpy operations (columns) with one definition of missing values.

Chosen by measuring (``python -m bench.rule_language``, one 4-feature rule, 2 shared CPUs):
rule-engine's ``Rule.matches`` 96k rows/s and zen-engine's ``evaluate_expression`` 369k rows/s,
both failing on a missing value; the compiled closures 662k rows/s (1.5 µs); a column of
1,000,000 rows through numpy in 0.13 s. See the README, "Rule language".
"""
