"""The limit formula (额度模型), once for one application and once for a column of households.

Conventions (both paths, proved equal by a property test):

- **Inputs** are yuan. A ``Decimal`` is rounded half-up to the fen; a float (a feature value,
  a column) becomes fen as ``floor(x × 100 + 0.5)`` in IEEE double arithmetic, which is half-up
  for every amount stored with two decimals and is computed identically by Python and numpy.
  Missing is ``None`` online and NaN in a column. An amount beyond ±10,000,000,000 yuan, or
  infinite, is not a number the formula takes.
- **Parameters** have at most four decimals, so ``parameter × 10,000`` is an exact integer and
  every step below is integer arithmetic (fen × 10,000; no float touches the amount). Products'
  amount bounds above 10,000,000,000 yuan count as that much.
- **The formula**, for grade ``g`` (the version's tables, ``risk.pricing.parameters``):

  1. 收入法额度 ``income_part = net_income × income_multiple[g]``;
  2. 净资产法额度 ``asset_part = (total_assets − debts) × asset_share[g]``;
  3. 负债率 ``debts ÷ total_assets`` only when the version sets ``max_debt_ratio``; above it the
     household gets no line (0);
  4. 基础额度 ``base = min(income_part, asset_part)``;
  5. bounded by the product: below ``amount_min`` → 0 (no line), above ``amount_max`` →
     ``amount_max``; then **rounded down** to 1,000 yuan (and 0 if that falls below the minimum);
  6. × the peer-review colour's multiplier (black 0, grey 0.5, green 1.0, white 1.2 in the
     federation default); a household never reviewed takes ``no_review_multiplier`` (1.0);
  7. where the review set a suggested amount and the version caps at it
     (``cap_at_suggested_amount``), the limit does not exceed that amount: villagers who know the
     household put a ceiling on it, never a floor;
  8. rounded down to 1,000 yuan again and bounded again (the white bonus may not pass
     ``amount_max``; a result below ``amount_min`` is no line).

- **Bad input** is an outcome, never an exception: the amount is 0 and ``problem`` is a reason
  code with its Chinese text (``LIMIT_PROBLEMS``), checked in this order: grade not in the tables
  (or missing), net income missing (no archive), assets or debts missing, an input that is not a
  finite number in range, a negative asset, debt or suggested amount or an unknown colour, a debt
  ratio asked of zero assets (division by zero), a negative base (negative income, or debts above
  assets with a non-zero asset share). The engine turns a problem into REFER or REJECT.
  An amount of 0 without a problem is "no line" (grade C, black, below the product minimum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from risk.pricing.parameters import COLOURS, SCALE, LimitParameters

FEN = Decimal("0.01")
MAX_MONEY = 10**10  # yuan
MAX_MONEY_FEN = MAX_MONEY * 100
THOUSAND_U = 1000 * 100 * SCALE  # 1,000 yuan in the formula's unit (fen × SCALE)
_YUAN_PLACES = 2 + 4  # fen × SCALE → yuan

# Reason codes of a limit that could not be computed; index 0 of the column path is "none".
LIMIT_GRADE_UNKNOWN = "limit_grade_unknown"
LIMIT_INCOME_MISSING = "limit_income_missing"
LIMIT_ASSETS_MISSING = "limit_assets_missing"
LIMIT_NOT_FINITE = "limit_not_finite"
LIMIT_INPUT_INVALID = "limit_input_invalid"
LIMIT_DIVISION_BY_ZERO = "limit_division_by_zero"
LIMIT_NEGATIVE = "limit_negative"
LIMIT_PROBLEMS: tuple[tuple[str, str] | None, ...] = (
    None,
    (LIMIT_GRADE_UNKNOWN, "评级缺失或不在额度模型参数表中，无法测算额度"),
    (LIMIT_INCOME_MISSING, "缺少经济档案：家庭净收入缺失，无法测算额度"),
    (LIMIT_ASSETS_MISSING, "缺少经济档案：总资产或负债缺失，无法测算额度"),
    (LIMIT_NOT_FINITE, "额度公式结果不是有效数字(收入、资产或负债为无穷大或超出范围)"),
    (LIMIT_INPUT_INVALID, "额度测算输入无效(资产、负债或评议建议额度为负数，或评议结论无法识别)"),
    (LIMIT_DIVISION_BY_ZERO, "额度公式除数为零：总资产为0，无法计算负债率"),
    (LIMIT_NEGATIVE, "额度公式结果为负数(净收入为负或负债超过资产)"),
)
_PROBLEM_INDEX = {entry[0]: i for i, entry in enumerate(LIMIT_PROBLEMS) if entry}

# Trace steps: codes in the decision, labels on display.
LIMIT_STEP_LABELS = {
    "income_part": "收入法额度 = 家庭净收入 × 收入倍数",
    "asset_part": "净资产法额度 = (总资产 − 负债) × 净资产比例",
    "debt_ratio": "负债率 = 负债 ÷ 总资产",
    "debt_ratio_exceeded": "负债率超过上限，不授信",
    "base": "基础额度 = 两者取小",
    "product_bounded": "按产品金额区间约束(低于下限为0)",
    "rounded": "向下取整到千元",
    "colour_multiplier": "评议结论调整系数",
    "colour_adjusted": "评议结论调整后额度",
    "suggested_cap": "不超过评议建议额度",
    "final": "最终额度(向下取整到千元并再次按产品区间约束)",
}


@dataclass(frozen=True)
class LimitResult:
    amount: Decimal
    steps: list[tuple[str, Decimal]] = field(default_factory=list)
    problem: tuple[str, str] | None = None


class _Missing:
    pass


class _Invalid:
    pass


MISSING = _Missing()
INVALID = _Invalid()


def money_to_fen(value) -> int | _Missing | _Invalid:
    """One input amount in fen (the conventions above), ``MISSING`` or ``INVALID``."""
    if value is None:
        return MISSING
    if isinstance(value, Decimal):
        if value.is_nan():
            return MISSING
        if not value.is_finite() or abs(value) > MAX_MONEY:
            return INVALID
        return int(value.quantize(FEN, ROUND_HALF_UP).scaleb(2))
    number = float(value)
    if math.isnan(number):
        return MISSING
    if not math.isfinite(number) or abs(number) > MAX_MONEY:
        return INVALID
    return math.floor(number * 100.0 + 0.5)


def columns_to_fen(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A column of yuan as ``(fen int64, missing, invalid)``, exactly as ``money_to_fen``."""
    x = np.asarray(values, dtype=np.float64)
    missing = np.isnan(x)
    with np.errstate(invalid="ignore"):
        invalid = ~missing & (~np.isfinite(x) | (np.abs(x) > MAX_MONEY))
    safe = np.where(missing | invalid, 0.0, x)
    return np.floor(safe * 100.0 + 0.5).astype(np.int64), missing, invalid


def _scaled(number: Decimal) -> int:
    return int(number.scaleb(4).to_integral_exact())


def _bound_fen(amount: Decimal) -> int:
    """A product bound in fen, capped where the formula's integers stay exact."""
    return min(int(Decimal(amount).quantize(FEN, ROUND_HALF_UP).scaleb(2)), MAX_MONEY_FEN)


def _yuan(units: int) -> Decimal:
    return Decimal(units).scaleb(-_YUAN_PLACES).quantize(FEN, ROUND_HALF_UP)


def _problem(code: str, steps) -> LimitResult:
    return LimitResult(
        amount=Decimal("0"), steps=steps, problem=LIMIT_PROBLEMS[_PROBLEM_INDEX[code]]
    )


def limit_for_row(
    version,
    *,
    grade: str | None,
    net_income,
    total_assets,
    debts,
    colour: str | None,
    suggested_amount,
    terms,
) -> LimitResult:
    """The limit of one household (``version``: a ``LimitModelVersion`` or ``LimitParameters``;
    ``terms``: the product's ``ProductTerms``, or anything with ``amount_min``/``amount_max``).
    ``colour`` is a peer-review colour code or ``None`` (not reviewed; see
    ``parameters.colour_from_rank`` for the feature). Never raises on bad values."""
    params: LimitParameters = version.parameters()
    steps: list[tuple[str, Decimal]] = []
    multiple = params.income_multiples.get(grade) if isinstance(grade, str) else None
    share = params.asset_shares.get(grade) if isinstance(grade, str) else None
    if multiple is None or share is None:
        return _problem(LIMIT_GRADE_UNKNOWN, steps)
    income, assets, debt = (money_to_fen(v) for v in (net_income, total_assets, debts))
    if income is MISSING:
        return _problem(LIMIT_INCOME_MISSING, steps)
    if assets is MISSING or debt is MISSING:
        return _problem(LIMIT_ASSETS_MISSING, steps)
    if INVALID in (income, assets, debt):
        return _problem(LIMIT_NOT_FINITE, steps)
    suggested = money_to_fen(suggested_amount)
    if (
        assets < 0
        or debt < 0
        or suggested is INVALID
        or (suggested is not MISSING and suggested < 0)
        or (colour is not None and colour not in COLOURS)
    ):
        return _problem(LIMIT_INPUT_INVALID, steps)

    income_u = income * _scaled(multiple)
    asset_u = (assets - debt) * _scaled(share)
    steps += [("income_part", _yuan(income_u)), ("asset_part", _yuan(asset_u))]
    ratio_exceeded = False
    if params.max_debt_ratio is not None:
        if assets == 0:
            return _problem(LIMIT_DIVISION_BY_ZERO, steps)
        steps.append(("debt_ratio", (Decimal(debt) / Decimal(assets)).quantize(Decimal("0.0001"))))
        ratio_exceeded = debt * SCALE > _scaled(params.max_debt_ratio) * assets
    base_u = min(income_u, asset_u)
    if base_u < 0:
        steps.append(("base", _yuan(base_u)))
        return _problem(LIMIT_NEGATIVE, steps)
    if ratio_exceeded:
        steps.append(("debt_ratio_exceeded", Decimal("0")))
        base_u = 0
    steps.append(("base", _yuan(base_u)))

    min_u = _bound_fen(terms.amount_min) * SCALE
    max_u = _bound_fen(terms.amount_max) * SCALE
    bounded_u = 0 if base_u < min_u else min(base_u, max_u)
    steps.append(("product_bounded", _yuan(bounded_u)))
    thousands = bounded_u // THOUSAND_U
    if thousands * THOUSAND_U < min_u:
        thousands = 0
    steps.append(("rounded", Decimal(thousands * 1000)))

    multiplier = (
        params.no_review_multiplier if colour is None else params.colour_multipliers[colour]
    )
    adjusted_u = thousands * (THOUSAND_U // SCALE) * _scaled(multiplier)
    steps += [("colour_multiplier", multiplier), ("colour_adjusted", _yuan(adjusted_u))]
    if params.cap_at_suggested_amount and suggested is not MISSING:
        adjusted_u = min(adjusted_u, suggested * SCALE)
        steps.append(("suggested_cap", _yuan(adjusted_u)))
    final = min(adjusted_u // THOUSAND_U, max_u // THOUSAND_U)
    if final * THOUSAND_U < min_u:
        final = 0
    amount = Decimal(final * 1000)
    steps.append(("final", amount))
    return LimitResult(amount=amount, steps=steps)


def limits_for_columns(
    version, columns: Mapping[str, np.ndarray], terms
) -> tuple[np.ndarray, np.ndarray]:
    """The limits of a column of households: ``(amounts, problems)``.

    ``columns`` holds ``grade`` (str or None per row), ``net_income``, ``total_assets``,
    ``debts``, ``peer_colour_rank`` (black 0 … white 3, NaN = not reviewed) and
    ``peer_suggested_amount`` (NaN = none), floats in yuan. ``amounts`` are int64 yuan (0 where a
    problem was found); ``problems`` are uint8 indexes into ``LIMIT_PROBLEMS`` (0 = none).
    Identical, row for row, to ``limit_for_row``.
    """
    params: LimitParameters = version.parameters()
    grade = np.asarray(columns["grade"], dtype=object)
    n = len(grade)
    multiple = np.zeros(n, dtype=np.int64)
    share = np.zeros(n, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    for code in set(params.income_multiples) & set(params.asset_shares):
        rows = grade == code
        multiple[rows] = _scaled(params.income_multiples[code])
        share[rows] = _scaled(params.asset_shares[code])
        known |= rows
    income, income_missing, income_invalid = columns_to_fen(columns["net_income"])
    assets, assets_missing, assets_invalid = columns_to_fen(columns["total_assets"])
    debt, debt_missing, debt_invalid = columns_to_fen(columns["debts"])
    suggested, suggested_missing, suggested_invalid = columns_to_fen(
        columns["peer_suggested_amount"]
    )
    rank = np.asarray(columns["peer_colour_rank"], dtype=np.float64)
    reviewed = ~np.isnan(rank)
    rank_index = np.where(reviewed, rank, -1.0)
    colour_known = np.isin(rank_index, np.arange(len(COLOURS), dtype=np.float64))

    problems = np.zeros(n, dtype=np.uint8)

    def flag(rows: np.ndarray, code: str) -> None:
        problems[rows & (problems == 0)] = _PROBLEM_INDEX[code]

    flag(~known, LIMIT_GRADE_UNKNOWN)
    flag(income_missing, LIMIT_INCOME_MISSING)
    flag(assets_missing | debt_missing, LIMIT_ASSETS_MISSING)
    flag(income_invalid | assets_invalid | debt_invalid, LIMIT_NOT_FINITE)
    flag(
        (assets < 0)
        | (debt < 0)
        | suggested_invalid
        | (~suggested_missing & (suggested < 0))
        | (reviewed & ~colour_known),
        LIMIT_INPUT_INVALID,
    )
    income_u = income * multiple
    asset_u = (assets - debt) * share
    ratio_exceeded = np.zeros(n, dtype=bool)
    if params.max_debt_ratio is not None:
        flag(assets == 0, LIMIT_DIVISION_BY_ZERO)
        ratio_exceeded = debt * SCALE > _scaled(params.max_debt_ratio) * assets
    base_u = np.minimum(income_u, asset_u)
    flag(base_u < 0, LIMIT_NEGATIVE)
    base_u = np.where(ratio_exceeded, 0, base_u)

    min_u = _bound_fen(terms.amount_min) * SCALE
    max_u = _bound_fen(terms.amount_max) * SCALE
    bounded_u = np.where(base_u < min_u, 0, np.minimum(base_u, max_u))
    thousands = bounded_u // THOUSAND_U
    thousands = np.where(thousands * THOUSAND_U < min_u, 0, thousands)

    colour_multiplier = np.full(len(COLOURS) + 1, _scaled(params.no_review_multiplier), np.int64)
    for index, colour in enumerate(COLOURS):
        colour_multiplier[index] = _scaled(params.colour_multipliers[colour])
    # Index -1 (not reviewed, or a rank flagged above) reads the last cell: no_review.
    multiplier = colour_multiplier[np.where(colour_known, rank_index, -1).astype(np.int64)]
    adjusted_u = thousands * (THOUSAND_U // SCALE) * multiplier
    if params.cap_at_suggested_amount:
        adjusted_u = np.where(
            suggested_missing, adjusted_u, np.minimum(adjusted_u, suggested * SCALE)
        )
    final = np.minimum(adjusted_u // THOUSAND_U, max_u // THOUSAND_U)
    final = np.where(final * THOUSAND_U < min_u, 0, final)
    amounts = np.where(problems == 0, final * 1000, 0).astype(np.int64)
    return amounts, problems


def limit_problem(index: int) -> tuple[str, str] | None:
    """A column problem index as the row path's ``(reason code, 中文原因)``."""
    return LIMIT_PROBLEMS[int(index)]
