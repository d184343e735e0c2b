"""Repayment schedule calculator (还款计划计算).

This is the only place in the code base that turns loan terms into instalments; everything
else (contract printing, accrual, overdue handling) reuses these pure functions so that the
figures a borrower sees at signing are the figures the ledger later posts.

Conventions followed, as used by Chinese rural credit cooperatives and commercial banks:

* Money is :class:`decimal.Decimal`, rounded ``ROUND_HALF_UP`` (四舍五入) to the fen at every
  posting. Floats are rejected outright: a binary float cannot represent most fen amounts.
* Rates are annual rates given as fractions (``Decimal("0.0435")`` for 4.35%).
* Amortising methods (等额本息, 等额本金) charge the *period* rate: annual/12 per month or
  annual/4 per quarter, irrespective of the actual number of days in the period, which is how
  published bank calculators and contract schedules are produced.
* Interest-only methods (按期付息到期还本, 利随本清, 随借随还) accrue by *actual days on a
  360-day year* (实际天数/360), the PBoC convention for RMB loans.
* Due dates anchor on the start day: a loan started on 31 January falls due on 28/29 February,
  31 March, 30 April ... (the anchor day is kept, dates are not chained month to month).
  Maturity is start + term months.
* The standard quarterly settlement day (结息日) is the 20th of March, June, September and
  December.

Everything in this module is importable without configured Django settings
(``django.db.models.TextChoices`` does not touch settings).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from django.db import models

__all__ = [
    "AllocationOrder",
    "Instalment",
    "InterestSettlement",
    "RepaymentFrequency",
    "RepaymentMethod",
    "ScheduleError",
    "add_months",
    "build_schedule",
    "interest_for_days",
    "schedule_totals",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DAYS_IN_YEAR = 360
QUARTER_SETTLEMENT_MONTHS = (3, 6, 9, 12)
QUARTER_SETTLEMENT_DAY = 20

# A private context so that a caller's global decimal context (precision, rounding, traps)
# can never change the figures. 50 significant digits comfortably covers (1 + r) ** 360.
_CONTEXT = Context(
    prec=50,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


class RepaymentMethod(models.TextChoices):
    EQUAL_INSTALMENT = "equal_instalment", "等额本息"
    EQUAL_PRINCIPAL = "equal_principal", "等额本金"
    PERIODIC_INTEREST = "periodic_interest", "按期付息、到期还本"
    BULLET = "bullet", "利随本清"
    REVOLVING = "revolving", "随借随还"


class RepaymentFrequency(models.TextChoices):
    MONTHLY = "monthly", "按月"
    QUARTERLY = "quarterly", "按季"


class InterestSettlement(models.TextChoices):
    MONTHLY = "monthly", "按月结息"
    QUARTERLY_20TH = "quarterly_20th", "按季结息(每季末月20日)"


_MONTHS_PER_PERIOD: dict[str, int] = {
    RepaymentFrequency.MONTHLY: 1,
    RepaymentFrequency.QUARTERLY: 3,
}


class AllocationOrder(models.TextChoices):
    """How a repayment is split over what is owed (还款冲销顺序), named after the Fineract
    strategies they follow. Penalty is owed by the loan as a whole; interest and principal by
    instalment, and within one component the oldest instalment is paid first."""

    # Fineract "Penalties, Fees, Interest, Principal order" applied component by component.
    PENALTY_INTEREST_PRINCIPAL = "penalty_interest_principal", "罚息→利息→本金(先旧后新)"
    # Fineract "mifos-standard-strategy": each instalment cleared before the next.
    BY_INSTALMENT = "by_instalment", "罚息后逐期还清(每期先息后本)"
    # Fineract "Interest, Principal, Penalties, Fees Order".
    INTEREST_PRINCIPAL_PENALTY = "interest_principal_penalty", "利息→本金→罚息"
    # Fineract "Principal, Interest, Penalties, Fees Order".
    PRINCIPAL_INTEREST_PENALTY = "principal_interest_penalty", "本金→利息→罚息"


class ScheduleError(ValueError):
    """Invalid loan terms; ``field`` names the offending input so forms and APIs can attach
    the message to the right field instead of showing a generic error."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Instalment:
    """One line of the schedule. ``days`` is kept even for amortising methods because
    penalty and early-repayment interest are computed on actual days."""

    number: int
    period_start: date
    due_date: date
    days: int
    principal: Decimal
    interest: Decimal
    total: Decimal
    remaining_principal: Decimal


def _fen(value: Decimal) -> Decimal:
    """Half-up to the fen, the rounding every Chinese bank posting uses (not banker's)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_CONTEXT)


def add_months(d: date, months: int) -> date:
    """Calendar month arithmetic that clamps to month end.

    Callers computing a series of due dates must always add to the *original* start date
    (``add_months(start, k)``), never chain from the previous due date, so that a 31st
    anchor comes back to the 31st after a short month.
    """
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError("months must be an int")
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def _check_money(field: str, value: object, *, allow_zero: bool, fen_only: bool) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ScheduleError(field, f"{field} must be a Decimal, got {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ScheduleError(field, f"{field} must be a finite number")
    if amount < 0 or (amount == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "greater than zero"
        raise ScheduleError(field, f"{field} must be {bound}, got {amount}")
    try:
        in_fen = _fen(amount)
    except InvalidOperation:
        raise ScheduleError(field, f"{field} is too large, got {amount}") from None
    if fen_only and in_fen != amount:
        raise ScheduleError(field, f"{field} must have at most 2 decimal places, got {amount}")
    return amount


def _check_rate(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ScheduleError(
            "annual_rate", f"annual_rate must be a Decimal fraction, got {type(value).__name__}"
        )
    rate = Decimal(value)
    if not rate.is_finite() or rate < 0 or rate >= 1:
        raise ScheduleError(
            "annual_rate",
            f"annual_rate must be a fraction in [0, 1) (e.g. 0.0435 for 4.35%), got {rate}",
        )
    return rate


def _check_choice(field: str, value: object, choices: type[models.TextChoices]) -> str:
    if not isinstance(value, str) or value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ScheduleError(field, f"unknown {field} {value!r}; expected one of: {allowed}")
    return str(value)


def interest_for_days(*, principal: Decimal, annual_rate: Decimal, days: int) -> Decimal:
    """Simple interest on actual days over a 360-day year, half-up to the fen.

    This is the PBoC day-count for RMB loans (日利率 = 年利率 / 360); daily accrual, penalty
    interest and interest-only schedules must all use it so their figures reconcile.
    """
    amount = _check_money("principal", principal, allow_zero=True, fen_only=False)
    rate = _check_rate(annual_rate)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ScheduleError("days", f"days must be a non-negative int, got {days!r}")
    with localcontext(_CONTEXT):
        return _fen(amount * rate * days / DAYS_IN_YEAR)


def _amortising_dates(start: date, periods: int, months_per_period: int) -> list[date]:
    return [add_months(start, k * months_per_period) for k in range(1, periods + 1)]


def _settlement_dates(
    start: date, maturity: date, settlement: str, months_per_period: int
) -> list[date]:
    """Interest settlement dates strictly after ``start`` and up to ``maturity`` inclusive;
    the last one is always the maturity date (the stub period where principal is repaid)."""
    dates: list[date] = []
    if settlement == InterestSettlement.QUARTERLY_20TH:
        year = start.year
        while True:
            for month in QUARTER_SETTLEMENT_MONTHS:
                d = date(year, month, QUARTER_SETTLEMENT_DAY)
                if start < d < maturity:
                    dates.append(d)
            if date(year, 12, QUARTER_SETTLEMENT_DAY) >= maturity:
                break
            year += 1
    else:
        k = 1
        while (d := add_months(start, k * months_per_period)) < maturity:
            dates.append(d)
            k += 1
    dates.append(maturity)
    return dates


def _equal_instalment_payment(amount: Decimal, rate: Decimal, periods: int) -> Decimal:
    """P*r*(1+r)^n / ((1+r)^n - 1), evaluated at 50 digits and rounded once at the end so
    the figure matches bank calculators to the fen."""
    with localcontext(_CONTEXT):
        if rate == 0:
            return _fen(amount / periods)
        growth = (1 + rate) ** periods
        return _fen(amount * rate * growth / (growth - 1))


def _amortising(
    *,
    amount: Decimal,
    annual_rate: Decimal,
    start: date,
    periods: int,
    months_per_period: int,
    method: str,
) -> list[Instalment]:
    """Interest each period is round(remaining * annual / periods-per-year), i.e. the period
    rate is never rounded on its own. A fixed principal/payment that would overshoot the
    outstanding balance (possible only for tiny amounts over long terms) is capped at it, and
    the last instalment always clears whatever is left, so principal sums to the amount."""
    periods_per_year = 12 // months_per_period
    with localcontext(_CONTEXT):
        period_rate = annual_rate / periods_per_year
        payment = _equal_instalment_payment(amount, period_rate, periods)
        fixed_principal = _fen(amount / periods)

        instalments: list[Instalment] = []
        remaining = amount
        period_start = start
        for number, due in enumerate(_amortising_dates(start, periods, months_per_period), 1):
            interest = _fen(remaining * annual_rate / periods_per_year)
            if number == periods:
                principal = remaining
            elif method == RepaymentMethod.EQUAL_INSTALMENT:
                principal = min(payment - interest, remaining)
            else:
                principal = min(fixed_principal, remaining)
            remaining -= principal
            instalments.append(
                Instalment(
                    number=number,
                    period_start=period_start,
                    due_date=due,
                    days=(due - period_start).days,
                    principal=principal,
                    interest=interest,
                    total=principal + interest,
                    remaining_principal=remaining,
                )
            )
            period_start = due
    return instalments


def _interest_only(
    *, amount: Decimal, annual_rate: Decimal, start: date, due_dates: list[date]
) -> list[Instalment]:
    instalments: list[Instalment] = []
    period_start = start
    last = len(due_dates)
    for number, due in enumerate(due_dates, 1):
        days = (due - period_start).days
        interest = interest_for_days(principal=amount, annual_rate=annual_rate, days=days)
        principal = amount if number == last else ZERO
        remaining = ZERO if number == last else amount
        instalments.append(
            Instalment(
                number=number,
                period_start=period_start,
                due_date=due,
                days=days,
                principal=principal,
                interest=interest,
                total=principal + interest,
                remaining_principal=remaining,
            )
        )
        period_start = due
    return instalments


def build_schedule(
    *,
    amount: Decimal,
    term_months: int,
    method: str,
    annual_rate: Decimal,
    start_date: date,
    frequency: str = RepaymentFrequency.MONTHLY,
    settlement: str = InterestSettlement.MONTHLY,
) -> list[Instalment]:
    """Contractual repayment schedule (还款计划) for a loan or a drawdown.

    ``frequency`` sets the repayment period of the amortising methods (and the term must be a
    whole number of periods: a quarterly loan of 7 months is rejected rather than guessed at).
    ``settlement`` applies only to the interest-only methods: with
    ``InterestSettlement.MONTHLY`` interest is settled every period (one month, or three for a
    quarterly frequency) on the start's day of month; with ``QUARTERLY_20TH`` on the 20th of
    March/June/September/December. In both cases a final stub period ends at maturity, when
    the principal is repaid. Amortising methods settle interest on their due dates.

    Revolving credit (随借随还) has no fixed schedule at drawdown: the borrower may repay at
    any time and interest is charged on actual days outstanding. For a drawdown the calculator
    therefore produces the *contractual* schedule as periodic interest with the principal due
    at the drawdown's maturity, interest by actual days / 360 and settled per ``settlement``;
    early repayments are handled by accrual using :func:`interest_for_days`.
    """
    principal = _check_money("amount", amount, allow_zero=False, fen_only=True)
    if isinstance(term_months, bool) or not isinstance(term_months, int) or term_months <= 0:
        raise ScheduleError(
            "term_months", f"term_months must be a positive int, got {term_months!r}"
        )
    method = _check_choice("method", method, RepaymentMethod)
    rate = _check_rate(annual_rate)
    if not isinstance(start_date, date) or isinstance(start_date, datetime):
        raise ScheduleError("start_date", f"start_date must be a date, got {start_date!r}")
    frequency = _check_choice("frequency", frequency, RepaymentFrequency)
    settlement = _check_choice("settlement", settlement, InterestSettlement)
    months_per_period = _MONTHS_PER_PERIOD[frequency]
    if term_months % months_per_period:
        raise ScheduleError(
            "term_months",
            f"term_months must be a multiple of {months_per_period} for {frequency} "
            f"repayment, got {term_months}",
        )

    # Keep the exponent at -2 so every posted figure prints as fen (e.g. 100 -> 100.00).
    principal = _fen(principal)
    maturity = add_months(start_date, term_months)

    with localcontext(_CONTEXT):
        if method in (RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL):
            return _amortising(
                amount=principal,
                annual_rate=rate,
                start=start_date,
                periods=term_months // months_per_period,
                months_per_period=months_per_period,
                method=method,
            )
        if method == RepaymentMethod.BULLET:
            due_dates = [maturity]
        else:  # PERIODIC_INTEREST and REVOLVING
            due_dates = _settlement_dates(start_date, maturity, settlement, months_per_period)
        return _interest_only(
            amount=principal, annual_rate=rate, start=start_date, due_dates=due_dates
        )


def schedule_totals(instalments: Iterable[Instalment]) -> dict[str, Decimal]:
    """Sums for the contract summary (合计); kept here so totals are always computed from the
    same rounded instalment figures the borrower sees, never recomputed from the formula."""
    principal = interest = ZERO
    with localcontext(_CONTEXT):
        for item in instalments:
            principal += item.principal
            interest += item.interest
        return {"principal": principal, "interest": interest, "total": principal + interest}
