"""The back office's index page: the numbers each role acts on, above the list of modules.

Lives in ``config`` (the composition root, outside the layer contract) because it reads every
layer: campaign coverage and imports from ``villages``, ratings and model monitoring from
``risk``. Each panel is a selector call scoped by ``for_user``-style tenancy, so a bank's
administrator sees their bank, the federation sees every bank, and an account manager sees
the villages they serve (and the imports they uploaded). Charts are inline SVG drawn here: no
JavaScript, no CDN, they work on a bank's intranet without internet.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from org.tenancy import scope_for
from risk.scoring import feature_label
from risk.selectors import (
    households_rated_by_week,
    households_rated_since,
    scorecards_needing_attention,
)
from villages.selectors import (
    VillageCoverage,
    households_archived_by_week,
    households_archived_since,
    imports_in_hand,
    village_coverage_for,
    week_start,
)

WEEKS = 8
BAND_COLOURS = {"stable": "#2e7d32", "watch": "#e0a100", "act": "#c93c37", "sparse": "#777777"}


@dataclass(frozen=True)
class Panels:
    role_title: str
    week_from: datetime.datetime
    archived_this_week: int
    rated_this_week: int
    coverage: list[VillageCoverage]
    coverage_chart: SafeString
    weekly_chart: SafeString
    imports: list
    models: list | None  # None: the role does not look after models


def index(request):
    """``/admin/``: Django's index with the dashboard's panels in its context."""
    return admin.site.index(request, extra_context={"panels": panels_for(request.user)})


def panels_for(user) -> Panels:
    scope = scope_for(user)
    since = week_start()
    coverage = village_coverage_for(user)
    archived_weeks = households_archived_by_week(user, weeks=WEEKS)
    rated_weeks = households_rated_by_week(user, weeks=WEEKS)
    looks_after_models = user.has_perm("risk.view_scorecard") and not scope.village_restricted
    if scope.all_banks:
        role_title = "全省(省联社)"
    elif scope.village_restricted:
        role_title = "我负责的行政村"
    else:
        role_title = "本行社"
    return Panels(
        role_title=role_title,
        week_from=since,
        archived_this_week=households_archived_since(user, since),
        rated_this_week=households_rated_since(user, since),
        coverage=coverage,
        coverage_chart=coverage_chart_svg(coverage),
        weekly_chart=weekly_chart_svg(since, archived_weeks, rated_weeks),
        imports=list(imports_in_hand(user)[:10]),
        models=[
            {
                "scorecard": item.scorecard,
                "run": item.run,
                "band": item.band,
                "band_label": item.band_label,
                "colour": BAND_COLOURS[item.band],
                "worst_feature": feature_label(item.worst_feature) if item.worst_feature else "",
                "worst_feature_psi": item.worst_feature_psi,
            }
            for item in scorecards_needing_attention(user)
        ]
        if looks_after_models
        else None,
    )


# --- Charts (inline SVG) -----------------------------------------------------------------------

ROW_HEIGHT, LABEL_WIDTH, BAR_WIDTH = 22, 110, 260


def coverage_chart_svg(coverage: list[VillageCoverage]) -> SafeString:
    """One row per village: a light bar for households archived, a dark one for coverage
    (授信覆盖率), both as a share of the village's households."""
    if not coverage:
        return SafeString("")
    height = ROW_HEIGHT * len(coverage) + 24
    width = LABEL_WIDTH + BAR_WIDTH + 70
    rows = format_html_join(
        "",
        '<g transform="translate(0,{})"><text x="0" y="14" font-size="12">{}</text>'
        '<rect x="{}" y="3" width="{}" height="14" fill="#eef2f5"/>'
        '<rect class="archived-bar" x="{}" y="3" width="{}" height="14" fill="#9ec3d8">'
        "<title>已建档 {}%</title></rect>"
        '<rect class="coverage-bar" x="{}" y="7" width="{}" height="6" fill="#205067">'
        "<title>授信覆盖率 {}%</title></rect>"
        '<text x="{}" y="14" font-size="12">{}%</text></g>',
        (
            (
                ROW_HEIGHT * i,
                item.name,
                LABEL_WIDTH,
                BAR_WIDTH,
                LABEL_WIDTH,
                _bar(item.progress.archived_percent),
                item.progress.archived_percent,
                LABEL_WIDTH,
                _bar(item.progress.coverage_percent),
                item.progress.coverage_percent,
                LABEL_WIDTH + BAR_WIDTH + 6,
                item.progress.coverage_percent,
            )
            for i, item in enumerate(coverage)
        ),
    )
    legend_y = height - 6
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="dashboard-chart" width="{}" height="{}" '
        'role="img" aria-label="各村授信覆盖率">{}'
        '<rect x="{}" y="{}" width="10" height="10" fill="#9ec3d8"/>'
        '<text x="{}" y="{}" font-size="11">已建档</text>'
        '<rect x="{}" y="{}" width="10" height="10" fill="#205067"/>'
        '<text x="{}" y="{}" font-size="11">授信覆盖率(已预授信户数÷户数)</text></svg>',
        width,
        height,
        rows,
        LABEL_WIDTH,
        legend_y - 9,
        LABEL_WIDTH + 14,
        legend_y,
        LABEL_WIDTH + 70,
        legend_y - 9,
        LABEL_WIDTH + 84,
        legend_y,
    )


def _bar(percent) -> float:
    return round(BAR_WIDTH * float(percent) / 100, 1)


def weekly_chart_svg(
    this_week: datetime.datetime,
    archived: dict[datetime.date, int],
    rated: dict[datetime.date, int],
) -> SafeString:
    """Households archived and rated per week (Monday to Sunday, Beijing time), last 8 weeks."""
    monday = timezone.localtime(this_week).date()
    weeks = [monday - datetime.timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]
    top = max([1, *archived.values(), *rated.values()])
    width, height, pad, step = 420, 170, 24, 48
    inner = height - 2 * pad

    def bar_height(count: int) -> float:
        return round(inner * count / top, 1)

    bars = format_html_join(
        "",
        '<rect class="week-archived" x="{}" y="{}" width="16" height="{}" fill="#9ec3d8">'
        "<title>{} 起一周 已建档 {} 户</title></rect>"
        '<rect class="week-rated" x="{}" y="{}" width="16" height="{}" fill="#205067">'
        "<title>{} 起一周 已评级 {} 户</title></rect>"
        '<text x="{}" y="{}" font-size="10" fill="#666">{}</text>',
        (
            (
                pad + i * step,
                pad + inner - bar_height(archived.get(week, 0)),
                bar_height(archived.get(week, 0)),
                f"{week:%m-%d}",
                archived.get(week, 0),
                pad + i * step + 17,
                pad + inner - bar_height(rated.get(week, 0)),
                bar_height(rated.get(week, 0)),
                f"{week:%m-%d}",
                rated.get(week, 0),
                pad + i * step,
                height - 6,
                f"{week:%m-%d}",
            )
            for i, week in enumerate(weeks)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="dashboard-chart" width="{}" height="{}" '
        'role="img" aria-label="每周建档与评级户数">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="0" y="{}" font-size="10" fill="#666">{}</text>{}</svg>',
        width,
        height,
        pad,
        pad + inner,
        width,
        pad + inner,
        pad,
        top,
        bars,
    )
