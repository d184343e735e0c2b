"""回测 in the admin: a changelist scoped like every page (a bank's staff see their bank's
back-tests, the federation all), an add form that asks ``backtest_create`` (the checks' refusals
beside their fields) and enqueues the run, and the report as the object's page: the stored
decisions and the candidate side by side, a bar chart, the outcome transitions, why decisions
change, and the changed decisions a page at a time (households by name, reasons in Chinese);
the whole report as xlsx."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from common.clock import business_today
from common.errors import describe_error
from common.spreadsheets import spreadsheet_row
from org.admin_mixins import TenantAdminMixin, add_service_errors
from org.models import Institution
from org.tenancy import scope_for
from products.models import Product
from risk.decisions.admin_reports.display import (
    backtest_chart_svg,
    percent,
    plain,
    xlsx_response,
)
from risk.decisions.backtest import backtest_check, backtest_create, why_text
from risk.decisions.models import Outcome, StrategyVersion
from risk.decisions.report_models import Backtest, BacktestChange

CHANGES_PER_PAGE = 50
OUTCOME_LABELS = dict(Outcome.choices)
OUTCOME_ORDER = ("approve", "refer", "reject")


class CandidateField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        owner = obj.model.owner_name
        return f"{obj.model.name} v{obj.number}（{obj.get_status_display()}，{owner}）"


class BacktestForm(forms.ModelForm):
    candidate = CandidateField(
        label="候选决策流版本",
        queryset=StrategyVersion.objects.none(),
        help_text="可选草稿或任一版本；与所选期间内已存储的决策逐笔对比",
    )
    bank = forms.ModelChoiceField(
        label="法人行社",
        queryset=Institution.objects.none(),
        required=False,
        help_text="为空表示全省所有行社的决策",
    )
    product = forms.ModelChoiceField(
        label="产品", queryset=Product.objects.none(), required=False, help_text="为空表示全部产品"
    )

    class Meta:
        model = Backtest
        fields = ["candidate", "period_from", "period_to", "product", "bank"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        scope = scope_for(user)
        self.fields["candidate"].queryset = (
            StrategyVersion.objects.visible_to(user)
            .select_related("model", "model__owner")
            .order_by("model__code", "-number")
        )
        self.fields["product"].queryset = Product.objects.visible_to(user).order_by("code")
        today = business_today()
        self.fields["period_from"].initial = today - timedelta(days=30)
        self.fields["period_to"].initial = today
        if scope.all_banks:
            self.fields["bank"].queryset = Institution.objects.banks().order_by("code")
        else:
            del self.fields["bank"]  # a bank's staff back-test their own bank's decisions

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            backtest_check(
                actor=self.user,
                candidate=cleaned["candidate"],
                period_from=cleaned["period_from"],
                period_to=cleaned["period_to"],
                product=cleaned.get("product"),
                bank=cleaned.get("bank"),
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        except PermissionDenied as exc:
            self.add_error(None, str(exc))
        return cleaned


def _household_name(row: dict) -> str:
    name = row.get("decision__household__head__name")
    return f"{name}户" if name else "农户(未登记户主)"


CHANGE_VALUES = (
    "decision_id",
    "old_outcome",
    "new_outcome",
    "old_limit",
    "new_limit",
    "old_rate",
    "new_rate",
    "old_reason",
    "new_reason",
    "decision__decision_date",
    "decision__bank__name",
    "decision__household__head__name",
    "decision__household__village__name",
    "decision__product__name",
)


def changes_rows(queryset, texts: dict) -> list[dict]:
    """The changed decisions as the report shows them: names and Chinese, no codes or ids."""
    rows = []
    for row in queryset.values(*CHANGE_VALUES):
        old_rejected = row["old_outcome"] == "reject"
        new_rejected = row["new_outcome"] == "reject"
        rows.append(
            {
                "date": row["decision__decision_date"],
                "bank": row["decision__bank__name"] or "",
                "household": _household_name(row),
                "village": row["decision__household__village__name"] or "",
                "product": row["decision__product__name"] or "",
                "old_outcome": OUTCOME_LABELS.get(row["old_outcome"], ""),
                "new_outcome": OUTCOME_LABELS.get(row["new_outcome"], ""),
                # A rejection grants nothing: its computed limit and rate are not shown.
                "old_limit": None if old_rejected else row["old_limit"],
                "new_limit": None if new_rejected else row["new_limit"],
                "old_rate": None if old_rejected else row["old_rate"],
                "new_rate": None if new_rejected else row["new_rate"],
                "why": why_text(
                    old_outcome=row["old_outcome"],
                    new_outcome=row["new_outcome"],
                    old_reason=row["old_reason"],
                    new_reason=row["new_reason"],
                    texts=texts,
                ),
            }
        )
    return rows


COMPARED = (
    ("决策笔数", "decisions", "count"),
    ("通过笔数", "approved", "count"),
    ("转人工笔数", "referred", "count"),
    ("拒绝笔数", "rejected", "count"),
    ("通过率", "approval_rate", "share"),
    ("转人工率", "referral_rate", "share"),
    ("拒绝率", "rejection_rate", "share"),
    ("通过户平均额度(元)", "average_limit", "amount"),
    ("通过户平均年利率(%)", "average_rate", "amount"),
    ("预期坏账率(通过户评分卡违约概率均值)", "expected_bad_rate", "share"),
)


def comparison_rows(summary: dict) -> list[tuple[str, str, str]]:
    """The two sides as the page shows them."""
    baseline, candidate = summary.get("baseline", {}), summary.get("candidate", {})
    show = {"count": plain, "share": percent, "amount": plain}
    return [
        (label, show[kind](baseline.get(key)), show[kind](candidate.get(key)))
        for label, key, kind in COMPARED
    ]


def comparison_values(summary: dict) -> list[tuple]:
    """The two sides as numbers a spreadsheet computes with (shares as fractions)."""
    baseline, candidate = summary.get("baseline", {}), summary.get("candidate", {})

    def number(value):
        return None if value is None else (value if isinstance(value, int) else float(value))

    return [
        (label, number(baseline.get(key)), number(candidate.get(key))) for label, key, _ in COMPARED
    ]


def transition_rows(summary: dict) -> list[tuple[str, list[int]]]:
    matrix = summary.get("transitions") or [[0] * 3] * 3
    return [(OUTCOME_LABELS[code], matrix[i]) for i, code in enumerate(OUTCOME_ORDER)]


def why_rows(summary: dict) -> list[tuple[str, str, str, int]]:
    texts = summary.get("reason_texts", {})
    return [
        (
            OUTCOME_LABELS[item["from"]],
            OUTCOME_LABELS[item["to"]],
            why_text(
                old_outcome=item["from"],
                new_outcome=item["to"],
                old_reason=item["reason"],
                new_reason=item["reason"],
                texts=texts,
            ),
            item["count"],
        )
        for item in summary.get("why", [])
    ]


@admin.register(Backtest)
class BacktestAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "scope_display",
        "candidate",
        "period_display",
        "product",
        "status",
        "decisions",
        "changed",
        "created_by",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["bank", "candidate__model", "product", "created_by"]
    ordering = ["-id"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("bank", "candidate__model", "product", "created_by")
        )

    def has_add_permission(self, request):
        # The federation back-tests its own strategies over the province: its read-only scope
        # on bank data does not stop it writing a back-test of its own.
        scope = scope_for(request.user)
        return (
            request.user.has_perm("risk.add_backtest")
            and not scope.sees_nothing
            and not scope.village_restricted
        )

    def has_change_permission(self, request, obj=None):
        return False  # a back-test is a run, never edited

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="范围")
    def scope_display(self, obj) -> str:
        return obj.scope_name

    @admin.display(description="决策日期", ordering="period_from")
    def period_display(self, obj) -> str:
        return f"{obj.period_from:%Y-%m-%d} 至 {obj.period_to:%Y-%m-%d}"

    def get_form(self, request, obj=None, change=False, **kwargs):
        user = request.user

        class Form(BacktestForm):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, user=user, **kwargs)

        return Form

    def get_fields(self, request, obj=None):
        fields = ["candidate", "period_from", "period_to", "product"]
        return [*fields, "bank"] if scope_for(request.user).all_banks else fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        backtest = backtest_create(
            actor=request.user,
            candidate=data["candidate"],
            period_from=data["period_from"],
            period_to=data["period_to"],
            product=data.get("product"),
            bank=data.get("bank"),
        )
        obj.pk = backtest.pk

    def save_related(self, request, form, formsets, change):
        pass

    def add_view(self, request, form_url="", extra_context=None):
        # The form shows the checks' refusals; this catches a change between check and save.
        try:
            return super().add_view(request, form_url, extra_context)
        except (ValidationError, PermissionDenied) as exc:
            text = describe_error(exc, model=Backtest) if isinstance(exc, ValidationError) else exc
            self.message_user(request, str(text), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, "已发起回测，任务在后台运行，完成后本页显示报告", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:risk_backtest_change", args=[obj.pk]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/report.xlsx",
                view(self.xlsx_view),
                name="risk_backtest_xlsx",
            ),
            *super().get_urls(),
        ]

    def _viewable(self, request, object_id) -> Backtest:
        backtest = self.get_object(request, unquote(object_id))
        if backtest is None:
            raise Http404("回测不存在")
        if not self.has_view_permission(request, backtest):
            raise PermissionDenied
        return backtest

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The report: a back-test's page has nothing to edit."""
        backtest = self._viewable(request, object_id)
        summary = backtest.summary or {}
        texts = summary.get("reason_texts", {})
        changes = BacktestChange.objects.filter(backtest=backtest).order_by("id")
        page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{backtest}：{backtest.candidate} 对比原决策",
            "object": backtest,
            "done": backtest.status == "done",
            "comparison": comparison_rows(summary),
            "chart": backtest_chart_svg(summary) if backtest.status == "done" else "",
            "transitions": transition_rows(summary),
            "outcome_labels": [OUTCOME_LABELS[c] for c in OUTCOME_ORDER],
            "why": why_rows(summary),
            "page": page,
            "changes": changes_rows(page.object_list, texts),
            "unlisted": max(0, backtest.changed - backtest.changes_listed),
            "skipped": summary.get("skipped", 0),
            "xlsx_url": reverse("admin:risk_backtest_xlsx", args=[backtest.pk]),
        }
        return TemplateResponse(request, "admin/risk/decisions/reports/backtest.html", context)

    def xlsx_view(self, request, object_id):
        backtest = self._viewable(request, object_id)
        return xlsx_response(backtest_workbook(backtest), f"backtest-{backtest.pk}")


def backtest_workbook(backtest: Backtest):
    """对比 (the two sides, the transitions, why) and 变化的决策 (every listed change)."""
    from openpyxl import Workbook

    summary = backtest.summary or {}
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("对比")
    facts = [
        ("回测", str(backtest)),
        ("候选决策流版本", str(backtest.candidate)),
        ("范围", backtest.scope_name),
        ("决策日期", f"{backtest.period_from:%Y-%m-%d} 至 {backtest.period_to:%Y-%m-%d}"),
        ("产品", backtest.product.name if backtest.product_id else "全部"),
        ("状态", backtest.get_status_display()),
        ("回测基准日", f"{backtest.as_of:%Y-%m-%d}"),
    ]
    for fact in facts:
        sheet.append(spreadsheet_row(fact))
    sheet.append([])
    sheet.append(spreadsheet_row(["指标", "原决策", "候选版本"]))
    for row in comparison_values(summary):
        sheet.append(spreadsheet_row(row))
    sheet.append([])
    sheet.append(spreadsheet_row(["原结论 \\ 新结论", *[OUTCOME_LABELS[c] for c in OUTCOME_ORDER]]))
    for label, counts in transition_rows(summary):
        sheet.append(spreadsheet_row([label, *counts]))
    sheet.append([])
    sheet.append(spreadsheet_row(["原结论", "新结论", "原因", "笔数"]))
    for row in why_rows(summary):
        sheet.append(spreadsheet_row(row))

    changes = workbook.create_sheet("变化的决策")
    changes.append(
        spreadsheet_row(
            [
                "决策日期",
                "法人行社",
                "农户",
                "行政村",
                "产品",
                "原结论",
                "新结论",
                "原额度(元)",
                "新额度(元)",
                "原年利率(%)",
                "新年利率(%)",
                "变化原因",
            ]
        )
    )
    queryset = BacktestChange.objects.filter(backtest=backtest).order_by("id")
    for row in changes_rows(queryset, summary.get("reason_texts", {})):
        changes.append(
            spreadsheet_row(
                [
                    row["date"],
                    row["bank"],
                    row["household"],
                    row["village"],
                    row["product"],
                    row["old_outcome"],
                    row["new_outcome"],
                    None if row["old_limit"] is None else float(row["old_limit"]),
                    None if row["new_limit"] is None else float(row["new_limit"]),
                    None if row["old_rate"] is None else float(row["old_rate"]),
                    None if row["new_rate"] is None else float(row["new_rate"]),
                    row["why"],
                ]
            )
        )
    if backtest.changed > backtest.changes_listed:
        changes.append(
            spreadsheet_row([f"另有 {backtest.changed - backtest.changes_listed} 笔变化未列出"])
        )
    return workbook
