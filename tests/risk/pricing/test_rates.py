"""The pricing formula on hand-worked examples: LPR + the grade's spread + the colour's
adjustment, within the product's spread range, floor and cap, four decimals half-up."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal

import numpy as np
import pytest

from risk.pricing.parameters import COLOUR_RANK
from risk.pricing.rates import RATE_PROBLEMS, rate_for_row, rate_from_units, rates_for_columns
from risk.pricing.selectors import decision_lpr
from tests.risk.pricing.conftest import make_terms, pricing_params

DEFAULT = pricing_params()
LPR = Decimal("3.450000")


def rate(grade="AA", colour="green", lpr=LPR, params=DEFAULT, terms=None):
    return rate_for_row(params, grade=grade, colour=colour, lpr=lpr, terms=terms or make_terms())


def column_rate(grade="AA", colour="green", lpr=LPR, params=DEFAULT, terms=None):
    columns = {
        "grade": np.array([grade], dtype=object),
        "peer_colour_rank": np.array([math.nan if colour is None else COLOUR_RANK[colour]]),
    }
    rates, problems = rates_for_columns(params, columns, terms or make_terms(), lpr=lpr)
    problem = RATE_PROBLEMS[problems[0]]
    return rate_from_units(rates[0]), problem[0] if problem else None


def test_lpr_plus_the_grade_spread():
    # 3.45 + 0.60 = 4.05.
    result = rate()
    assert result.problem is None
    assert result.rate == Decimal("4.0500")
    steps = dict(result.steps)
    assert steps["lpr"] == Decimal("3.45")
    assert steps["grade_spread"] == Decimal("0.60")
    assert steps["spread"] == Decimal("0.60")
    assert column_rate() == (Decimal("4.0500"), None)


def test_white_is_a_tenth_of_a_point_cheaper_grey_a_fifth_dearer():
    # AAA: 3.45 + 0.30 − 0.10 = 3.65; grey: 3.45 + 0.30 + 0.20 = 3.95; not reviewed: 3.75.
    assert rate(grade="AAA", colour="white").rate == Decimal("3.6500")
    assert rate(grade="AAA", colour="grey").rate == Decimal("3.9500")
    assert rate(grade="AAA", colour=None).rate == Decimal("3.7500")
    assert column_rate(grade="AAA", colour="white") == (Decimal("3.6500"), None)


def test_spread_held_within_the_products_range():
    # B: 1.50 held at the product's spread_max 0.50 → 3.45 + 0.50 = 3.95.
    narrow = make_terms(spread_max=Decimal("0.5"))
    assert rate(grade="B", terms=narrow).rate == Decimal("3.9500")
    assert dict(rate(grade="B", terms=narrow).steps)["spread"] == Decimal("0.50")
    # AAA white with a minimum spread of 0.25: 0.20 → 0.25 → 3.70.
    floor = make_terms(spread_min=Decimal("0.25"))
    assert rate(grade="AAA", colour="white", terms=floor).rate == Decimal("3.7000")


def test_rate_held_within_floor_and_cap():
    # A: 5.80 + 1.00 = 6.80 → cap 6.00.
    assert rate(grade="A", lpr=Decimal("5.8")).rate == Decimal("6.0000")
    # AAA white: 3.00 + 0.20 = 3.20 → floor 3.45.
    assert rate(grade="AAA", colour="white", lpr=Decimal("3.0")).rate == Decimal("3.4500")
    assert column_rate(grade="A", lpr=Decimal("5.8")) == (Decimal("6.0000"), None)


def test_a_grade_the_version_leaves_empty_takes_the_products_spread():
    partial = pricing_params(spreads_by_grade={"AA": "0.60"})
    # AAA from the product: 0.5 → 3.95.
    assert rate(grade="AAA", params=partial).rate == Decimal("3.9500")
    # The product's spread with six places rounds half-up at the end: 3.45 + 0.50005 = 3.95005.
    fine = make_terms(spread_by_grade={"AAA": Decimal("0.50005")})
    assert rate(grade="AAA", params=partial, terms=fine).rate == Decimal("3.9501")
    assert column_rate(grade="AAA", params=partial, terms=fine) == (Decimal("3.9501"), None)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"grade": "D"}, "rate_grade_unknown"),
        ({"grade": None}, "rate_grade_unknown"),
        ({"lpr": None}, "rate_lpr_missing"),
    ],
)
def test_bad_input_is_a_named_problem(kwargs, code):
    result = rate(**kwargs)
    assert result.rate == 0
    assert result.problem[0] == code
    assert result.problem[1]
    assert column_rate(**kwargs) == (Decimal("0"), code)


def test_grade_priced_by_neither_the_version_nor_the_product():
    partial = pricing_params(spreads_by_grade={"AA": "0.60"})
    result = rate(grade="B", params=partial)
    assert result.problem[0] == "rate_grade_unknown"


def test_unknown_colour_is_a_problem():
    assert rate(colour="purple").problem[0] == "rate_input_invalid"


@pytest.mark.django_db
def test_decision_lpr_reads_the_history_and_none_before_the_first_quote():
    terms = make_terms()
    assert decision_lpr(terms=terms, on_date=datetime.date(2024, 8, 1)) == Decimal("3.35")
    five_year = make_terms(base_rate="lpr_5y")
    assert decision_lpr(terms=five_year, on_date=datetime.date(2024, 8, 1)) == Decimal("3.85")
    missing = decision_lpr(terms=terms, on_date=datetime.date(2019, 1, 1))
    assert missing is None
    assert rate(lpr=missing).problem == (
        "rate_lpr_missing",
        "决策日没有可用的LPR报价，无法定价",
    )
