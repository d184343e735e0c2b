"""The parameters of a limit model and a pricing model version, as plain values, and the checks a
draft must pass. Kept apart from the models so the formula (``limits``, ``rates``) runs on these
values alone: the same for a version read from the database, one replayed from a stored decision
and one built in a test.

Every table is keyed by code (``AAA``…``C``, ``black``…``white``); numbers are ``Decimal`` with
at most four decimal places, which the formula turns into exact integers (``SCALE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from products.models import CREDIT_GRADES
from villages.models import ListColour

# Peer-review colours, most cautious first; the rank is the household feature
# ``peer_colour_rank`` (black 0, grey 1, green 2, white 3).
COLOURS: tuple[str, ...] = tuple(ListColour.values)
COLOUR_RANK = {colour: rank for rank, colour in enumerate(COLOURS)}
COLOUR_LABELS = dict(ListColour.choices)
PARAMETER_PLACES = 4
SCALE = 10**PARAMETER_PLACES  # a parameter × SCALE is an exact integer

# Bounds that keep every intermediate product inside a 64-bit integer (see ``limits``) and
# refuse typing slips (a multiple of 250 instead of 2.5).
MAX_INCOME_MULTIPLE = Decimal("100")
MAX_ASSET_SHARE = Decimal("5")
MAX_COLOUR_MULTIPLIER = Decimal("10")
MAX_DEBT_RATIO = Decimal("10")
SPREAD_RANGE = (Decimal("-10"), Decimal("20"))  # percentage points
COLOUR_ADJUSTMENT_RANGE = (Decimal("-5"), Decimal("5"))


def colour_from_rank(rank: float | None) -> str | None:
    """``peer_colour_rank`` (a float feature, missing = not reviewed) → colour code or ``None``;
    a rank that is no colour is returned as the text ``"invalid"`` so the formula names it."""
    if rank is None or rank != rank:
        return None
    if rank in (0, 1, 2, 3):
        return COLOURS[int(rank)]
    return "invalid"


@dataclass(frozen=True)
class LimitParameters:
    """One limit model version's numbers (see ``risk.pricing.limits`` for the formula)."""

    income_multiples: Mapping[str, Decimal]
    asset_shares: Mapping[str, Decimal]
    colour_multipliers: Mapping[str, Decimal]
    no_review_multiplier: Decimal = Decimal("1")
    cap_at_suggested_amount: bool = True
    max_debt_ratio: Decimal | None = None

    def parameters(self) -> LimitParameters:
        return self


@dataclass(frozen=True)
class PricingParameters:
    """One pricing model version's numbers (see ``risk.pricing.rates``). A grade left out of
    ``spreads_by_grade`` takes the product's spread for that grade."""

    spreads_by_grade: Mapping[str, Decimal]
    colour_adjustments: Mapping[str, Decimal]
    no_review_adjustment: Decimal = Decimal("0")

    def parameters(self) -> PricingParameters:
        return self


# --- checks of a draft's tables ----------------------------------------------------------------
# Errors are keyed by the admin form's field names (``income_multiples_AAA``), so each refusal
# shows beside the cell it is about; the messages stand alone elsewhere (an action's message).


def table_field(table: str, key: str) -> str:
    return f"{table}_{key}"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("不是有效数字") from None
    if not number.is_finite():
        raise ValueError("不是有效数字")
    if number.as_tuple().exponent < -PARAMETER_PLACES:
        raise ValueError(f"最多{PARAMETER_PLACES}位小数")
    return number


def _check_table(
    errors: dict[str, str],
    table: str,
    label: str,
    values: Mapping[str, Any] | None,
    keys: tuple[str, ...],
    labels: Mapping[str, str],
    *,
    low: Decimal,
    high: Decimal,
    required: bool,
) -> dict[str, Decimal]:
    values = values if isinstance(values, Mapping) else {}
    clean: dict[str, Decimal] = {}
    unknown = [str(k) for k in values if k not in keys]
    if unknown:
        errors[table] = f"{label}中有未知的项：{'、'.join(unknown)}"
    for key in keys:
        name = f"{label}({labels.get(key, key)})"
        try:
            number = _decimal(values.get(key))
        except ValueError as exc:
            errors[table_field(table, key)] = f"{name}{exc}"
            continue
        if number is None:
            if required:
                errors[table_field(table, key)] = f"缺少{name}：每一档都必须填写(不授信请填0)"
            continue
        if number < low:
            errors[table_field(table, key)] = (
                f"{name}不能为负数" if low == 0 else f"{name}不能小于{low}"
            )
        elif number > high:
            errors[table_field(table, key)] = f"{name}不能大于{high}"
        else:
            clean[key] = number
    return clean


def _check_number(
    errors: dict[str, str], field: str, label: str, value: Any, *, low, high, required=True
) -> Decimal | None:
    try:
        number = _decimal(value)
    except ValueError as exc:
        errors[field] = f"{label}{exc}"
        return None
    if number is None:
        if required:
            errors[field] = f"请填写{label}"
        return None
    if number < low or number > high:
        errors[field] = f"{label}须在{low}至{high}之间"
        return None
    return number


GRADE_LABELS = {grade: grade for grade in CREDIT_GRADES}


def limit_parameters_clean(values: Mapping[str, Any]) -> tuple[LimitParameters | None, dict]:
    """``(parameters, {})`` or ``(None, {field: 中文原因})`` for a limit version's values."""
    errors: dict[str, str] = {}
    zero = Decimal("0")
    income = _check_table(
        errors,
        "income_multiples",
        "收入倍数",
        values.get("income_multiples"),
        CREDIT_GRADES,
        GRADE_LABELS,
        low=zero,
        high=MAX_INCOME_MULTIPLE,
        required=True,
    )
    assets = _check_table(
        errors,
        "asset_shares",
        "净资产比例",
        values.get("asset_shares"),
        CREDIT_GRADES,
        GRADE_LABELS,
        low=zero,
        high=MAX_ASSET_SHARE,
        required=True,
    )
    colours = _check_table(
        errors,
        "colour_multipliers",
        "评议调整系数",
        values.get("colour_multipliers"),
        COLOURS,
        COLOUR_LABELS,
        low=zero,
        high=MAX_COLOUR_MULTIPLIER,
        required=True,
    )
    no_review = _check_number(
        errors,
        "no_review_multiplier",
        "未评议调整系数",
        values.get("no_review_multiplier"),
        low=zero,
        high=MAX_COLOUR_MULTIPLIER,
    )
    ratio = _check_number(
        errors,
        "max_debt_ratio",
        "负债率上限",
        values.get("max_debt_ratio"),
        low=Decimal("0.0001"),
        high=MAX_DEBT_RATIO,
        required=False,
    )
    if errors:
        return None, errors
    return LimitParameters(
        income_multiples=income,
        asset_shares=assets,
        colour_multipliers=colours,
        no_review_multiplier=no_review,
        cap_at_suggested_amount=bool(values.get("cap_at_suggested_amount", True)),
        max_debt_ratio=ratio,
    ), {}


def pricing_parameters_clean(values: Mapping[str, Any]) -> tuple[PricingParameters | None, dict]:
    """``(parameters, {})`` or ``(None, {field: 中文原因})`` for a pricing version's values.
    A grade's spread may be left empty (the product's spread applies); a colour's adjustment
    may not (0 means no adjustment). Whether a spread lies within the product's range is checked
    per decision, because one pricing model serves products with different ranges."""
    errors: dict[str, str] = {}
    spreads = _check_table(
        errors,
        "spreads_by_grade",
        "评级加点(百分点)",
        values.get("spreads_by_grade"),
        CREDIT_GRADES,
        GRADE_LABELS,
        low=SPREAD_RANGE[0],
        high=SPREAD_RANGE[1],
        required=False,
    )
    colours = _check_table(
        errors,
        "colour_adjustments",
        "评议利率调整(百分点)",
        values.get("colour_adjustments"),
        COLOURS,
        COLOUR_LABELS,
        low=COLOUR_ADJUSTMENT_RANGE[0],
        high=COLOUR_ADJUSTMENT_RANGE[1],
        required=True,
    )
    no_review = _check_number(
        errors,
        "no_review_adjustment",
        "未评议利率调整(百分点)",
        values.get("no_review_adjustment"),
        low=COLOUR_ADJUSTMENT_RANGE[0],
        high=COLOUR_ADJUSTMENT_RANGE[1],
    )
    if errors:
        return None, errors
    return PricingParameters(
        spreads_by_grade=spreads, colour_adjustments=colours, no_review_adjustment=no_review
    ), {}


def to_json_table(table: Mapping[str, Decimal]) -> dict[str, str]:
    return {key: str(value) for key, value in table.items()}
