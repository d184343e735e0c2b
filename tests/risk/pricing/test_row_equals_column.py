"""The one-application path and the column path give the same amount, rate and problem on
random households, missing values and edge cases included, under random parameters."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from products.models import CREDIT_GRADES
from risk.pricing.limits import LIMIT_PROBLEMS, limit_for_row, limits_for_columns
from risk.pricing.parameters import (
    COLOURS,
    LimitParameters,
    PricingParameters,
    colour_from_rank,
)
from risk.pricing.rates import RATE_PROBLEMS, rate_for_row, rate_from_units, rates_for_columns
from tests.risk.pricing.conftest import make_terms

money = st.one_of(
    st.just(math.nan),
    st.sampled_from(
        [
            0.0,
            0.005,
            0.125,
            1.005,
            999.995,
            10000.0,
            10499.99,
            1e10,
            1e10 + 1,
            math.inf,
            -math.inf,
            -0.0,
            -1.0,
        ]
    ),
    st.decimals(min_value=-50000, max_value=5_000_000, places=2).map(float),
    st.floats(min_value=-1e6, max_value=2e10, allow_nan=False),
)
grades = st.sampled_from([*CREDIT_GRADES, "D", None])
ranks = st.sampled_from([math.nan, 0.0, 1.0, 2.0, 3.0, 4.0, 1.5, -1.0])
factor = st.decimals(min_value=0, max_value=5, places=4)
adjustment = st.decimals(min_value=-2, max_value=2, places=4)


@st.composite
def limit_versions(draw):
    tables = [
        {g: draw(factor) for g in CREDIT_GRADES if draw(st.booleans()) or g != "B"}
        for _ in range(2)
    ]
    return LimitParameters(
        income_multiples=tables[0],
        asset_shares=tables[1],
        colour_multipliers={c: draw(factor) for c in COLOURS},
        no_review_multiplier=draw(factor),
        cap_at_suggested_amount=draw(st.booleans()),
        max_debt_ratio=draw(
            st.one_of(st.none(), st.decimals(min_value="0.1", max_value=2, places=4))
        ),
    )


@st.composite
def amount_terms(draw):
    low = draw(
        st.sampled_from([Decimal("0"), Decimal("1000"), Decimal("10000"), Decimal("10500.50")])
    )
    high = low + draw(
        st.sampled_from([Decimal("0"), Decimal("50000"), Decimal("255555.55"), Decimal("1e12")])
    )
    return make_terms(amount_min=low, amount_max=high)


households = st.lists(st.tuples(grades, money, money, money, ranks, money), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=limit_versions(), terms=amount_terms(), rows=households)
def test_limit_row_and_column_agree(version, terms, rows):
    columns = {
        "grade": np.array([r[0] for r in rows], dtype=object),
        "net_income": np.array([r[1] for r in rows]),
        "total_assets": np.array([r[2] for r in rows]),
        "debts": np.array([r[3] for r in rows]),
        "peer_colour_rank": np.array([r[4] for r in rows]),
        "peer_suggested_amount": np.array([r[5] for r in rows]),
    }
    amounts, problems = limits_for_columns(version, columns, terms)
    for i, (grade, income, assets, debts, rank, suggested) in enumerate(rows):
        one = limit_for_row(
            version,
            grade=grade,
            net_income=None if math.isnan(income) else income,
            total_assets=assets,
            debts=debts,
            colour=colour_from_rank(rank),
            suggested_amount=suggested,
            terms=terms,
        )
        assert (one.amount, one.problem) == (Decimal(int(amounts[i])), LIMIT_PROBLEMS[problems[i]])
        assert one.amount >= 0
        assert one.amount % 1000 == 0
        if one.amount:
            assert terms.amount_min <= one.amount <= terms.amount_max


@st.composite
def pricing_versions(draw):
    return PricingParameters(
        spreads_by_grade={
            g: draw(st.decimals(min_value=-1, max_value=4, places=4))
            for g in CREDIT_GRADES
            if draw(st.booleans())
        },
        colour_adjustments={c: draw(adjustment) for c in COLOURS},
        no_review_adjustment=draw(adjustment),
    )


@st.composite
def rate_terms(draw):
    floor = draw(st.decimals(min_value="0.5", max_value=5, places=6))
    spread_min = draw(st.decimals(min_value=-1, max_value=1, places=6))
    return make_terms(
        spread_min=spread_min,
        spread_max=spread_min + draw(st.decimals(min_value=0, max_value=4, places=6)),
        rate_floor=floor,
        rate_cap=floor + draw(st.decimals(min_value=0, max_value=6, places=6)),
        spread_by_grade={
            g: draw(st.decimals(min_value=-1, max_value=4, places=6))
            for g in CREDIT_GRADES
            if draw(st.booleans())
        },
    )


@settings(max_examples=300, deadline=None)
@given(
    version=pricing_versions(),
    terms=rate_terms(),
    lpr=st.one_of(st.none(), st.decimals(min_value="0.5", max_value=8, places=6)),
    rows=st.lists(st.tuples(grades, ranks), min_size=1, max_size=40),
)
def test_rate_row_and_column_agree(version, terms, lpr, rows):
    columns = {
        "grade": np.array([r[0] for r in rows], dtype=object),
        "peer_colour_rank": np.array([r[1] for r in rows]),
    }
    rates, problems = rates_for_columns(version, columns, terms, lpr=lpr)
    for i, (grade, rank) in enumerate(rows):
        one = rate_for_row(
            version, grade=grade, colour=colour_from_rank(rank), lpr=lpr, terms=terms
        )
        assert (one.rate, one.problem) == (rate_from_units(rates[i]), RATE_PROBLEMS[problems[i]])
        if one.problem is None:
            assert one.rate == one.rate.quantize(Decimal("0.0001"))
            assert min(terms.rate_floor, terms.rate_cap) - Decimal("0.00005") <= one.rate
            assert one.rate <= terms.rate_cap + Decimal("0.00005")
