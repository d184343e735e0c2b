"""The rule language: what it refuses (with the position) and what it answers."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from risk.expressions.engine import ExpressionError, expression_compile
from risk.expressions.schema import schema_of

SCHEMA = schema_of({"net_income": "number", "debt": "number", "channel": "text"})


def refusal(text: str, **kwargs) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        expression_compile(text, schema=SCHEMA, **kwargs)
    assert isinstance(caught.value, ValidationError)
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("net_incme > 1", 1, 1, "未知的特征“net_incme”，是否应为“net_income”"),
        ("debt > 1 and\n  salary < 3", 2, 3, "未知的特征“salary”"),
        # what a browser's textarea sends: CRLF line ends
        ("debt > 1 and\r\n  salary < 3", 2, 3, "未知的特征“salary”"),
        ("net_income == '高'", 1, 1, "不能将数值与文本比较"),
        ("debt > 1 and channel > 2", 1, 14, "不能将数值与文本比较"),
        ("net_income >", 1, 13, "表达式不完整"),
        ("net_income > > 1", 1, 14, "语法错误"),
        ("debt ** 2 > 1", 1, 1, "不支持运算符“**”"),
        ("abs(debt) > 1", 1, 1, "不支持的语法(函数调用)"),
        ("debt > inf", 1, 8, "不支持字面量“inf”"),
        ("debt > null", 1, 8, "判断缺失请用“== null”"),
    ],
)
def test_a_refused_expression_names_the_problem_and_where(text, line, column, words):
    error = refusal(text)
    assert (error.line, error.column) == (line, column)
    assert words in error.problem
    assert error.message_dict["expression"] == [f"第{line}行第{column}列：{error.problem}"]


def test_a_rule_must_be_a_condition_and_a_derived_feature_a_number():
    assert "必须是条件" in refusal("debt + 1", result="boolean").problem
    assert "必须是数值" in refusal("debt > 1", result="number").problem
    assert refusal("", result="boolean").problem == "请填写表达式"


def test_the_error_is_reported_on_the_field_asked_for():
    assert "formula" in refusal("x > 1", field="formula").message_dict


def test_an_expression_typed_over_lines_in_a_browser_compiles():
    compiled = expression_compile("debt > 1 and\r\n  net_income < 3", schema=SCHEMA)
    assert compiled.evaluate_row({"debt": 2.0, "net_income": 1.0}) is True


def test_features_names_what_the_expression_reads():
    compiled = expression_compile("debt / (net_income + 1) > 2", schema=SCHEMA)
    assert compiled.features == {"debt", "net_income"}
    assert compiled.result_type == "boolean"


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("net_income > 1", {"net_income": None}, False),
        ("not (net_income > 1)", {"net_income": None}, True),
        ("net_income != 1", {"net_income": None}, False),
        ("net_income == null", {}, True),
        ("net_income != null", {"net_income": 0}, True),
        ("debt / net_income > 1", {"debt": 5, "net_income": 0}, False),
        ("(debt / net_income) == null", {"debt": 5, "net_income": 0}, True),
        ("(net_income ?? 0) < 1", {"net_income": None}, True),
        ("debt", {"debt": 0}, None),
        ("channel == 'wechat'", {"channel": None}, False),
        ("channel in ['wechat', 'pad']", {"channel": "pad"}, True),
        ("debt in [1, 2]", {"debt": 2.0}, True),
        ("debt > 1 ? net_income : null", {"debt": 0, "net_income": 4}, None),
    ],
)
def test_missing_values_and_division_by_zero_mean_the_same_in_a_row_and_a_column(
    text, row, expected
):
    compiled = expression_compile(text, schema=SCHEMA)
    if expected is None and compiled.result_type == "number":
        expected_row = row.get("debt") if text == "debt" else None
        assert compiled.evaluate_row(row) == expected_row
    else:
        assert compiled.evaluate_row(row) is expected
    columns = {
        name: np.array(
            [row.get(name) if row.get(name) is not None else None],
            dtype=object if kind == "text" else float,
        )
        for name, kind in SCHEMA.items()
    }
    column = compiled.evaluate_columns(columns)
    answer = compiled.evaluate_row(row)
    if compiled.result_type == "number":
        assert (np.isnan(column[0]) and answer is None) or column[0] == answer
    else:
        assert bool(column[0]) is answer


def test_a_column_answers_one_value_per_row_even_for_a_constant():
    compiled = expression_compile("1 < 2", schema=SCHEMA)
    assert compiled.evaluate_columns({"debt": np.zeros(3)}).tolist() == [True, True, True]
