"""What the report pages share: number formats, the xlsx response, and the charts — inline SVG
drawn here, as the index page's (``config/dashboard.py``): no script, no CDN, a bank intranet
without internet shows them."""

from __future__ import annotations

import io

from django.http import HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from risk.decisions.statistics import RejectionTable

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(workbook, filename: str) -> HttpResponse:
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def percent(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.2f}%"


def plain(value, suffix: str = "") -> str:
    return "—" if value is None else f"{value}{suffix}"


# --- charts (inline SVG) ------------------------------------------------------------------------

LABEL_WIDTH, BAR_WIDTH, ROW_HEIGHT = 120, 300, 22
LIGHT, DARK = "#9ec3d8", "#205067"


def _bar(share: float) -> float:
    return round(BAR_WIDTH * max(0.0, min(1.0, share)), 1)


def backtest_chart_svg(summary: dict) -> SafeString:
    """Per rate (approval, referral, rejection): the stored decisions' bar and the candidate's."""
    baseline, candidate = summary.get("baseline", {}), summary.get("candidate", {})
    metrics = (
        ("approval_rate", "通过率"),
        ("referral_rate", "转人工率"),
        ("rejection_rate", "拒绝率"),
    )
    rows = format_html_join(
        "",
        '<g transform="translate(0,{})"><text x="0" y="14" font-size="12">{}</text>'
        '<rect class="baseline-bar" x="{}" y="2" width="{}" height="9" fill="{}">'
        "<title>原决策 {}</title></rect>"
        '<rect class="candidate-bar" x="{}" y="12" width="{}" height="9" fill="{}">'
        "<title>候选版本 {}</title></rect>"
        '<text x="{}" y="10" font-size="10">{}</text><text x="{}" y="20" font-size="10">{}</text>'
        "</g>",
        (
            (
                i * (ROW_HEIGHT + 8),
                label,
                LABEL_WIDTH,
                _bar(baseline.get(key) or 0),
                LIGHT,
                percent(baseline.get(key)),
                LABEL_WIDTH,
                _bar(candidate.get(key) or 0),
                DARK,
                percent(candidate.get(key)),
                LABEL_WIDTH + BAR_WIDTH + 6,
                percent(baseline.get(key)),
                LABEL_WIDTH + BAR_WIDTH + 6,
                percent(candidate.get(key)),
            )
            for i, (key, label) in enumerate(metrics)
        ),
    )
    height = len(metrics) * (ROW_HEIGHT + 8) + 20
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" width="{}" height="{}" '
        'role="img" aria-label="原决策与候选版本的通过率、转人工率、拒绝率">{}'
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="{}" font-size="11">原决策</text>'
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="{}" font-size="11">候选版本</text></svg>',
        LABEL_WIDTH + BAR_WIDTH + 80,
        height,
        rows,
        LABEL_WIDTH,
        height - 14,
        LIGHT,
        LABEL_WIDTH + 14,
        height - 5,
        LABEL_WIDTH + 80,
        height - 14,
        DARK,
        LABEL_WIDTH + 94,
        height - 5,
    )


def rejection_chart_svg(table: RejectionTable) -> SafeString:
    """One bar per source: its rejections as a share of all."""
    sources = [row for row in table.rows if not row.is_reason]
    if not table.total:
        return SafeString("")
    rows = format_html_join(
        "",
        '<g transform="translate(0,{})"><text x="0" y="14" font-size="12">{}</text>'
        '<rect x="{}" y="3" width="{}" height="14" fill="#eef2f5"/>'
        '<rect class="source-bar" x="{}" y="3" width="{}" height="14" fill="{}">'
        "<title>{} {} 笔，{}</title></rect>"
        '<text x="{}" y="14" font-size="12">{} 笔（{}）</text></g>',
        (
            (
                ROW_HEIGHT * i,
                row.label,
                LABEL_WIDTH,
                BAR_WIDTH,
                LABEL_WIDTH,
                _bar(row.share),
                DARK,
                row.label,
                row.total,
                percent(row.share),
                LABEL_WIDTH + BAR_WIDTH + 6,
                row.total,
                percent(row.share),
            )
            for i, row in enumerate(sources)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" width="{}" height="{}" '
        'role="img" aria-label="拒绝原因来源分布">{}</svg>',
        LABEL_WIDTH + BAR_WIDTH + 130,
        ROW_HEIGHT * len(sources) + 6,
        rows,
    )
