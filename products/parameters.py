"""Product parameters: the list of them, how a chain of versions resolves into effective terms,
and the consistency rules a set of terms must satisfy.

Kept apart from the models so the rules are plain functions over values: the same check runs
on a draft being edited, on a sub-product merged with its parent, and in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from products.models import (
    CREDIT_GRADES,
    ApprovalLevel,
    GuaranteeType,
    ProductVersion,
)
from products.schedule import AllocationOrder, RepaymentFrequency, RepaymentMethod

PARAMETERS: tuple[str, ...] = (
    "amount_min",
    "amount_max",
    "term_min_months",
    "term_max_months",
    "repayment_methods",
    "repayment_frequency",
    "interest_settlement",
    "base_rate",
    "spread_min",
    "spread_max",
    "spread_by_grade",
    "rate_floor",
    "rate_cap",
    "penalty_markup_pct",
    "compound_interest",
    "grace_days",
    "guarantee_type",
    "guarantors_min",
    "spouse_co_borrower_required",
    "required_documents",
    "age_min",
    "age_max",
    "line_validity_months",
    "approval_bands",
    "auto_approve_limit",
    "contract_template_code",
    "repayment_allocation",
    "overpayment_to_suspense",
)

# May legitimately stay empty on a root product; everything else is required to submit.
# Added after products were in use: a chain that never set them gets these, so versions
# approved before they existed keep resolving (and keep their meaning: the default is what
# every loan did before).
DEFAULT_WHEN_UNSET: dict[str, Any] = {
    "repayment_allocation": AllocationOrder.PENALTY_INTEREST_PRINCIPAL,
    "overpayment_to_suspense": False,
}
OPTIONAL_PARAMETERS = frozenset({"line_validity_months", *DEFAULT_WHEN_UNSET})

# A new root product starts from these so that "none" is explicit rather than missing.
ROOT_DEFAULTS: dict[str, Any] = {
    "spread_by_grade": {},
    "compound_interest": False,
    "grace_days": 0,
    "guarantee_type": GuaranteeType.NONE,
    "guarantors_min": 0,
    "spouse_co_borrower_required": False,
    "required_documents": ["id_card"],
    "auto_approve_limit": Decimal("0.00"),
    "penalty_markup_pct": Decimal("50"),
}

_DECIMAL_PARAMETERS = frozenset(
    {
        "amount_min",
        "amount_max",
        "spread_min",
        "spread_max",
        "rate_floor",
        "rate_cap",
        "penalty_markup_pct",
        "auto_approve_limit",
    }
)

MAX_TERM_MONTHS = 360
MIN_BORROWER_AGE = 18
MAX_BORROWER_AGE = 80


def parameter_label(name: str) -> str:
    return str(ProductVersion._meta.get_field(name).verbose_name)


@dataclass(frozen=True)
class ProductTerms:
    """The effective parameters of a product, resolved from a chain of versions.

    ``version_ids`` runs root → leaf; ``sources`` says which version supplied each parameter
    (a sub-product's own value or its parent's) so screens can show "inherited".
    """

    product_id: int
    version_id: int
    version_ids: tuple[int, ...]
    amount_min: Decimal
    amount_max: Decimal
    term_min_months: int
    term_max_months: int
    repayment_methods: tuple[str, ...]
    repayment_frequency: str
    interest_settlement: str
    base_rate: str
    spread_min: Decimal
    spread_max: Decimal
    spread_by_grade: Mapping[str, Decimal]
    rate_floor: Decimal
    rate_cap: Decimal
    penalty_markup_pct: Decimal
    compound_interest: bool
    grace_days: int
    guarantee_type: str
    guarantors_min: int
    spouse_co_borrower_required: bool
    required_documents: tuple[str, ...]
    age_min: int
    age_max: int
    line_validity_months: int | None
    approval_bands: tuple[Mapping[str, Any], ...]
    auto_approve_limit: Decimal
    contract_template_code: str
    repayment_allocation: str = AllocationOrder.PENALTY_INTEREST_PRINCIPAL
    overpayment_to_suspense: bool = False
    sources: Mapping[str, int] = field(default_factory=dict, compare=False)

    @property
    def chain_key(self) -> str:
        return ">".join(str(v) for v in self.version_ids)

    def parameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARAMETERS}

    def spread_for(self, grade: str | None) -> Decimal:
        """Spread for a rating grade; without a (known) grade the top of the range, so an
        unrated borrower is never priced better than a rated one."""
        if grade and grade in self.spread_by_grade:
            return self.spread_by_grade[grade]
        return self.spread_max

    def approval_levels_for(self, amount: Decimal) -> tuple[str, ...]:
        for band in self.approval_bands:
            if amount <= band["up_to"]:
                return tuple(band["levels"])
        return tuple(self.approval_bands[-1]["levels"]) if self.approval_bands else ()

    def to_snapshot(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> ProductTerms:
        values = dict(data)
        values["version_ids"] = tuple(values["version_ids"])
        values["sources"] = dict(values.get("sources") or {})
        return cls(**{**values, **_with_defaults(normalise(values, names=PARAMETERS))})


def _with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    return {
        **values,
        **{name: d for name, d in DEFAULT_WHEN_UNSET.items() if values.get(name) is None},
    }


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def normalise(values: Mapping[str, Any], *, names: Iterable[str] = PARAMETERS) -> dict[str, Any]:
    """Coerce stored or JSON values into the types ``ProductTerms`` carries."""
    out: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        if value is None:
            out[name] = None
        elif name in _DECIMAL_PARAMETERS:
            out[name] = Decimal(str(value))
        elif name in ("repayment_methods", "required_documents"):
            out[name] = tuple(value)
        elif name == "spread_by_grade":
            out[name] = {grade: Decimal(str(spread)) for grade, spread in value.items()}
        elif name == "approval_bands":
            out[name] = tuple(
                {"up_to": Decimal(str(band["up_to"])), "levels": tuple(band["levels"])}
                for band in value
            )
        else:
            out[name] = value
    return out


def version_values(version: ProductVersion) -> dict[str, Any]:
    return {name: getattr(version, name) for name in PARAMETERS}


def merge_chain(chain: list[ProductVersion]) -> tuple[dict[str, Any], dict[str, int]]:
    """Root → leaf: each version's set values override its ancestors', except parameters an
    ancestor locked, which keep the ancestor's value even if a sub-product stored one (the
    services refuse such overrides; this keeps a lock added later from being bypassed)."""
    merged: dict[str, Any] = dict.fromkeys(PARAMETERS)
    sources: dict[str, int] = {}
    locked: set[str] = set()
    for version in chain:
        for name, value in version_values(version).items():
            if value is None or (name in locked and name in sources):
                continue
            merged[name] = value
            sources[name] = version.pk
        locked.update(version.locked_parameters or ())
    return merged, sources


def terms_from_chain(chain: list[ProductVersion]) -> ProductTerms:
    merged, sources = merge_chain(chain)
    missing = [n for n in PARAMETERS if merged[n] is None and n not in OPTIONAL_PARAMETERS]
    if missing:
        raise ValidationError(
            {n: f"「{parameter_label(n)}」未设置(上级产品也未设置)" for n in missing}
        )
    leaf = chain[-1]
    return ProductTerms(
        product_id=leaf.product_id,
        version_id=leaf.pk,
        version_ids=tuple(v.pk for v in chain),
        sources=sources,
        **_with_defaults(normalise(merged)),
    )


# --- Consistency rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceLpr:
    """The LPR the spread range is checked against (the one in force on the effective date)."""

    on_date: date
    lpr_1y: Decimal
    lpr_5y_plus: Decimal

    def rate_for(self, base_rate: str) -> Decimal:
        return self.lpr_1y if base_rate == "lpr_1y" else self.lpr_5y_plus


def parameter_errors(
    values: Mapping[str, Any], *, complete: bool, lpr: ReferenceLpr | None = None
) -> dict[str, str]:
    """Field → message for every rule ``values`` break. ``complete`` also requires every
    non-optional parameter to be set (a root version before submission, or a merged chain).
    Rules that need two values are checked only when both are present."""
    v = normalise(values)
    errors: dict[str, str] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, message)

    if complete:
        for name in PARAMETERS:
            if v[name] is None and name not in OPTIONAL_PARAMETERS:
                fail(name, f"请设置「{parameter_label(name)}」")

    if v["amount_min"] is not None and v["amount_min"] <= 0:
        fail("amount_min", "金额下限必须大于0")
    if _both(v, "amount_min", "amount_max") and v["amount_min"] > v["amount_max"]:
        fail("amount_min", f"金额下限 {v['amount_min']} 元大于金额上限 {v['amount_max']} 元")

    for name in ("term_min_months", "term_max_months"):
        if v[name] is not None and not 1 <= v[name] <= MAX_TERM_MONTHS:
            fail(name, f"期限须在1至{MAX_TERM_MONTHS}个月之间")
    if _both(v, "term_min_months", "term_max_months") and (
        v["term_min_months"] > v["term_max_months"]
    ):
        fail(
            "term_min_months",
            f"期限下限 {v['term_min_months']} 个月大于期限上限 {v['term_max_months']} 个月",
        )

    methods = v["repayment_methods"]
    if methods is not None:
        if not methods:
            fail("repayment_methods", "至少选择一种还款方式")
        elif len(set(methods)) != len(methods):
            fail("repayment_methods", "还款方式有重复")
        if RepaymentMethod.REVOLVING in methods and not v["line_validity_months"]:
            fail("line_validity_months", "随借随还(循环)产品必须设置循环额度有效期")
        amortising = {RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL}
        if (
            v["repayment_frequency"] == RepaymentFrequency.QUARTERLY
            and amortising.intersection(methods)
            and v["term_min_months"] is not None
            and v["term_min_months"] % 3
        ):
            fail("term_min_months", "按季分期还款的期限须为3个月的整数倍")
    if v["line_validity_months"] is not None and not 1 <= v["line_validity_months"] <= 120:
        fail("line_validity_months", "循环额度有效期须在1至120个月之间")

    for name in ("spread_min", "spread_max"):
        if v[name] is not None and abs(v[name]) > 20:
            fail(name, "加点幅度须在±20个百分点以内")
    if _both(v, "spread_min", "spread_max") and v["spread_min"] > v["spread_max"]:
        fail("spread_min", f"加点下限 {v['spread_min']} 大于加点上限 {v['spread_max']}")
    grades = v["spread_by_grade"]
    if grades is not None:
        unknown = sorted(set(grades) - set(CREDIT_GRADES))
        if unknown:
            fail(
                "spread_by_grade",
                f"未知评级 {'、'.join(unknown)}，可用：{'、'.join(CREDIT_GRADES)}",
            )
        elif _both(v, "spread_min", "spread_max"):
            for grade, spread in grades.items():
                if not v["spread_min"] <= spread <= v["spread_max"]:
                    fail(
                        "spread_by_grade",
                        f"评级 {grade} 的加点 {spread} 不在加点区间"
                        f" [{v['spread_min']}, {v['spread_max']}] 内",
                    )
                    break

    for name in ("rate_floor", "rate_cap"):
        if v[name] is not None and not 0 < v[name] < 36:
            fail(name, "执行利率须大于0且低于36%(年)")
    if _both(v, "rate_floor", "rate_cap") and v["rate_floor"] > v["rate_cap"]:
        fail("rate_floor", f"利率下限 {v['rate_floor']}% 高于利率上限 {v['rate_cap']}%")
    if lpr is not None and v["base_rate"] and "rate_floor" not in errors:
        base = lpr.rate_for(v["base_rate"])
        label = f"按 {lpr.on_date} 的LPR {base}% 计算"
        if _both(v, "spread_min", "rate_floor") and base + v["spread_min"] < v["rate_floor"]:
            fail(
                "spread_min",
                f"{label}，加点下限对应利率 {base + v['spread_min']}% 低于利率下限"
                f" {v['rate_floor']}%",
            )
        if _both(v, "spread_max", "rate_cap") and base + v["spread_max"] > v["rate_cap"]:
            fail(
                "spread_max",
                f"{label}，加点上限对应利率 {base + v['spread_max']}% 高于利率上限"
                f" {v['rate_cap']}%",
            )

    if v["penalty_markup_pct"] is not None and not 0 <= v["penalty_markup_pct"] <= 100:
        fail("penalty_markup_pct", "罚息上浮比例须在0%至100%之间")
    if v["grace_days"] is not None and v["grace_days"] > 90:
        fail("grace_days", "宽限期不得超过90天")

    if v["guarantee_type"] is not None and v["guarantors_min"] is not None:
        if v["guarantee_type"] == GuaranteeType.GUARANTOR and v["guarantors_min"] < 1:
            fail("guarantors_min", "保证人担保的产品至少需要1名保证人")
        if v["guarantee_type"] != GuaranteeType.GUARANTOR and v["guarantors_min"] > 0:
            fail("guarantors_min", "非保证人担保的产品保证人人数应为0")

    for name in ("age_min", "age_max"):
        if v[name] is not None and not MIN_BORROWER_AGE <= v[name] <= MAX_BORROWER_AGE:
            fail(name, f"借款人年龄须在{MIN_BORROWER_AGE}至{MAX_BORROWER_AGE}周岁之间")
    if _both(v, "age_min", "age_max") and v["age_min"] > v["age_max"]:
        fail("age_min", f"年龄下限 {v['age_min']} 大于年龄上限 {v['age_max']}")

    if v["auto_approve_limit"] is not None:
        if v["auto_approve_limit"] < 0:
            fail("auto_approve_limit", "自动审批上限不能为负数")
        elif v["amount_max"] is not None and v["auto_approve_limit"] > v["amount_max"]:
            fail("auto_approve_limit", "自动审批上限不能超过产品金额上限")

    if v["approval_bands"] is not None:
        message = _approval_bands_error(v["approval_bands"], v["amount_max"])
        if message:
            fail("approval_bands", message)

    if v["contract_template_code"] is not None and not str(v["contract_template_code"]).strip():
        fail("contract_template_code", "请填写合同模板编号")
    return errors


def _both(values: Mapping[str, Any], a: str, b: str) -> bool:
    return values[a] is not None and values[b] is not None


def _approval_bands_error(bands, amount_max: Decimal | None) -> str | None:
    if not bands:
        return "至少设置一个审批金额档"
    previous = Decimal("0")
    for index, band in enumerate(bands, 1):
        if band["up_to"] <= previous:
            return f"第{index}档的金额上限须大于前一档且大于0"
        levels = band["levels"]
        if not levels:
            return f"第{index}档至少需要一个审批层级"
        order = list(ApprovalLevel.values)
        if any(level not in order for level in levels):
            return f"第{index}档含未知审批层级，可用：{'、'.join(order)}"
        if list(levels) != sorted(levels, key=order.index) or len(set(levels)) != len(levels):
            return f"第{index}档的审批层级须按 支行→集中审查→审批中心 顺序且不重复"
        previous = band["up_to"]
    if amount_max is not None and previous < amount_max:
        return f"最高一档 {previous} 元未覆盖产品金额上限 {amount_max} 元"
    return None


def clean_raw_parameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Type-check raw input (form, API, demo) against the model fields. Unknown names and values
    of the wrong type are reported per field; ``None`` means "not set / inherit"."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name in raw:
        if name not in PARAMETERS:
            errors[name] = "不是可配置的产品参数"
    for name, value in raw.items():
        if name not in PARAMETERS:
            continue
        if value is None or value == "":
            cleaned[name] = None
            continue
        try:
            cleaned[name] = _clean_one(name, value)
        except (ValidationError, InvalidOperation, TypeError, ValueError, KeyError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else ""
            errors[name] = f"「{parameter_label(name)}」格式不正确 {message}".strip()
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_one(name: str, value: Any) -> Any:
    if name == "spread_by_grade":
        if not isinstance(value, Mapping):
            raise TypeError(name)
        return {str(grade): str(Decimal(str(spread))) for grade, spread in value.items()}
    if name == "approval_bands":
        if not isinstance(value, (list, tuple)):
            raise TypeError(name)
        return [
            {"up_to": str(Decimal(str(band["up_to"]))), "levels": [str(x) for x in band["levels"]]}
            for band in value
        ]
    if name in ("repayment_methods", "required_documents") and isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float):
        raise TypeError("floats are not accepted for money or rates")
    model_field = ProductVersion._meta.get_field(name)
    return model_field.clean(value, None)


# --- How a parameter reads on screen ---------------------------------------------------------


def parameter_display(name: str, value: Any) -> str | None:
    """A stored parameter value as staff read it: choices by their Chinese label (single or
    list), grade spreads as "AAA +0.30", approval bands as "≤100,000元：支行审查→集中审查中心",
    locked parameters by their names, yes/no. ``None`` (inherited / not set) stays ``None``."""
    if value is None:
        return None
    if name == "locked_parameters":
        return "、".join(parameter_label(item) for item in value) or "（无）"
    if name == "spread_by_grade":
        if not value:
            return "（不按评级区分）"
        spreads = normalise({name: value}, names=[name])[name]
        ordered = sorted(
            spreads, key=lambda g: CREDIT_GRADES.index(g) if g in CREDIT_GRADES else 99
        )
        return "，".join(f"{grade} {spreads[grade]:+}" for grade in ordered) + "（百分点）"
    if name == "approval_bands":
        bands = normalise({name: value}, names=[name])[name]
        return (
            "；".join(
                f"≤{band['up_to']:,.0f}元："
                + "→".join(_choice_label(ApprovalLevel, level) for level in band["levels"])
                for band in bands
            )
            or "（无）"
        )
    field = ProductVersion._meta.get_field(name)
    base = getattr(field, "base_field", None)
    if base is not None and base.choices and isinstance(value, (list, tuple)):
        labels = dict(base.flatchoices)
        return "、".join(str(labels.get(item, item)) for item in value) or "（无）"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _choice_label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value
