"""Rejection statistics (拒绝原因统计): rejected decisions counted by the source and the reason
that decided them, as the Linfen table counts them (征信, 法院限高, 失信被执行人, 外部反欺诈,
互联网借贷, then the platform's own sources), optionally across banks, branches, products or
months of the decision date.

A decision's ``reason_source`` and ``primary_reason`` are those of the reason that fixed its
outcome (the first REJECT reason in flow order), so each rejection is counted once. The counts
come from one ``GROUP BY`` over the decisions of the period, led by the (bank, decision date)
index: every bank the user may see is named in the condition, so the federation's province-wide
table reads that index too instead of the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from org.models import Institution
from org.tenancy import scope_for
from products.models import Product
from risk.decisions.engine import REASON_SOURCES
from risk.decisions.models import Decision, DecisionKind
from risk.decisions.reasons import reason_text
from risk.rules.models import RuleVersion

LINFEN_SOURCES = ("credit_report", "court", "dishonest", "antifraud", "borrowing")
SOURCE_ORDER = (*LINFEN_SOURCES, *(s for s in REASON_SOURCES if s not in LINFEN_SOURCES))
DEFAULT_KINDS = (DecisionKind.APPLICATION, DecisionKind.CAMPAIGN)  # what-ifs grant nothing
DIMENSIONS = {"bank": "法人行社", "branch": "支行", "product": "产品", "month": "月份"}
_DIMENSION_SQL = {
    None: "0",
    "bank": "bank_id",
    "branch": "coalesce(branch_id, 0)",
    "product": "product_id",
    "month": "date_trunc('month', decision_date)::date",
}
UNKNOWN_REASON = "其他原因"


def reason_texts_for(codes: Iterable[str], rule_texts: dict[str, str] | None = None) -> dict:
    """中文 of each reason code: a rule's from its latest version (a decision stores the code,
    the text lives on the rule), the engine's, providers' and formulas' from their catalogues."""
    codes = sorted({c for c in codes if c})
    known = dict(rule_texts or {})
    wanted = [c for c in codes if c not in known]
    if wanted:
        known.update(
            RuleVersion.objects.filter(reason_code__in=wanted)
            .order_by("reason_code", "-id")
            .distinct("reason_code")
            .values_list("reason_code", "reason_text")
        )
    texts = {}
    for code in codes:
        text = reason_text(code, known)
        texts[code] = UNKNOWN_REASON if text == code else text
    return texts


def source_name(source: str) -> str:
    return REASON_SOURCES.get(source) or "未注明来源"


@dataclass(frozen=True)
class RejectionRow:
    source: str
    label: str  # the source's name, or the reason's text on a reason row
    reason: str  # "" on a source's own row
    counts: tuple[int, ...]  # per column of the table
    total: int
    share: float  # of every rejection in the table

    @property
    def is_reason(self) -> bool:
        return bool(self.reason)

    @property
    def percent(self) -> str:
        return f"{self.share * 100:.2f}%"


@dataclass(frozen=True)
class RejectionTable:
    dimension: str | None
    columns: tuple[str, ...]  # labels of the dimension's values (one "合计" column without)
    rows: tuple[RejectionRow, ...]  # sources in the Linfen order, each followed by its reasons
    column_totals: tuple[int, ...]
    total: int
    scope: str  # whose decisions: a bank's name, or 全省


def _bank_ids(user, bank: Institution | None) -> list[int]:
    scope = scope_for(user)
    if scope.sees_nothing:
        return []
    if scope.village_restricted:
        raise PermissionDenied("拒绝原因统计按行社汇总，请由行社管理或风险岗位查看")
    if scope.all_banks:
        if bank is not None:
            return [bank.pk]
        return list(Institution.objects.banks().order_by("pk").values_list("pk", flat=True))
    if bank is not None and bank.pk != scope.bank_id:
        raise ValidationError({"bank": "法人行社不存在"})
    return [scope.bank_id]


def rejection_statistics(
    *,
    user,
    period_from: date,
    period_to: date,
    bank: Institution | None = None,
    product: Product | None = None,
    kinds: Sequence[int] = DEFAULT_KINDS,
    dimension: str | None = None,
    by_reason: bool = False,
) -> RejectionTable:
    """The rejections of the decisions ``user`` may see, decided from ``period_from`` to
    ``period_to`` (inclusive), per source (and per reason with ``by_reason``), in columns of
    ``dimension`` (bank, branch, product or month) when given."""
    if period_from > period_to:
        raise ValidationError({"period_to": "结束日期不能早于开始日期"})
    if dimension not in _DIMENSION_SQL:
        raise ValidationError({"dimension": "未知的分组方式"})
    if not kinds:
        raise ValidationError({"kinds": "请至少选择一种决策类型"})
    bank_ids = _bank_ids(user, bank)
    found: list[tuple] = []
    if bank_ids:
        product_sql = " AND product_id = %(product)s" if product is not None else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT {_DIMENSION_SQL[dimension]} AS value, reason_source, primary_reason,
                       count(*)
                FROM {Decision._meta.db_table}
                WHERE bank_id = ANY(%(banks)s) AND decision_date >= %(start)s
                  AND decision_date <= %(end)s AND outcome = 'reject'
                  AND kind = ANY(%(kinds)s){product_sql}
                GROUP BY 1, 2, 3
                """,
                {
                    "banks": bank_ids,
                    "start": period_from,
                    "end": period_to,
                    "kinds": [int(k) for k in kinds],
                    "product": product.pk if product is not None else None,
                },
            )
            found = cursor.fetchall()
    if len(bank_ids) == 1:
        scope = Institution.objects.filter(pk=bank_ids[0]).values_list("name", flat=True).first()
    else:
        scope = "全省"
    return _table(found, dimension, by_reason, scope or "")


def _column_labels(dimension: str | None, values: set) -> list[tuple[object, str]]:
    if dimension is None:
        return [(0, "合计")]
    if dimension == "month":
        return [(v, f"{v:%Y-%m}") for v in sorted(values)]
    if dimension == "product":
        names = dict(Product.objects.filter(pk__in=values).values_list("pk", "name"))
    else:
        names = dict(Institution.objects.filter(pk__in=values).values_list("pk", "name"))
    missing = "未分配支行" if dimension == "branch" else "未知"
    labelled = [(v, names.get(v, missing)) for v in values]
    return sorted(labelled, key=lambda item: (item[0] == 0, item[1]))


def _table(found, dimension, by_reason, scope: str) -> RejectionTable:
    columns = _column_labels(dimension, {row[0] for row in found})
    position = {value: i for i, (value, _) in enumerate(columns)}
    width = len(columns)
    by_source: dict[str, list[int]] = {}
    by_reason_counts: dict[tuple[str, str], list[int]] = {}
    for value, source, reason, count in found:
        by_source.setdefault(source, [0] * width)[position[value]] += count
        by_reason_counts.setdefault((source, reason), [0] * width)[position[value]] += count
    total = sum(sum(counts) for counts in by_source.values())
    texts = reason_texts_for(r for _, r in by_reason_counts) if by_reason else {}
    extra = sorted(s for s in by_source if s not in SOURCE_ORDER)
    rows: list[RejectionRow] = []
    for source in (*SOURCE_ORDER, *extra):
        counts = by_source.get(source, [0] * width)
        rows.append(_row(source, source_name(source), "", counts, total))
        if not by_reason:
            continue
        reasons = sorted(
            ((r, c) for (s, r), c in by_reason_counts.items() if s == source),
            key=lambda item: (-sum(item[1]), item[0]),
        )
        for reason, reason_counts in reasons:
            label = texts.get(reason, UNKNOWN_REASON) if reason else UNKNOWN_REASON
            rows.append(_row(source, label, reason or "-", reason_counts, total))
    column_totals = tuple(sum(by_source[s][i] for s in by_source) for i in range(width))
    return RejectionTable(
        dimension=dimension,
        columns=tuple(label for _, label in columns),
        rows=tuple(rows),
        column_totals=column_totals,
        total=total,
        scope=scope,
    )


def _row(source: str, label: str, reason: str, counts: list[int], total: int) -> RejectionRow:
    row_total = sum(counts)
    return RejectionRow(
        source=source,
        label=label,
        reason=reason,
        counts=tuple(counts),
        total=row_total,
        share=row_total / total if total else 0.0,
    )
