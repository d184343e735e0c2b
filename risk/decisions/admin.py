"""The admin of decision flows and decisions (决策流、决策、批量决策任务).

Decision flows: the federation's and one's own bank's, never another bank's. A draft version's
flow is edited as JSON and saved through ``strategy_version_update`` (the check's message names
the node); actions 提交复核 / 复核生效 / 退回 / 基于此版本新建草稿 run the maker-checker services;
every version shows its flow step by step in Chinese.

Decisions: read-only, scoped by bank (and an account manager's villages). The page shows the
outcome, the reasons in Chinese, the trace node by node, the versions used, and the replay of
the decision from its snapshot (一致 or the fields that differ). Nothing here changes a
decision: the table refuses it.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html, format_html_join

from common.clock import local_text
from org.admin_mixins import TenantAdminMixin
from risk.decisions import services
from risk.decisions.definition import NODE_KINDS, flow_parse
from risk.decisions.engine import REASON_SOURCES
from risk.decisions.models import Decision, DecisionJob, Outcome, Strategy, StrategyVersion
from risk.decisions.reasons import reason_text
from risk.decisions.selectors import (
    approval_level_label,
    decision_rule_texts,
    decision_trace,
)
from risk.external_features import EXTERNAL_SOURCES

_BADGE = {"approve": "#2e7d32", "refer": "#ef6c00", "reject": "#c62828"}


def flow_html(definition) -> str:
    try:
        flow = flow_parse(definition)
    except ValidationError as error:
        return format_html("<span style='color:#c62828'>{}</span>", "；".join(error.messages))
    steps = []
    for node in flow.nodes:
        detail = ""
        if node.params.get("rule_set"):
            detail = f"规则集 {node.params['rule_set']}"
        elif node.params.get("sources"):
            detail = "、".join(EXTERNAL_SOURCES.get(s, s) for s in node.params["sources"])
        elif node.params.get("reject_grades") is not None:
            detail = "拒绝评级：" + ("、".join(node.params.get("reject_grades") or []) or "无")
        elif node.params.get("model"):
            detail = f"模型 {node.params['model']}"
        steps.append((NODE_KINDS[node.kind], detail))
    return format_html(
        "<ol style='margin:0;padding-left:1.5em'>{}</ol>",
        format_html_join("", "<li>{} <span style='color:#666'>{}</span></li>", steps),
    )


# --- decision flows -------------------------------------------------------------------------------


class StrategyVersionInline(admin.TabularInline):
    model = StrategyVersion
    extra = 0
    can_delete = False
    fields = ["number", "status", "effective_from", "change_note"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "owner_label", "is_default", "product_names"]
    search_fields = ["code", "name"]
    inlines = [StrategyVersionInline]
    fields = ["code", "name", "owner_label", "description", "is_default", "product_names"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            Strategy.objects.visible_to(request.user)
            .select_related("owner")
            .prefetch_related("products")
        )

    @admin.display(description="归属")
    def owner_label(self, obj) -> str:
        return obj.owner_name

    @admin.display(description="适用产品")
    def product_names(self, obj) -> str:
        names = [p.name for p in obj.products.all()]
        return "、".join(names) if names else "本机构所有产品(默认)"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StrategyVersionForm(forms.ModelForm):
    definition_text = forms.CharField(
        label="流程定义(JSON)",
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "style": "font-family:monospace"}),
        help_text="节点依次为：风险名单 → 外部数据 → 规则集 → 评分卡 → 额度 → 定价 → 结论；"
        "保存时检查，错误会指出节点",
    )

    class Meta:
        model = StrategyVersion
        fields = ["change_note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["definition_text"].initial = json.dumps(
            self.instance.definition, ensure_ascii=False, indent=2
        )

    def clean_definition_text(self):
        try:
            return json.loads(self.cleaned_data["definition_text"])
        except ValueError as error:
            raise ValidationError(f"不是有效的JSON：第{error.lineno}行第{error.colno}列") from None


@admin.register(StrategyVersion)
class StrategyVersionAdmin(admin.ModelAdmin):
    form = StrategyVersionForm
    list_display = ["__str__", "owner_label", "status", "effective_from", "approved_by"]
    list_filter = ["status"]
    list_select_related = ["model__owner", "approved_by"]
    actions = ["submit_action", "activate_action", "derive_action"]

    def get_queryset(self, request):
        return StrategyVersion.objects.visible_to(request.user).select_related("model__owner")

    @admin.display(description="归属")
    def owner_label(self, obj) -> str:
        return obj.model.owner_name

    @admin.display(description="流程")
    def flow(self, obj) -> str:
        return flow_html(obj.definition)

    @admin.display(description="变更记录")
    def history(self, obj) -> str:
        rows = [
            (
                local_text(c.at),
                c.action,
                c.from_status or "—",
                c.to_status,
                c.actor.get_username() if c.actor_id else "系统",
                c.reason,
            )
            for c in obj.changes.select_related("actor").order_by("at", "id")
        ]
        return format_html(
            "<table><tr><th>时间</th><th>操作</th><th>原状态</th><th>新状态</th><th>操作人</th>"
            "<th>说明</th></tr>{}</table>",
            format_html_join("", "<tr>" + "<td>{}</td>" * 6 + "</tr>", rows),
        )

    def get_fields(self, request, obj=None):
        base = ["model", "number", "status", "effective_from", "flow", "history"]
        if obj is not None and obj.is_editable:
            return [*base, "definition_text", "change_note"]
        return [*base, "change_note"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["model", "number", "status", "effective_from", "flow", "history"]
        if obj is not None and obj.is_editable:
            return fixed
        return [*fixed, "change_note"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return request.user.has_perm("risk.change_strategyversion")

    def save_model(self, request, obj, form, change):
        try:
            services.strategy_version_update(
                version=obj,
                actor=request.user,
                definition=form.cleaned_data["definition_text"],
                change_note=form.cleaned_data.get("change_note", ""),
            )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, "；".join(getattr(error, "messages", [str(error)])))

    def _run(self, request, queryset, service, done: str, **kwargs):
        for version in queryset:
            try:
                service(version=version, actor=request.user, **kwargs)
                messages.success(request, f"{version}：{done}")
            except (ValidationError, PermissionDenied) as error:
                text = "；".join(getattr(error, "messages", [str(error)]))
                messages.error(request, f"{version}：{text}")

    @admin.action(description="提交复核")
    def submit_action(self, request, queryset):
        self._run(request, queryset, services.strategy_version_submit, "已提交复核")

    @admin.action(description="复核生效")
    def activate_action(self, request, queryset):
        self._run(request, queryset, services.strategy_version_activate, "已生效")

    @admin.action(description="基于此版本新建草稿")
    def derive_action(self, request, queryset):
        for version in queryset:
            try:
                services.strategy_version_derive(strategy=version.model, actor=request.user)
                messages.success(request, f"{version.model}：已新建草稿")
            except (ValidationError, PermissionDenied) as error:
                messages.error(request, "；".join(getattr(error, "messages", [str(error)])))


# --- decisions ------------------------------------------------------------------------------------


class OutcomeFilter(admin.SimpleListFilter):
    title, parameter_name = "结论", "outcome"

    def lookups(self, request, model_admin):
        return Outcome.choices

    def queryset(self, request, queryset):
        return queryset.filter(outcome=self.value()) if self.value() else queryset


class SourceFilter(admin.SimpleListFilter):
    title, parameter_name = "原因来源", "source"

    def lookups(self, request, model_admin):
        return list(REASON_SOURCES.items())

    def queryset(self, request, queryset):
        return queryset.filter(reason_source=self.value()) if self.value() else queryset


@admin.register(Decision)
class DecisionAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"
    list_display = [
        "decided_local",
        "household_name",
        "product_name",
        "kind",
        "outcome_badge",
        "primary_text",
        "limit_amount",
        "rate",
        "grade",
    ]
    list_filter = [OutcomeFilter, "kind", SourceFilter]
    list_select_related = ["household__head", "product"]
    date_hierarchy = "decision_date"
    show_full_result_count = False
    ordering = ["-id"]
    fields = [
        "decided_local",
        "household_name",
        "product_name",
        "kind",
        "outcome_badge",
        "amounts",
        "reasons",
        "trace",
        "versions",
        "replay",
    ]
    readonly_fields = fields

    @admin.display(description="决策时间", ordering="decided_at")
    def decided_local(self, obj):
        return local_text(obj.decided_at)

    @admin.display(description="农户")
    def household_name(self, obj):
        head = obj.household.head
        return f"{head.name}户" if head is not None else str(obj.household)

    @admin.display(description="产品")
    def product_name(self, obj):
        return obj.product.name

    @admin.display(description="结论", ordering="outcome")
    def outcome_badge(self, obj):
        return format_html(
            "<b style='color:{}'>{}</b>", _BADGE[obj.outcome], obj.get_outcome_display()
        )

    def get_changelist_instance(self, request):
        # The page's primary reasons in Chinese with one query, not one per row.
        from risk.decisions.statistics import reason_texts_for

        changelist = super().get_changelist_instance(request)
        self._page_texts = reason_texts_for(d.primary_reason for d in changelist.result_list)
        return changelist

    @admin.display(description="主要原因")
    def primary_text(self, obj):
        if not obj.primary_reason:
            return "—"
        texts = getattr(self, "_page_texts", None) or {}
        return texts.get(obj.primary_reason) or reason_text(
            obj.primary_reason, decision_rule_texts(obj)
        )

    @admin.display(description="额度与利率")
    def amounts(self, obj):
        levels = "、".join(approval_level_label(level) for level in obj.approval_levels) or "—"
        return format_html(
            "申请金额 {}；额度 {} 元；年利率 {}%；评级 {}（评分 {}，违约概率 {}）；审批层级 {}",
            obj.requested_amount or "—",
            obj.limit_amount if obj.limit_amount is not None else "—",
            obj.rate if obj.rate is not None else "—",
            obj.grade or "—",
            obj.score if obj.score is not None else "—",
            obj.probability_of_default if obj.probability_of_default is not None else "—",
            levels,
        )

    @admin.display(description="原因")
    def reasons(self, obj):
        texts = decision_rule_texts(obj)
        rows = [(reason_text(code, texts),) for code in obj.reason_codes]
        if not rows:
            return "无"
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", rows))

    @admin.display(description="决策过程")
    def trace(self, obj):
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", decision_trace(obj)),
        )

    @admin.display(description="所用版本")
    def versions(self, obj):
        parts = [
            f"决策流 {obj.strategy_version}",
            f"规则集版本 {', '.join(map(str, obj.rule_set_versions)) or '—'}",
            f"评分卡 {obj.scorecard or '—'}",
            f"额度模型 {obj.limit_model_version or '—'}",
            f"定价模型 {obj.pricing_model_version or '—'}",
            f"LPR {obj.lpr if obj.lpr is not None else '—'}%",
        ]
        return "；".join(parts)

    @admin.display(description="重放")
    def replay(self, obj):
        from risk.decisions.replay import decision_replay

        result = decision_replay(obj)
        if result.identical:
            return format_html(
                "<b style='color:#2e7d32'>{}</b>", "一致：按快照与所用版本重算，结果相同"
            )
        return format_html("<b style='color:#c62828'>不一致</b>：{}", "、".join(result.differences))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DecisionJob)
class DecisionJobAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    list_display = [
        "__str__",
        "bank",
        "product",
        "status",
        "progress",
        "approved",
        "referred",
        "rejected",
        "created_local",
    ]
    list_filter = ["status"]
    list_select_related = ["bank", "product"]
    fields = [
        "bank",
        "campaign",
        "product",
        "decision_date",
        "status",
        "progress",
        "approved",
        "referred",
        "rejected",
        "error",
        "created_local",
    ]
    readonly_fields = fields

    @admin.display(description="进度")
    def progress(self, obj):
        return f"{obj.households_done} / {obj.households_total}"

    @admin.display(description="发起时间", ordering="created_at")
    def created_local(self, obj):
        return local_text(obj.created_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
