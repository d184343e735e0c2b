"""LPR publications: record one, or load a file of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from common.clock import business_today
from products.models import (
    LoanPrimeRate,
)

# --- LPR ------------------------------------------------------------------------------------


def lpr_check(*, effective_date: date, lpr_1y: Decimal, lpr_5y_plus: Decimal) -> None:
    errors = {}
    for field, value in (("lpr_1y", lpr_1y), ("lpr_5y_plus", lpr_5y_plus)):
        if not isinstance(value, Decimal) or not Decimal("0") < value < Decimal("100"):
            errors[field] = "LPR以年利率百分数录入，如 3.45，须大于0且小于100"
    if effective_date > business_today():
        errors["effective_date"] = "不能录入未来日期的LPR"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def lpr_record(*, effective_date: date, lpr_1y: Decimal, lpr_5y_plus: Decimal) -> LoanPrimeRate:
    """Record a publication. Re-recording the same figures is a no-op (loaders can rerun);
    different figures for a date already recorded are refused: a published LPR never changes,
    so a mismatch is a typing error to be looked at, not overwritten."""
    lpr_check(effective_date=effective_date, lpr_1y=lpr_1y, lpr_5y_plus=lpr_5y_plus)
    existing = (
        LoanPrimeRate.objects.select_for_update().filter(effective_date=effective_date).first()
    )
    if existing is not None:
        if existing.lpr_1y == lpr_1y and existing.lpr_5y_plus == lpr_5y_plus:
            return existing
        raise ValidationError(
            {
                "effective_date": f"{effective_date} 已录入LPR {existing.lpr_1y}%/{existing.lpr_5y_plus}%"
            }
        )
    return LoanPrimeRate.objects.create(
        effective_date=effective_date, lpr_1y=lpr_1y, lpr_5y_plus=lpr_5y_plus
    )


def lpr_import_rows(*, rows: Iterable[Mapping[str, str]]) -> int:
    """Load rows shaped like ``lpr.csv`` (effective_date, lpr_1y, lpr_5y_plus); returns how many
    were new. All or nothing: a bad row names its line and nothing is written."""
    created = 0
    with transaction.atomic():
        before = LoanPrimeRate.objects.count()
        for line, row in enumerate(rows, start=2):
            try:
                lpr_record(
                    effective_date=date.fromisoformat(row["effective_date"].strip()),
                    lpr_1y=Decimal(row["lpr_1y"].strip()),
                    lpr_5y_plus=Decimal(row["lpr_5y_plus"].strip()),
                )
            except (KeyError, ValueError, ArithmeticError) as exc:
                raise ValidationError({"file": f"第{line}行格式不正确：{exc}"}) from None
            except ValidationError as exc:
                raise ValidationError({"file": f"第{line}行：{'; '.join(exc.messages)}"}) from None
        created = LoanPrimeRate.objects.count() - before
    return created
