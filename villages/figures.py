"""Derived archive figures, defined once: net annual income, total assets, debt ratio.

The same definitions exist as Python (for one archive) and as ORM expressions (to annotate many
archives in one query); risk features use the expressions, the admin and API the functions, and a
test holds the two equal.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Value
from django.db.models.functions import Cast, NullIf

INCOME_FIELDS = (
    "income_crops",
    "income_livestock",
    "income_wages",
    "income_business",
    "income_subsidies",
    "income_other",
)
ASSET_FIELDS = ("housing_value", "vehicle_value", "machinery_value", "livestock_value", "deposits")
FEN = Decimal("0.01")
RATIO = Decimal("0.0001")


def gross_income(archive) -> Decimal:
    return sum((getattr(archive, name) for name in INCOME_FIELDS), Decimal("0"))


def net_income(archive) -> Decimal:
    return (gross_income(archive) - archive.annual_expenses).quantize(FEN, ROUND_HALF_UP)


def total_assets(archive) -> Decimal:
    return sum((getattr(archive, name) for name in ASSET_FIELDS), Decimal("0")).quantize(
        FEN, ROUND_HALF_UP
    )


def debt_ratio(archive) -> Decimal | None:
    """Debt over assets, 4 places; ``None`` when there are no assets to divide by."""
    assets = total_assets(archive)
    if assets == 0:
        return None
    return (archive.debt_total / assets).quantize(RATIO, ROUND_HALF_UP)


_MONEY = DecimalField(max_digits=18, decimal_places=2)


def _sum(fields) -> F:
    expression = F(fields[0])
    for name in fields[1:]:
        expression = expression + F(name)
    return expression


def figure_annotations(prefix: str = "") -> dict:
    """``{net_income, total_assets, debt_ratio}`` expressions; ``prefix`` reaches the archive
    through a relation (e.g. ``"archives__"``)."""
    p = prefix
    income = _sum([p + name for name in INCOME_FIELDS])
    assets = _sum([p + name for name in ASSET_FIELDS])
    return {
        "net_income": ExpressionWrapper(income - F(p + "annual_expenses"), output_field=_MONEY),
        "total_assets": ExpressionWrapper(assets, output_field=_MONEY),
        "debt_ratio": Cast(
            F(p + "debt_total") / NullIf(assets, Value(Decimal("0"))),
            output_field=DecimalField(max_digits=12, decimal_places=4),
        ),
    }
