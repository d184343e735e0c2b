"""The pricing formula (定价模型), once for one application and once for a column.

Rates are percent a year and spreads percentage points, as in ``products`` (``Decimal("3.45")``
is 3.45 %). The formula, for grade ``g`` and peer-review colour ``c`` on the decision date:

1. ``lpr``: the LPR of the product's base (1-year or 5-year+) in force on the decision date,
   read once by the caller (``selectors.decision_lpr``) so a stored decision replays without the
   LPR table;
2. ``grade_spread``: the version's spread for ``g``; a grade the version leaves empty takes the
   product's ``spread_by_grade[g]`` (a bank may price only the grades it wants to change);
3. ``colour_adjustment``: the version's adjustment for ``c`` (white −0.10 pp in the federation
   default), ``no_review_adjustment`` when the household was never reviewed;
4. ``spread = grade_spread + colour_adjustment`` held within the product's
   ``spread_min``…``spread_max``;
5. ``rate = lpr + spread`` held within the product's ``rate_floor``…``rate_cap``, then rounded
   half-up to four decimal places (``0.0001`` %).

All of it is integer arithmetic in millionths of a percent (products store six places), so the
row and the column agree exactly. Bad input is an outcome (rate 0 and a ``problem``), checked in
this order: grade missing or priced neither by the version nor by the product, a colour that is
no colour, no LPR for the decision date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from risk.pricing.parameters import COLOURS, PricingParameters

RATE_PLACES = 4
RATE_UNITS = 10**RATE_PLACES  # a result rate × RATE_UNITS is the column path's int64
_MICRO = 10**6  # the formula's unit: a millionth of a percent
_TO_RESULT = _MICRO // RATE_UNITS

RATE_GRADE_UNKNOWN = "rate_grade_unknown"
RATE_INPUT_INVALID = "rate_input_invalid"
RATE_LPR_MISSING = "rate_lpr_missing"
RATE_PROBLEMS: tuple[tuple[str, str] | None, ...] = (
    None,
    (RATE_GRADE_UNKNOWN, "评级缺失，或定价模型与产品均未设置该评级的加点，无法定价"),
    (RATE_INPUT_INVALID, "定价输入无效：评议结论无法识别"),
    (RATE_LPR_MISSING, "决策日没有可用的LPR报价，无法定价"),
)
_PROBLEM_INDEX = {entry[0]: i for i, entry in enumerate(RATE_PROBLEMS) if entry}

RATE_STEP_LABELS = {
    "lpr": "决策日LPR(年%)",
    "grade_spread": "评级加点(百分点)",
    "colour_adjustment": "评议结论调整(百分点)",
    "spread": "加点合计，按产品加点区间约束后(百分点)",
    "rate_unbounded": "LPR + 加点(年%)",
    "rate": "执行利率，按产品利率上下限约束并保留4位小数(年%)",
}


@dataclass(frozen=True)
class RateResult:
    rate: Decimal
    steps: list[tuple[str, Decimal]] = field(default_factory=list)
    problem: tuple[str, str] | None = None


def _micro(number) -> int:
    return int(Decimal(number).scaleb(6).to_integral_value())


def _percent(micro: int) -> Decimal:
    return Decimal(micro).scaleb(-6)


def _half_up(micro: int) -> int:
    """Millionths → ten-thousandths of a percent, half away from zero."""
    magnitude = (abs(micro) + _TO_RESULT // 2) // _TO_RESULT
    return magnitude if micro >= 0 else -magnitude


def rate_from_units(units: int) -> Decimal:
    """A column path rate (int64, ten-thousandths of a percent) as the row path's ``Decimal``."""
    return Decimal(int(units)).scaleb(-RATE_PLACES)


def _grade_spreads(params: PricingParameters, terms) -> dict[str, int]:
    spreads = {g: _micro(v) for g, v in (terms.spread_by_grade or {}).items()}
    spreads.update({g: _micro(v) for g, v in params.spreads_by_grade.items()})
    return spreads


def _problem(code: str, steps) -> RateResult:
    return RateResult(
        rate=Decimal("0").scaleb(-RATE_PLACES),
        steps=steps,
        problem=RATE_PROBLEMS[_PROBLEM_INDEX[code]],
    )


def _is_missing(lpr) -> bool:
    return lpr is None or (isinstance(lpr, Decimal) and not lpr.is_finite()) or lpr != lpr


def rate_for_row(
    version, *, grade: str | None, colour: str | None, lpr: Decimal | None, terms
) -> RateResult:
    """The rate of one application (``version``: a ``PricingModelVersion`` or
    ``PricingParameters``; ``terms``: the product's ``ProductTerms``; ``lpr``: the base rate in
    force on the decision date, ``None`` when none is published). Never raises on bad values."""
    params: PricingParameters = version.parameters()
    steps: list[tuple[str, Decimal]] = []
    spreads = _grade_spreads(params, terms)
    if not isinstance(grade, str) or grade not in spreads:
        return _problem(RATE_GRADE_UNKNOWN, steps)
    if colour is not None and colour not in COLOURS:
        return _problem(RATE_INPUT_INVALID, steps)
    if _is_missing(lpr):
        return _problem(RATE_LPR_MISSING, steps)
    base = _micro(lpr)
    adjustment = _micro(
        params.no_review_adjustment if colour is None else params.colour_adjustments[colour]
    )
    spread = min(
        max(spreads[grade] + adjustment, _micro(terms.spread_min)), _micro(terms.spread_max)
    )
    unbounded = base + spread
    rate = min(max(unbounded, _micro(terms.rate_floor)), _micro(terms.rate_cap))
    result = rate_from_units(_half_up(rate))
    steps += [
        ("lpr", _percent(base)),
        ("grade_spread", _percent(spreads[grade])),
        ("colour_adjustment", _percent(adjustment)),
        ("spread", _percent(spread)),
        ("rate_unbounded", _percent(unbounded)),
        ("rate", result),
    ]
    return RateResult(rate=result, steps=steps)


def rates_for_columns(
    version, columns: Mapping[str, np.ndarray], terms, *, lpr: Decimal | None
) -> tuple[np.ndarray, np.ndarray]:
    """The rates of a column of households on one decision date: ``(rates, problems)``.

    ``columns`` holds ``grade`` (str or None) and ``peer_colour_rank`` (NaN = not reviewed).
    ``rates`` are int64 ten-thousandths of a percent (``rate_from_units``; 0 where a problem was
    found), ``problems`` uint8 indexes into ``RATE_PROBLEMS``. Identical to ``rate_for_row``.
    """
    params: PricingParameters = version.parameters()
    grade = np.asarray(columns["grade"], dtype=object)
    n = len(grade)
    spread = np.zeros(n, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    for code, value in _grade_spreads(params, terms).items():
        rows = grade == code
        spread[rows] = value
        known |= rows
    rank = np.asarray(columns["peer_colour_rank"], dtype=np.float64)
    reviewed = ~np.isnan(rank)
    rank_index = np.where(reviewed, rank, -1.0)
    colour_known = np.isin(rank_index, np.arange(len(COLOURS), dtype=np.float64))

    problems = np.zeros(n, dtype=np.uint8)

    def flag(rows, code: str) -> None:
        problems[rows & (problems == 0)] = _PROBLEM_INDEX[code]

    flag(~known, RATE_GRADE_UNKNOWN)
    flag(reviewed & ~colour_known, RATE_INPUT_INVALID)
    if _is_missing(lpr):
        flag(np.ones(n, dtype=bool), RATE_LPR_MISSING)
        return np.zeros(n, dtype=np.int64), problems

    adjustments = np.full(len(COLOURS) + 1, _micro(params.no_review_adjustment), np.int64)
    for index, colour in enumerate(COLOURS):
        adjustments[index] = _micro(params.colour_adjustments[colour])
    adjustment = adjustments[np.where(colour_known, rank_index, -1).astype(np.int64)]
    spread = np.clip(spread + adjustment, _micro(terms.spread_min), _micro(terms.spread_max))
    rate = np.clip(_micro(lpr) + spread, _micro(terms.rate_floor), _micro(terms.rate_cap))
    magnitude = (np.abs(rate) + _TO_RESULT // 2) // _TO_RESULT
    units = np.where(rate >= 0, magnitude, -magnitude)
    return np.where(problems == 0, units, 0).astype(np.int64), problems


def rate_problem(index: int) -> tuple[str, str] | None:
    return RATE_PROBLEMS[int(index)]
