"""What the scorecard admin shows beyond fields: the points table, the PSI chart, the
champion/challenger comparison and the xlsx export. Reads only; writes go through services."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from common.spreadsheets import spreadsheet_row
from org.tenancy import scope_queryset
from risk.models import HouseholdScore, MonitoringRun, Scorecard, ScorecardBin
from risk.scoring import feature_label

PSI_RUNS = 30
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 200, 30
BAND_COLOURS = {
    MonitoringRun.Band.STABLE: "#3a9d5d",
    MonitoringRun.Band.WATCH: "#e0a100",
    MonitoringRun.Band.ACT: "#c93c37",
}


def points_table_html(scorecard: Scorecard) -> str:
    bins = list(scorecard.bins.order_by("feature", "bin_index"))
    features: dict[str, list[ScorecardBin]] = {}
    for row in bins:
        features.setdefault(row.feature, []).append(row)
    iv = scorecard.feature_iv or {}
    groups = []
    for name in sorted(features, key=lambda n: -float(iv.get(n, 0) or 0)):
        rows = features[name]
        best = max(float(r.points) for r in rows)
        groups.append(
            {
                "feature": name,
                "label": feature_label(name),
                "iv": iv.get(name),
                "rows": [
                    {
                        "bin": r,
                        "rate_width": round(min(r.event_rate, 0.5) * 200),
                        "is_best": float(r.points) == best,
                    }
                    for r in rows
                ],
            }
        )
    return render_to_string("admin/risk/scorecard/points_table.html", {"groups": groups})


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str
    title: str


def psi_chart_html(scorecard: Scorecard) -> str:
    """An inline SVG bar chart of the score PSI per monitoring run, with the band lines, and the
    latest run's feature PSI as horizontal bars. No JavaScript, no CDN."""
    runs = list(
        MonitoringRun.objects.filter(scorecard=scorecard).order_by("-computed_at")[:PSI_RUNS]
    )[::-1]
    if not runs:
        return render_to_string("admin/risk/scorecard/psi_chart.html", {"runs": []})
    top = max(0.3, max(r.score_psi for r in runs) * 1.1)
    inner_w = CHART_WIDTH - 2 * CHART_PAD
    inner_h = CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / len(runs)

    def y_of(value: float) -> float:
        return round(CHART_PAD + inner_h * (1 - min(value, top) / top), 1)

    bars = []
    every = max(1, len(runs) // 8)
    for i, run in enumerate(runs):
        y = y_of(run.score_psi)
        bars.append(
            Bar(
                x=round(CHART_PAD + i * step + step * 0.15, 1),
                y=y,
                width=round(step * 0.7, 1),
                height=round(CHART_PAD + inner_h - y, 1),
                colour=BAND_COLOURS.get(run.band, "#777"),
                # The axis in Beijing time, as every date staff read (stored in UTC).
                label=f"{timezone.localtime(run.computed_at):%m-%d}" if i % every == 0 else "",
                title=f"{timezone.localtime(run.computed_at):%Y-%m-%d %H:%M} "
                f"PSI {run.score_psi:.3f} "
                f"({run.get_band_display()}, n={run.sample_size})",
            )
        )
    latest = runs[-1]
    feature_rows = sorted((latest.feature_psi or {}).items(), key=lambda kv: -kv[1])[:12]
    feature_top = max([0.3, *(v for _, v in feature_rows)])
    context = {
        "runs": runs,
        "latest": latest,
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "pad": CHART_PAD,
        "axis_y": CHART_PAD + inner_h,
        "line_watch": y_of(0.10),
        "line_act": y_of(0.25),
        "top": round(top, 2),
        "features": [
            {
                "label": feature_label(name),
                "psi": value,
                "width": round(300 * min(value, feature_top) / feature_top),
                "colour": BAND_COLOURS[
                    MonitoringRun.Band.STABLE
                    if value < 0.10
                    else MonitoringRun.Band.WATCH
                    if value <= 0.25
                    else MonitoringRun.Band.ACT
                ],
            }
            for name, value in feature_rows
        ],
    }
    return render_to_string("admin/risk/scorecard/psi_chart.html", context)


def comparison(scorecard: Scorecard, user, *, limit: int = 100) -> dict:
    """Champion and challenger scores of the same households at the same scoring moment.

    For a challenger: its shadow scores against the champion scores written beside them; for a
    champion: every challenger's shadow scores against its own.
    """
    champion_side = HouseholdScore.objects.filter(
        household_id=OuterRef("household_id"),
        scored_at=OuterRef("scored_at"),
        role=HouseholdScore.Role.CHAMPION,
    ).order_by("pk")
    pairs = (
        scope_queryset(HouseholdScore.objects.filter(role=HouseholdScore.Role.CHALLENGER), user)
        .annotate(
            champion_score=Subquery(champion_side.values("score")[:1]),
            champion_grade=Subquery(champion_side.values("grade")[:1]),
            champion_card=Subquery(champion_side.values("scorecard_id")[:1]),
        )
        .filter(champion_score__isnull=False)
    )
    if scorecard.status == Scorecard.Status.CHAMPION:
        pairs = pairs.filter(champion_card=scorecard.pk)
    else:
        pairs = pairs.filter(scorecard=scorecard)
    summary = pairs.aggregate(
        total=Count("pk"), agree=Count("pk", filter=Q(grade=F("champion_grade")))
    )
    crosstab_rows = pairs.values("champion_grade", "grade").annotate(n=Count("pk"))
    grades = sorted(
        {r["champion_grade"] for r in crosstab_rows} | {r["grade"] for r in crosstab_rows},
        key=_grade_order(scorecard),
    )
    cells = {(r["champion_grade"], r["grade"]): r["n"] for r in crosstab_rows}
    latest = list(
        pairs.select_related("household", "scorecard").order_by("-scored_at", "pk")[:limit]
    )
    total = summary["total"] or 0
    return {
        "total": total,
        "agreement": round(100 * summary["agree"] / total, 1) if total else None,
        "grades": grades,
        "crosstab": [[g, [cells.get((g, c), 0) for c in grades]] for g in grades],
        "pairs": [
            {
                "score": p,
                "difference": p.score - p.champion_score,
                "agree": p.grade == p.champion_grade,
            }
            for p in latest
        ],
    }


def _grade_order(scorecard: Scorecard):
    order = {str(grade): i for i, (grade, _) in enumerate(scorecard.grade_cutoffs or [])}
    return lambda grade: (order.get(grade, len(order)), grade)


POINTS_COLUMNS = [
    ("feature", "特征"),
    ("label", "特征名称"),
    ("bin_index", "分箱序号"),
    ("kind", "类型"),
    ("bin", "分箱"),
    ("lower", "下限(含)"),
    ("upper", "上限(不含)"),
    ("categories", "类别取值"),
    ("count", "样本数"),
    ("event_rate", "坏账率"),
    ("woe", "WOE"),
    ("points", "分值"),
]


def points_workbook(scorecards: list[Scorecard]) -> bytes:
    """One sheet per scorecard: the model's facts on top, then its points table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    bins = ScorecardBin.objects.filter(scorecard__in=scorecards).order_by(
        "scorecard_id", "feature", "bin_index"
    )
    by_card: dict[int, list[ScorecardBin]] = {}
    for row in bins:
        by_card.setdefault(row.scorecard_id, []).append(row)
    for scorecard in scorecards:
        sheet = workbook.create_sheet(f"{scorecard.segment.code}-v{scorecard.version}"[:31])
        test = (scorecard.metrics or {}).get("test", {})
        facts = [
            ("评分卡", str(scorecard)),
            ("客群", scorecard.segment.name),
            ("归属", scorecard.bank.name if scorecard.bank_id else "省联社"),
            ("状态", scorecard.get_status_display()),
            (
                "基准分 / 基准好坏比 / PDO",
                f"{scorecard.base_score} / {scorecard.base_odds} / {scorecard.pdo}",
            ),
            (
                "测试集 AUC / KS / Gini",
                f"{test.get('auc')} / {test.get('ks')} / {test.get('gini')}",
            ),
            ("评级分数线", "；".join(f"{g} ≥ {c}" for g, c in scorecard.grade_cutoffs or [])),
        ]
        for key, value in facts:
            sheet.append(spreadsheet_row([key, value]))
        sheet.append([])
        sheet.append(spreadsheet_row(title for _, title in POINTS_COLUMNS))
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for row in by_card.get(scorecard.pk, []):
            sheet.append(
                spreadsheet_row(
                    [
                        row.feature,
                        feature_label(row.feature),
                        row.bin_index,
                        row.get_kind_display(),
                        row.label,
                        row.lower,
                        row.upper,
                        ", ".join(map(str, row.categories)) if row.categories else None,
                        row.count,
                        round(row.event_rate, 6),
                        round(row.woe, 6),
                        float(row.points),
                    ]
                )
            )
        sheet.column_dimensions["A"].width = 24
        sheet.column_dimensions["B"].width = 26
        sheet.column_dimensions["E"].width = 22
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
