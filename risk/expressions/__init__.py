"""The rule language: one expression, typed against a schema, evaluated for one row or a column.

See :mod:`risk.expressions.engine` for the grammar and the meaning of missing values, and the
README ("Rule language") for how the engine was chosen.
"""
