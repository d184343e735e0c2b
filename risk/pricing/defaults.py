"""The federation's default limit and pricing models, seeded active by migration
``0008_limit_and_pricing_models`` (and ``services.pricing_defaults_ensure``).

Why these numbers (each is data: a bank or the federation changes them through a new version):

- **Income multiples** AAA 3.0, AA 2.5, A 2.0, B 1.0, C 0: a top-rated household may owe up to three
  years of net income, the usual ceiling of farm credit lines; C gets no line.
- **Net-asset shares** AAA 0.5, AA 0.4, A 0.3, B 0.2, C 0: the line never passes half of what
  the household owns net of debts, so income alone cannot justify a line to a household in debt.
- **Peer-review multipliers** white × 1.2, green × 1.0, grey × 0.5, black × 0 (no line); not
  reviewed × 1.0: the acquaintance half of "熟人 + 大数据" moves the line, it does not replace the
  scorecard. The peer-suggested amount caps the line.
- No debt-ratio ceiling in the limit model: the admission rules hold it (负债率上限 rule).
- **Spreads over the product's LPR** AAA +0.30, AA +0.60, A +1.00, B +1.50, C +2.00 percentage
  points; white −0.10, grey +0.20, green and black 0, not reviewed 0. The product's spread range,
  floor and cap still hold.
"""

from __future__ import annotations

import datetime

# Before any decision the platform will make or replay, so the default is in force on any date.
DEFAULTS_EFFECTIVE_FROM = datetime.date(2020, 1, 1)

LIMIT_MODEL = {
    "code": "FED-LIMIT-DEFAULT",
    "name": "省联社默认额度模型",
    "description": "收入法与净资产法取小，按产品金额区间约束、千元向下取整，再按背靠背评议结论与建议额度调整。",
}
LIMIT_PARAMETERS = {
    "income_multiples": {"AAA": "3.0", "AA": "2.5", "A": "2.0", "B": "1.0", "C": "0"},
    "asset_shares": {"AAA": "0.5", "AA": "0.4", "A": "0.3", "B": "0.2", "C": "0"},
    "colour_multipliers": {"black": "0", "grey": "0.5", "green": "1.0", "white": "1.2"},
    "no_review_multiplier": "1.0",
    "cap_at_suggested_amount": True,
    "max_debt_ratio": None,
}
PRICING_MODEL = {
    "code": "FED-PRICING-DEFAULT",
    "name": "省联社默认定价模型",
    "description": "LPR + 按评级加点 + 背靠背评议结论调整，约束在产品的加点区间与利率上下限内。",
}
PRICING_PARAMETERS = {
    "spreads_by_grade": {"AAA": "0.30", "AA": "0.60", "A": "1.00", "B": "1.50", "C": "2.00"},
    "colour_adjustments": {"black": "0", "grey": "0.20", "green": "0", "white": "-0.10"},
    "no_review_adjustment": "0",
}
