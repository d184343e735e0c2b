"""Repayment schedule calculator: the figures a borrower and a loan officer would check.

Reference figures are re-derived here with exact rational arithmetic (``fractions``), never by
calling the implementation, so a shared mistake cannot make both sides agree.
"""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from products.schedule import (
    Instalment,
    InterestSettlement,
    RepaymentFrequency,
    RepaymentMethod,
    ScheduleError,
    add_months,
    build_schedule,
    interest_for_days,
    schedule_totals,
)

D = Decimal


def fen_half_up(x: Fraction) -> Fraction:
    """Exact half-up rounding to 0.01 for non-negative rationals (independent of decimal)."""
    assert x >= 0
    return Fraction(math.floor(x * 100 + Fraction(1, 2)), 100)


def as_fraction(d: Decimal) -> Fraction:
    return Fraction(d)


def schedule(**overrides: object) -> list[Instalment]:
    terms: dict[str, object] = {
        "amount": D("100000.00"),
        "term_months": 12,
        "method": RepaymentMethod.EQUAL_INSTALMENT,
        "annual_rate": D("0.0435"),
        "start_date": date(2025, 1, 15),
    }
    terms.update(overrides)
    return build_schedule(**terms)  # type: ignore[arg-type]


# --- 等额本息 -------------------------------------------------------------------------------


def test_equal_instalment_reference_100k_12_months_435() -> None:
    rows = schedule()

    # Exact closed form P*r*(1+r)^n / ((1+r)^n - 1) in rationals, then half-up to the fen.
    p, r, n = Fraction(100_000), Fraction(435, 10_000) / 12, 12
    growth = (1 + r) ** n
    exact_payment = p * r * growth / (growth - 1)
    assert fen_half_up(exact_payment) == Fraction("8530.99")

    assert len(rows) == 12
    assert all(row.total == D("8530.99") for row in rows[:-1])
    assert rows[0].interest == D("362.50")  # 100,000 * 4.35% / 12
    assert rows[0].principal == D("8168.49")


def test_equal_instalment_total_interest_matches_independent_simulation() -> None:
    rows = schedule()

    # Independent replay of the posting rule: interest = round(remaining * r), principal =
    # payment - interest, last instalment clears the balance.
    r = Fraction(435, 10_000) / 12
    payment = Fraction("8530.99")
    remaining = Fraction(100_000)
    interest_sum = Fraction(0)
    for k in range(1, 13):
        interest = fen_half_up(remaining * r)
        principal = remaining if k == 12 else payment - interest
        interest_sum += interest
        remaining -= principal
    assert remaining == 0

    totals = schedule_totals(rows)
    assert as_fraction(totals["interest"]) == interest_sum
    # The last instalment absorbs 0.02 of accumulated rounding, so the posted interest is
    # 2,371.90 against the 12 * 8,530.99 - 100,000 = 2,371.88 a web calculator displays.
    assert totals["interest"] == D("2371.90")
    assert abs(totals["interest"] - (12 * D("8530.99") - D("100000"))) <= D("0.05")
    assert rows[-1].total == D("8531.01")
    assert totals["principal"] == D("100000.00")
    assert totals["total"] == totals["principal"] + totals["interest"]


def test_equal_instalment_quarterly_uses_quarter_rate() -> None:
    rows = schedule(frequency=RepaymentFrequency.QUARTERLY, term_months=12)
    assert [row.due_date for row in rows] == [
        date(2025, 4, 15),
        date(2025, 7, 15),
        date(2025, 10, 15),
        date(2026, 1, 15),
    ]
    assert rows[0].interest == D("1087.50")  # 100,000 * 4.35% / 4
    p, r, n = Fraction(100_000), Fraction(435, 10_000) / 4, 4
    growth = (1 + r) ** n
    assert as_fraction(rows[0].total) == fen_half_up(p * r * growth / (growth - 1))


# --- 等额本金 -------------------------------------------------------------------------------


def test_equal_principal_reference_120k_12_months() -> None:
    rows = schedule(
        amount=D("120000.00"), method=RepaymentMethod.EQUAL_PRINCIPAL, annual_rate=D("0.0435")
    )
    assert rows[0].principal == D("10000.00")
    assert rows[0].interest == D("435.00")
    assert rows[0].total == D("10435.00")
    for previous, current in itertools.pairwise(rows):
        assert previous.total - current.total == D("36.25")
    assert rows[-1].total == D("10036.25")
    assert schedule_totals(rows)["interest"] == D("36.25") * 78  # 435 + 398.75 + … + 36.25


def test_equal_principal_last_instalment_absorbs_remainder() -> None:
    rows = schedule(amount=D("100000.00"), method=RepaymentMethod.EQUAL_PRINCIPAL, term_months=3)
    assert [row.principal for row in rows] == [D("33333.33"), D("33333.33"), D("33333.34")]
    assert rows[-1].remaining_principal == D("0.00")


# --- 利随本清 / 按期付息 / 随借随还 ---------------------------------------------------------


def test_bullet_interest_actual_days_over_360() -> None:
    rows = schedule(
        amount=D("50000.00"),
        method=RepaymentMethod.BULLET,
        start_date=date(2025, 1, 10),
        term_months=12,
    )
    assert len(rows) == 1
    (row,) = rows
    assert row.due_date == date(2026, 1, 10)
    assert row.days == 365
    # 50,000 * 0.0435 * 365 / 360 = 2,205.2083… → 2,205.21
    assert fen_half_up(Fraction(50_000) * Fraction(435, 10_000) * 365 / 360) == Fraction("2205.21")
    assert row.interest == D("2205.21")
    assert row.principal == D("50000.00")
    assert row.total == D("52205.21")
    assert row.remaining_principal == D("0.00")


@pytest.mark.parametrize("method", [RepaymentMethod.PERIODIC_INTEREST, RepaymentMethod.REVOLVING])
def test_quarterly_20th_settlement_dates(method: str) -> None:
    rows = schedule(
        method=method,
        start_date=date(2025, 2, 5),
        term_months=12,
        settlement=InterestSettlement.QUARTERLY_20TH,
    )
    assert [row.due_date for row in rows] == [
        date(2025, 3, 20),
        date(2025, 6, 20),
        date(2025, 9, 20),
        date(2025, 12, 20),
        date(2026, 2, 5),
    ]
    assert [row.days for row in rows] == [43, 92, 92, 91, 47]
    for row in rows:
        expected = fen_half_up(Fraction(100_000) * Fraction(435, 10_000) * row.days / 360)
        assert as_fraction(row.interest) == expected
    assert [row.principal for row in rows] == [D("0.00")] * 4 + [D("100000.00")]
    assert [row.remaining_principal for row in rows] == [D("100000.00")] * 4 + [D("0.00")]
    assert rows[0].interest == D("519.58")  # 100,000 * 4.35% * 43 / 360 = 519.583…


def test_quarterly_20th_no_empty_stub_when_maturity_is_a_settlement_day() -> None:
    rows = schedule(
        method=RepaymentMethod.PERIODIC_INTEREST,
        start_date=date(2025, 3, 20),
        term_months=6,
        settlement=InterestSettlement.QUARTERLY_20TH,
    )
    assert [row.due_date for row in rows] == [date(2025, 6, 20), date(2025, 9, 20)]
    assert all(row.days > 0 for row in rows)


def test_periodic_interest_monthly_settlement_on_start_day() -> None:
    rows = schedule(
        method=RepaymentMethod.PERIODIC_INTEREST,
        start_date=date(2025, 1, 10),
        term_months=3,
        settlement=InterestSettlement.MONTHLY,
    )
    assert [(row.period_start, row.due_date, row.days) for row in rows] == [
        (date(2025, 1, 10), date(2025, 2, 10), 31),
        (date(2025, 2, 10), date(2025, 3, 10), 28),
        (date(2025, 3, 10), date(2025, 4, 10), 31),
    ]
    assert rows[1].interest == D("338.33")  # 100,000 * 4.35% * 28 / 360 = 338.333…
    assert rows[-1].principal == D("100000.00")


def test_periodic_interest_quarterly_frequency_monthly_rule_settles_every_three_months() -> None:
    rows = schedule(
        method=RepaymentMethod.PERIODIC_INTEREST,
        start_date=date(2025, 1, 10),
        term_months=6,
        frequency=RepaymentFrequency.QUARTERLY,
    )
    assert [row.due_date for row in rows] == [date(2025, 4, 10), date(2025, 7, 10)]


def test_interest_for_days_rounds_half_up_not_bankers() -> None:
    # 18.00 * 10% * 1 / 360 = 0.005 exactly: half-up gives 0.01 (banker's would give 0.00).
    assert interest_for_days(principal=D("18.00"), annual_rate=D("0.1"), days=1) == D("0.01")
    assert interest_for_days(principal=D("50000"), annual_rate=D("0.0435"), days=365) == D(
        "2205.21"
    )
    assert interest_for_days(principal=D("50000"), annual_rate=D("0.0435"), days=0) == D("0.00")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"principal": D("-1"), "annual_rate": D("0.04"), "days": 1}, "principal"),
        ({"principal": 100.0, "annual_rate": D("0.04"), "days": 1}, "principal"),
        ({"principal": D("100"), "annual_rate": D("1"), "days": 1}, "annual_rate"),
        ({"principal": D("100"), "annual_rate": D("0.04"), "days": -1}, "days"),
    ],
)
def test_interest_for_days_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleError) as excinfo:
        interest_for_days(**kwargs)  # type: ignore[arg-type]
    assert excinfo.value.field == field


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 1, 31), 2, date(2025, 3, 31)),
        (date(2025, 1, 31), 3, date(2025, 4, 30)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2025, 5, 17), 0, date(2025, 5, 17)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2025, 1, 31), [date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]),
        (date(2024, 1, 31), [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]),
    ],
)
def test_month_end_start_keeps_anchor_day(start: date, expected: list[date]) -> None:
    rows = schedule(start_date=start, term_months=3, method=RepaymentMethod.EQUAL_PRINCIPAL)
    assert [row.due_date for row in rows] == expected
    assert rows[0].period_start == start
    assert [row.days for row in rows] == [(row.due_date - row.period_start).days for row in rows]


def test_month_end_start_periodic_interest_days() -> None:
    rows = schedule(
        start_date=date(2025, 1, 31), term_months=2, method=RepaymentMethod.PERIODIC_INTEREST
    )
    assert [(row.due_date, row.days) for row in rows] == [
        (date(2025, 2, 28), 28),
        (date(2025, 3, 31), 31),
    ]


# --- zero rate ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(RepaymentMethod))
def test_zero_rate(method: str) -> None:
    rows = schedule(amount=D("1200.00"), annual_rate=D("0"), method=method)
    assert all(row.interest == D("0.00") for row in rows)
    assert schedule_totals(rows) == {
        "principal": D("1200.00"),
        "interest": D("0.00"),
        "total": D("1200.00"),
    }


@pytest.mark.parametrize(
    "method", [RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL]
)
def test_tiny_amount_over_long_term_never_overshoots(method: str) -> None:
    # 1.00 / 120 rounds up to 0.01, which would repay 1.20: instalments stop at the balance.
    rows = schedule(amount=D("1.00"), term_months=120, annual_rate=D("0"), method=method)
    assert sum(row.principal for row in rows) == D("1.00")
    assert all(row.remaining_principal >= 0 for row in rows)
    assert rows[-1].remaining_principal == D("0.00")


def test_zero_rate_equal_instalment_is_amount_over_n() -> None:
    rows = schedule(amount=D("1000.00"), annual_rate=D("0"), term_months=3)
    assert [row.total for row in rows] == [D("333.33"), D("333.33"), D("333.34")]


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": D("0")}, "amount"),
        ({"amount": D("-100.00")}, "amount"),
        ({"amount": D("100.001")}, "amount"),
        ({"amount": 100.5}, "amount"),
        ({"amount": D("NaN")}, "amount"),
        ({"term_months": 0}, "term_months"),
        ({"term_months": -12}, "term_months"),
        ({"term_months": 12.0}, "term_months"),
        ({"term_months": 7, "frequency": RepaymentFrequency.QUARTERLY}, "term_months"),
        ({"annual_rate": D("-0.01")}, "annual_rate"),
        ({"annual_rate": D("1")}, "annual_rate"),
        ({"annual_rate": D("4.35")}, "annual_rate"),
        ({"annual_rate": 0.0435}, "annual_rate"),
        ({"method": "interest_free_forever"}, "method"),
        ({"frequency": "weekly"}, "frequency"),
        ({"settlement": "yearly"}, "settlement"),
        ({"start_date": "2025-01-01"}, "start_date"),
        ({"start_date": datetime(2025, 1, 1, 9, 0)}, "start_date"),
    ],
)
def test_invalid_terms_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleError) as excinfo:
        schedule(**overrides)
    assert excinfo.value.field == field
    assert field in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_amount_with_trailing_zeros_is_accepted_and_posted_in_fen() -> None:
    rows = schedule(amount=D("1000.000"), method=RepaymentMethod.BULLET)
    assert rows[0].principal == D("1000.00")
    assert str(rows[0].principal) == "1000.00"


def test_choices_have_chinese_labels() -> None:
    assert RepaymentMethod.EQUAL_INSTALMENT.label == "等额本息"
    assert RepaymentMethod.EQUAL_PRINCIPAL.label == "等额本金"
    assert RepaymentMethod.PERIODIC_INTEREST.label == "按期付息、到期还本"
    assert RepaymentMethod.BULLET.label == "利随本清"
    assert RepaymentMethod.REVOLVING.label == "随借随还"
    assert RepaymentFrequency.QUARTERLY.label == "按季"
    assert InterestSettlement.QUARTERLY_20TH.label == "按季结息(每季末月20日)"


# --- properties -----------------------------------------------------------------------------

amounts = st.integers(min_value=100, max_value=100_000_000).map(lambda c: D(c).scaleb(-2))
rates = st.integers(min_value=0, max_value=240_000).map(lambda x: D(x).scaleb(-6))
start_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@st.composite
def frequency_and_term(draw: st.DrawFn) -> tuple[str, int]:
    frequency = draw(st.sampled_from(list(RepaymentFrequency)))
    if frequency == RepaymentFrequency.QUARTERLY:
        return frequency, 3 * draw(st.integers(min_value=1, max_value=120))
    return frequency, draw(st.integers(min_value=1, max_value=360))


@settings(max_examples=200, deadline=None)
@given(
    amount=amounts,
    freq_term=frequency_and_term(),
    method=st.sampled_from(list(RepaymentMethod)),
    settlement=st.sampled_from(list(InterestSettlement)),
    rate=rates,
    start=start_dates,
)
def test_schedule_invariants(
    amount: Decimal,
    freq_term: tuple[str, int],
    method: str,
    settlement: str,
    rate: Decimal,
    start: date,
) -> None:
    frequency, term = freq_term
    rows = build_schedule(
        amount=amount,
        term_months=term,
        method=method,
        annual_rate=rate,
        start_date=start,
        frequency=frequency,
        settlement=settlement,
    )

    assert rows
    assert sum((row.principal for row in rows), D("0")) == amount
    assert rows[-1].remaining_principal == D("0.00")
    assert rows[0].period_start == start
    assert rows[-1].due_date == add_months(start, term)
    assert [row.number for row in rows] == list(range(1, len(rows) + 1))

    outstanding = amount
    for row in rows:
        outstanding -= row.principal
        assert row.remaining_principal == outstanding
        for figure in (row.principal, row.interest, row.total, row.remaining_principal):
            assert figure >= 0
            assert figure.as_tuple().exponent == -2
        assert row.total == row.principal + row.interest
        assert row.days == (row.due_date - row.period_start).days > 0

    for previous, current in itertools.pairwise(rows):
        assert current.period_start == previous.due_date
        assert current.due_date > previous.due_date

    totals = schedule_totals(rows)
    assert totals["principal"] == amount
    assert totals["total"] == totals["principal"] + totals["interest"]


@settings(max_examples=200, deadline=None)
@given(start=start_dates, months=st.integers(min_value=-600, max_value=600))
def test_add_months_properties(start: date, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    if result.day != start.day:
        # Clamped: only ever to the last day of a shorter month.
        assert result.day < start.day
        assert date.fromordinal(result.toordinal() + 1).day == 1


def test_published_mortgage_calculator_figures_one_million_thirty_years_49() -> None:
    """Bank calculators' reference loan (1,000,000 CNY, 30 years, 4.9 %): equal instalment
    5,307.27 a month; equal principal 6,861.11 in the first month."""
    common = {
        "amount": Decimal("1000000"),
        "term_months": 360,
        "annual_rate": Decimal("0.049"),
        "start_date": date(2026, 1, 15),
    }
    instalment = build_schedule(method="equal_instalment", **common)
    principal = build_schedule(method="equal_principal", **common)
    assert instalment[0].total == Decimal("5307.27")
    assert {item.total for item in instalment[:-1]} == {Decimal("5307.27")}
    assert principal[0].total == Decimal("6861.11")
    assert sum(item.principal for item in principal) == Decimal("1000000.00")
