"""Schedule preview for a product version: the loan officer's "what would the borrower pay".

Checks the requested loan against the version's terms (each problem named by its field), prices
it (an explicit rate within floor/cap, or LPR + the grade's spread) and hands the figures to
``products.schedule`` — the only schedule calculator in the code base.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError

from common.clock import business_today
from products.models import BaseRate, ProductVersion
from products.parameters import ProductTerms
from products.schedule import (
    Instalment,
    RepaymentFrequency,
    RepaymentMethod,
    ScheduleError,
    add_months,
    build_schedule,
    schedule_totals,
)
from products.selectors import annual_rate_for, product_terms_for_version


@dataclass(frozen=True)
class SchedulePreview:
    version_id: int
    amount: Decimal
    term_months: int
    method: str
    frequency: str
    settlement: str
    annual_rate: Decimal  # percent a year
    rate_basis: str
    start_date: date
    instalments: list[Instalment]
    totals: dict[str, Decimal]


def loan_check_against_terms(
    *, terms: ProductTerms, amount: Decimal, term_months: int, method: str
) -> None:
    errors = {}
    if not terms.amount_min <= amount <= terms.amount_max:
        errors["amount"] = f"贷款金额须在 {terms.amount_min} 至 {terms.amount_max} 元之间"
    if not terms.term_min_months <= term_months <= terms.term_max_months:
        errors["term_months"] = (
            f"期限须在 {terms.term_min_months} 至 {terms.term_max_months} 个月之间"
        )
    elif terms.repayment_frequency == RepaymentFrequency.QUARTERLY and term_months % 3:
        # The calculator refuses it too, but in English; say it here in the user's words.
        errors["term_months"] = "该产品按季还款，期限须为3个月的整数倍"
    if method not in terms.repayment_methods:
        allowed = "、".join(RepaymentMethod(m).label for m in terms.repayment_methods)
        errors["method"] = f"该产品不支持此还款方式，可选：{allowed}"
    if errors:
        raise ValidationError(errors)


def schedule_preview(
    *,
    version: ProductVersion,
    amount: Decimal,
    term_months: int,
    method: str | None = None,
    annual_rate: Decimal | None = None,
    grade: str | None = None,
    start_date: date | None = None,
) -> SchedulePreview:
    start_date = start_date or business_today()
    terms = product_terms_for_version(version=version, on_date=start_date)
    method = method or terms.repayment_methods[0]
    loan_check_against_terms(terms=terms, amount=amount, term_months=term_months, method=method)
    if annual_rate is not None:
        if not terms.rate_floor <= annual_rate <= terms.rate_cap:
            raise ValidationError(
                {
                    "annual_rate": f"年利率须在产品利率区间 {terms.rate_floor}% 至 {terms.rate_cap}% 内"
                }
            )
        basis = "指定利率"
    else:
        try:
            annual_rate = annual_rate_for(terms=terms, on_date=start_date, grade=grade)
        except ValidationError as exc:
            raise ValidationError({"start_date": exc.messages}) from None
        basis = (
            f"{BaseRate(terms.base_rate).label} {terms.spread_for(grade):+} 个百分点"
            f"(评级 {grade or '未评级'})"
        )
    try:
        add_months(start_date, term_months)
    except (ValueError, OverflowError):
        # A start date such as 9999-12-01 puts maturity past the last representable date.
        raise ValidationError({"start_date": "起息日加上贷款期限后超出可计算的日期范围"}) from None
    try:
        instalments = build_schedule(
            amount=amount,
            term_months=term_months,
            method=method,
            annual_rate=annual_rate / 100,
            start_date=start_date,
            frequency=terms.repayment_frequency,
            settlement=terms.interest_settlement,
        )
    except ScheduleError as exc:
        field = {"method": "method", "amount": "amount"}.get(exc.field, exc.field)
        raise ValidationError({field: exc.message}) from None
    return SchedulePreview(
        version_id=version.pk,
        amount=amount,
        term_months=term_months,
        method=method,
        frequency=terms.repayment_frequency,
        settlement=terms.interest_settlement,
        annual_rate=annual_rate,
        rate_basis=basis,
        start_date=start_date,
        instalments=instalments,
        totals=schedule_totals(instalments),
    )
