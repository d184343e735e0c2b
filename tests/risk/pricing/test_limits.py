"""The limit formula on hand-worked examples (expected numbers worked out by hand beside each
case), its bounds and rounding, the peer-review adjustments, and every bad input as an outcome."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from risk.pricing.limits import (
    LIMIT_PROBLEMS,
    limit_for_row,
    limits_for_columns,
)
from risk.pricing.parameters import COLOUR_RANK
from tests.risk.pricing.conftest import limit_params, make_terms

DEFAULT = limit_params()


def limit(
    grade="AA",
    income=60000,
    assets=500000,
    debts=100000,
    colour="green",
    suggested=None,
    params=DEFAULT,
    terms=None,
):
    return limit_for_row(
        params,
        grade=grade,
        net_income=income,
        total_assets=assets,
        debts=debts,
        colour=colour,
        suggested_amount=suggested,
        terms=terms or make_terms(),
    )


def column_of(params=DEFAULT, terms=None, **row):
    """The same household through the column path, as (amount, problem code or None)."""
    colour = row.get("colour", "green")
    suggested = row.get("suggested")
    values = {
        "grade": np.array([row.get("grade", "AA")], dtype=object),
        "net_income": np.array([row.get("income", 60000)], dtype=float),
        "total_assets": np.array([row.get("assets", 500000)], dtype=float),
        "debts": np.array([row.get("debts", 100000)], dtype=float),
        "peer_colour_rank": np.array([math.nan if colour is None else COLOUR_RANK[colour]]),
        "peer_suggested_amount": np.array([math.nan if suggested is None else suggested]),
    }
    amounts, problems = limits_for_columns(params, values, terms or make_terms())
    problem = LIMIT_PROBLEMS[problems[0]]
    return Decimal(int(amounts[0])), problem[0] if problem else None


def test_income_and_net_assets_take_the_smaller_with_every_step_in_the_trace():
    # AA: 60,000 × 2.5 = 150,000; (500,000 − 100,000) × 0.4 = 160,000 → 150,000.
    result = limit()
    assert result.problem is None
    assert result.amount == Decimal("150000")
    steps = dict(result.steps)
    assert steps["income_part"] == Decimal("150000.00")
    assert steps["asset_part"] == Decimal("160000.00")
    assert steps["base"] == Decimal("150000.00")
    assert steps["rounded"] == Decimal("150000")
    assert steps["colour_multiplier"] == Decimal("1.0")
    assert steps["final"] == Decimal("150000")
    assert column_of() == (Decimal("150000"), None)


def test_white_household_gets_a_fifth_more_rounded_down_to_the_thousand():
    # A: 45,678.90 × 2.0 = 91,357.80; (300,000 − 20,000) × 0.3 = 84,000 → 84,000;
    # white × 1.2 = 100,800 → rounded down 100,000.
    result = limit(
        grade="A", income=Decimal("45678.90"), assets=300000, debts=20000, colour="white"
    )
    steps = dict(result.steps)
    assert steps["income_part"] == Decimal("91357.80")
    assert steps["base"] == Decimal("84000.00")
    assert steps["colour_adjusted"] == Decimal("100800.00")
    assert result.amount == Decimal("100000")


def test_first_rounding_is_down_to_the_thousand_before_the_colour():
    # A: 25,700 × 2 = 51,400 (assets 400,000 × 0.3 = 120,000) → 51,000; grey × 0.5 = 25,500 → 25,000.
    result = limit(grade="A", income=25700, assets=400000, debts=0, colour="grey")
    assert dict(result.steps)["rounded"] == Decimal("51000")
    assert result.amount == Decimal("25000")


def test_product_maximum_holds_before_and_after_the_white_bonus():
    # AAA: 100,000 × 3 = 300,000; 1,000,000 × 0.5 = 500,000 → 300,000 (the maximum);
    # white × 1.2 = 360,000 → held at 300,000.
    result = limit(grade="AAA", income=100000, assets=1000000, debts=0, colour="white")
    assert dict(result.steps)["colour_adjusted"] == Decimal("360000.00")
    assert result.amount == Decimal("300000")
    # A maximum that is no round thousand: 255,500 → 255,000.
    odd = make_terms(amount_max=Decimal("255500"))
    assert limit(grade="AAA", income=100000, assets=1000000, debts=0, terms=odd).amount == Decimal(
        "255000"
    )


def test_peer_suggested_amount_is_a_ceiling_never_a_floor():
    # 360,000 after the white bonus, capped at 250,500 → rounded down 250,000.
    capped = limit(
        grade="AAA",
        income=100000,
        assets=1000000,
        debts=0,
        colour="white",
        suggested=Decimal("250500"),
    )
    assert dict(capped.steps)["suggested_cap"] == Decimal("250500.00")
    assert capped.amount == Decimal("250000")
    # A suggestion above the formula changes nothing.
    assert limit(suggested=Decimal("900000")).amount == Decimal("150000")
    # A version that ignores suggestions.
    ignoring = limit_params(cap_at_suggested_amount=False)
    assert limit(suggested=Decimal("20000"), params=ignoring).amount == Decimal("150000")
    assert column_of(suggested=20000) == (Decimal("20000"), None)


def test_below_the_product_minimum_is_no_line():
    # B: 8,000 × 1.0 = 8,000 < 10,000 → 0, without a problem (the engine reads "no line").
    result = limit(grade="B", income=8000, assets=100000, debts=0)
    assert (result.amount, result.problem) == (Decimal("0"), None)
    # 10,800 is above a 10,500 minimum, but rounded down it is 10,000: below, so no line.
    odd_minimum = make_terms(amount_min=Decimal("10500"))
    assert limit(grade="B", income=10800, assets=100000, debts=0, terms=odd_minimum).amount == 0
    # Grey halves 15,000 to 7,500 → 7,000, below the minimum → no line.
    assert limit(grade="B", income=15000, assets=100000, debts=0, colour="grey").amount == 0


@pytest.mark.parametrize(
    ("colour", "expected"),
    [("black", "0"), ("grey", "75000"), ("green", "150000"), ("white", "180000"), (None, "150000")],
)
def test_each_colour_and_no_review(colour, expected):
    assert limit(colour=colour).amount == Decimal(expected)
    assert column_of(colour=colour) == (Decimal(expected), None)


def test_grade_c_gets_no_line():
    assert limit(grade="C").amount == 0
    assert limit(grade="C").problem is None


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ({"grade": "D"}, "limit_grade_unknown"),
        ({"grade": None}, "limit_grade_unknown"),
        ({"income": None}, "limit_income_missing"),
        ({"income": math.nan}, "limit_income_missing"),
        ({"assets": None}, "limit_assets_missing"),
        ({"debts": math.nan}, "limit_assets_missing"),
        ({"income": math.inf}, "limit_not_finite"),
        ({"assets": 2e10}, "limit_not_finite"),
        ({"debts": -1}, "limit_input_invalid"),
        ({"suggested": -5000}, "limit_input_invalid"),
        ({"colour": "purple"}, "limit_input_invalid"),
        # Negative net income: −5,000 × 2.5 = −12,500 < 0.
        ({"income": -5000}, "limit_negative"),
        # Debts above assets: (100,000 − 150,000) × 0.4 = −20,000 < 0.
        ({"assets": 100000, "debts": 150000}, "limit_negative"),
    ],
)
def test_bad_input_is_a_named_problem_with_no_amount(row, code):
    result = limit(**row)
    assert result.amount == 0
    assert result.problem is not None
    assert result.problem[0] == code
    assert result.problem[1]  # the Chinese reason the engine shows
    if row.get("colour") != "purple":
        assert column_of(**row) == (Decimal("0"), code)


def test_missing_archive_reads_as_such():
    result = limit(income=None, assets=None, debts=None)
    assert result.problem == ("limit_income_missing", "缺少经济档案：家庭净收入缺失，无法测算额度")


def test_debt_ratio_divides_by_assets_and_zero_assets_is_a_problem():
    capped = limit_params(max_debt_ratio="0.7")
    # 80,000 ÷ 100,000 = 0.8 > 0.7 → no line, and the trace says why.
    high = limit(assets=100000, debts=80000, params=capped)
    assert high.problem is None
    assert high.amount == 0
    assert dict(high.steps)["debt_ratio"] == Decimal("0.8000")
    assert "debt_ratio_exceeded" in dict(high.steps)
    # 100,000 ÷ 500,000 = 0.2 → the line of the first example.
    assert limit(params=capped).amount == Decimal("150000")
    zero = limit(assets=0, debts=0, params=capped)
    assert zero.amount == 0
    assert zero.problem[0] == "limit_division_by_zero"
    assert column_of(params=capped, assets=0, debts=0) == (Decimal("0"), "limit_division_by_zero")


def test_float_inputs_round_half_up_to_the_fen():
    # 0.125 is exact in binary: half a fen, rounded up to 0.13 yuan; AAA × 3 → 0.39.
    result = limit(grade="AAA", income=0.125, assets=1000000, debts=0)
    assert dict(result.steps)["income_part"] == Decimal("0.39")
    # 1.005 is stored as 1.00499999…, below half a fen: 1.00 yuan; × 3 → 3.00.
    result = limit(grade="AAA", income=1.005, assets=1000000, debts=0)
    assert dict(result.steps)["income_part"] == Decimal("3.00")
    # A Decimal is exact: 1.005 is half a fen, up to 1.01; × 3 → 3.03.
    result = limit(grade="AAA", income=Decimal("1.005"), assets=1000000, debts=0)
    assert dict(result.steps)["income_part"] == Decimal("3.03")
