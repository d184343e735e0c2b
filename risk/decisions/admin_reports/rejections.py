"""拒绝原因统计 in the admin: an entry under 风险决策 in the admin index (a proxy model: the index
lists models) leading to a page of the rejections by source and reason
(``risk.decisions.statistics``), its filters in the query string so the xlsx link exports what
is shown, a chart of the sources, and the same table as xlsx."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from common.clock import business_today
from common.spreadsheets import spreadsheet_row
from org.admin_mixins import add_service_errors
from org.models import Institution
from org.tenancy import scope_for
from products.models import Product
from risk.decisions.admin_reports.display import rejection_chart_svg, xlsx_response
from risk.decisions.models import DecisionKind
from risk.decisions.report_models import RejectionStatistics
from risk.decisions.statistics import (
    DEFAULT_KINDS,
    DIMENSIONS,
    RejectionTable,
    rejection_statistics,
)

KIND_CHOICES = [
    ("lines", "申请与整村授信批量(不含试算)"),
    ("application", "仅申请决策"),
    ("campaign", "仅整村授信批量"),
    ("all", "全部(含试算)"),
]
KINDS = {
    "lines": DEFAULT_KINDS,
    "application": (DecisionKind.APPLICATION,),
    "campaign": (DecisionKind.CAMPAIGN,),
    "all": tuple(DecisionKind.values),
}


def months_back(today, months: int):
    """The first day of the month ``months`` before ``today``'s."""
    index = today.year * 12 + today.month - 1 - months
    return today.replace(year=index // 12, month=index % 12 + 1, day=1)


class StatisticsForm(forms.Form):
    period_from = forms.DateField(label="决策日期自")
    period_to = forms.DateField(label="决策日期至")
    bank = forms.ModelChoiceField(
        label="法人行社",
        queryset=Institution.objects.none(),
        required=False,
        empty_label="全省",
    )
    product = forms.ModelChoiceField(
        label="产品", queryset=Product.objects.none(), required=False, empty_label="全部产品"
    )
    kind = forms.ChoiceField(label="决策类型", choices=KIND_CHOICES, initial="lines")
    dimension = forms.ChoiceField(
        label="按列分组",
        choices=[("", "不分组"), *DIMENSIONS.items()],
        required=False,
    )
    by_reason = forms.BooleanField(label="按原因细分", required=False)

    def __init__(self, data=None, *, user):
        # Opened without filters, or with some: the last twelve months of both decision kinds
        # that grant credit fill in whatever is not given.
        today = business_today()
        defaults = {"period_from": months_back(today, 11), "period_to": today, "kind": "lines"}
        given = {key: value for key, value in (data or {}).items() if value not in ("", None)}
        data = {**defaults, **given}
        super().__init__(data)
        scope = scope_for(user)
        self.fields["product"].queryset = Product.objects.visible_to(user).order_by("code")
        if scope.all_banks:
            self.fields["bank"].queryset = Institution.objects.banks().order_by("code")
        else:
            del self.fields["bank"]


@admin.register(RejectionStatistics)
class RejectionStatisticsAdmin(admin.ModelAdmin):
    """Only the statistics page: the proxy has no list or objects of its own."""

    def has_view_permission(self, request, obj=None):
        scope = scope_for(request.user)
        return (
            request.user.has_perm("risk.view_decision")
            and not scope.sees_nothing
            and not scope.village_restricted
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.changelist_view), name="risk_rejectionstatistics_changelist"),
            path("table/", view(self.statistics_view), name="risk_rejection_statistics"),
            path("table.xlsx", view(self.statistics_xlsx_view), name="risk_rejection_xlsx"),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:risk_rejection_statistics"))

    def _table(self, request) -> tuple[StatisticsForm, RejectionTable | None]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = StatisticsForm(request.GET or None, user=request.user)
        if not form.is_valid():
            return form, None
        data = form.cleaned_data
        try:
            table = rejection_statistics(
                user=request.user,
                period_from=data["period_from"],
                period_to=data["period_to"],
                bank=data.get("bank"),
                product=data.get("product"),
                kinds=KINDS[data["kind"]],
                dimension=data.get("dimension") or None,
                by_reason=data.get("by_reason", False),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return form, None
        return form, table

    def statistics_view(self, request):
        form, table = self._table(request)
        query = request.GET.urlencode()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "拒绝原因统计",
            "form": form,
            "table": table,
            "chart": rejection_chart_svg(table) if table is not None else "",
            "xlsx_url": reverse("admin:risk_rejection_xlsx") + (f"?{query}" if query else ""),
        }
        return TemplateResponse(request, "admin/risk/decisions/reports/rejections.html", context)

    def statistics_xlsx_view(self, request):
        form, table = self._table(request)
        if table is None:
            messages.error(request, "筛选条件有误，请修改后再导出")
            return HttpResponseRedirect(reverse("admin:risk_rejection_statistics"))
        return xlsx_response(rejection_workbook(form.cleaned_data, table), "rejections")


def rejection_workbook(filters: dict, table: RejectionTable):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("拒绝原因统计")
    kind = dict(KIND_CHOICES)[filters["kind"]]
    product = filters.get("product")
    for fact in (
        ("范围", table.scope),
        ("决策日期", f"{filters['period_from']:%Y-%m-%d} 至 {filters['period_to']:%Y-%m-%d}"),
        ("产品", product.name if product else "全部产品"),
        ("决策类型", kind),
        ("拒绝笔数", table.total),
    ):
        sheet.append(spreadsheet_row(fact))
    sheet.append([])
    many = len(table.columns) > 1
    header = ["拒绝来源", "原因", *(table.columns if many else ()), "笔数", "占比"]
    sheet.append(spreadsheet_row(header))
    for row in table.rows:
        sheet.append(
            spreadsheet_row(
                [
                    row.label if not row.is_reason else "",
                    row.label if row.is_reason else "",
                    *(row.counts if many else ()),
                    row.total,
                    round(row.share, 6),
                ]
            )
        )
    sheet.append(
        spreadsheet_row(
            [
                "合计",
                "",
                *(table.column_totals if many else ()),
                table.total,
                1 if table.total else 0,
            ]
        )
    )
    return workbook
