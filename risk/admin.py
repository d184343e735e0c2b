"""Back office of the risk models: scorecards (points table, metrics, PSI chart, lifecycle with
maker-checker, xlsx export, champion/challenger comparison), training runs, scores, batch jobs
and monitoring runs. Every change goes through ``risk.registry``; the admin shapes input and shows
the services' errors."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from common.errors import describe_error
from org.admin_mixins import AuditHistoryMixin, TenantAdminMixin, add_service_errors, run_per_row
from org.models import Institution
from org.tenancy import scope_for
from risk import admin_grading, admin_views, registry
from risk.decisions import admin as decisions_admin  # noqa: F401  (decision flows, decisions)
from risk.decisions import admin_reports  # noqa: F401  (back-tests, rejection statistics)
from risk.grading_selectors import scoring_jobs_with_scope_names
from risk.lists import admin as lists_admin  # noqa: F401  (registers the risk lists' admin)
from risk.models import (
    HouseholdScore,
    MonitoringRun,
    Scorecard,
    ScorecardStatusChange,
    ScorecardTraining,
    ScoringJob,
    ScoringSegment,
)
from risk.pricing import admin as pricing_admin  # noqa: F401  (limit and pricing models, 试算)
from risk.providers import admin as providers_admin  # noqa: F401  (external data call log)
from risk.rules import admin as rules_admin  # noqa: F401  (rules, rule sets, derived features)
from risk.scoring import check_grade_cutoffs
from risk.services import BATCH_PERMISSION, scoring_job_start


class ScorecardActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因/意见", required=False, max_length=300)
    shadow_percent = forms.IntegerField(
        label="影子评分比例(%)", required=False, min_value=1, max_value=100
    )


class ScorecardForm(forms.ModelForm):
    grade_cutoffs_text = forms.CharField(
        label="评级分数线",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text='JSON，最好的评级在前，如 [["AAA", 620], ["AA", 600], ["A", 580], ["B", 560], ["C", 0]]；'
        "低于最后一条分数线的也归入最后一个评级。只有草稿可以修改。",
    )

    class Meta:
        model = Scorecard
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["grade_cutoffs_text"] = json.dumps(
            self.instance.grade_cutoffs, ensure_ascii=False
        )

    def clean_grade_cutoffs_text(self):
        text = self.cleaned_data["grade_cutoffs_text"].strip()
        try:
            cutoffs = json.loads(text) if text else []
        except json.JSONDecodeError as exc:
            raise ValidationError(f"不是有效的 JSON：{exc.msg}") from exc
        if cutoffs == self.instance.grade_cutoffs:
            return cutoffs  # unchanged (a scorecard in use keeps whatever it was trained with)
        # The service's own check, here so a refusal shows on the form rather than beside a
        # "changed" message after the save.
        try:
            return check_grade_cutoffs(cutoffs)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["grade_cutoffs"]) from None


class StatusChangeInline(admin.TabularInline):
    model = ScorecardStatusChange
    extra = 0
    can_delete = False
    fields = ["at", "action", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    verbose_name_plural = "状态变更记录"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _refusal(exc: ValidationError | PermissionDenied, model) -> str:
    """A service's refusal as the admin shows it: fields by their Chinese labels."""
    if isinstance(exc, ValidationError):
        return describe_error(exc, model=model)
    return str(exc)


def _progress(percent: int):
    return format_html(
        '<progress value="{}" max="100" style="width:100px"></progress> {}%', percent, percent
    )


@admin.register(Scorecard)
class ScorecardAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    form = ScorecardForm
    action_form = ScorecardActionForm
    list_display = [
        "__str__",
        "segment",
        "owner",
        "status",
        "test_auc",
        "test_ks",
        "shadow_percent",
        "trained_by",
        "promoted_by",
        "trained_at",
    ]
    list_filter = ["status", "segment", "source"]
    list_select_related = ["segment", "bank", "trained_by", "promoted_by"]
    search_fields = ["name"]
    inlines = [StatusChangeInline]
    actions = ["submit_action", "promote_action", "retire_action", "export_action"]
    readonly_fields = [
        "name",
        "segment",
        "owner",
        "version",
        "status",
        "source",
        "target_definition",
        "base_score",
        "base_odds",
        "pdo",
        "random_seed",
        "training_rows",
        "training_bads",
        "shadow_percent",
        "artefact",
        "artefact_sha256",
        "trained_by",
        "trained_at",
        "submitted_by",
        "submitted_at",
        "promoted_by",
        "promoted_at",
        "retired_at",
        "tools",
        "metrics_table",
        "iv_table",
        "points_table",
        "psi_chart",
    ]
    fieldsets = [
        (None, {"fields": ["name", "segment", "owner", "version", "status", "tools"]}),
        (
            "训练",
            {
                "fields": [
                    "source",
                    "target_definition",
                    ("base_score", "base_odds", "pdo"),
                    ("random_seed", "training_rows", "training_bads"),
                    ("artefact", "artefact_sha256"),
                    ("trained_by", "trained_at"),
                ]
            },
        ),
        (
            "投产(双人复核)",
            {
                "fields": [
                    ("submitted_by", "submitted_at"),
                    ("promoted_by", "promoted_at"),
                    "retired_at",
                    "shadow_percent",
                    "grade_cutoffs_text",
                ]
            },
        ),
        ("模型指标", {"fields": ["metrics_table", "iv_table"]}),
        ("分值表(分箱 → 分值)", {"fields": ["points_table"]}),
        ("稳定性监控(PSI)", {"fields": ["psi_chart"]}),
    ]

    def get_queryset(self, request):
        """A bank's staff see their own scorecards and, read-only, the federation's."""
        queryset = Scorecard.objects.select_related(
            "segment", "bank", "trained_by", "promoted_by", "submitted_by"
        )
        scope = scope_for(request.user)
        if scope.sees_nothing:
            return queryset.none()
        if not scope.all_banks:
            queryset = queryset.filter(Q(bank_id=scope.bank_id) | Q(bank__isnull=True))
        return queryset

    def has_add_permission(self, request):
        return False  # scorecards come from training runs

    def has_delete_permission(self, request, obj=None):
        return False  # versions are kept for audit; retire instead

    def has_change_permission(self, request, obj=None):
        # Not the mixin's rule: federation staff are read-only on bank data but maintain the
        # federation's own scorecards.
        if obj is None:
            return request.user.is_superuser or request.user.has_perm("risk.change_scorecard")
        return registry.can_manage(request.user, obj.bank_id, perm="risk.change_scorecard")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Scorecard.Status.DRAFT:
            return [*self.readonly_fields, "grade_cutoffs_text"]
        return self.readonly_fields

    @admin.display(description="评级分数线")
    def grade_cutoffs_text(self, obj):
        return "；".join(f"{grade} ≥ {cutoff}" for grade, cutoff in obj.grade_cutoffs or [])

    @admin.display(description="归属")
    def owner(self, obj):
        return obj.bank.name if obj.bank_id else "省联社"

    @admin.display(description="测试集AUC")
    def test_auc(self, obj):
        return (obj.metrics or {}).get("test", {}).get("auc")

    @admin.display(description="测试集KS")
    def test_ks(self, obj):
        return (obj.metrics or {}).get("test", {}).get("ks")

    @admin.display(description="工具")
    def tools(self, obj):
        return format_html(
            '<a class="button" href="{}">导出分值表(xlsx)</a> '
            '<a class="button" href="{}">冠军/挑战者对比</a>',
            reverse("admin:risk_scorecard_points_xlsx", args=[obj.pk]),
            reverse("admin:risk_scorecard_compare", args=[obj.pk]),
        )

    @admin.display(description="AUC / KS / Gini")
    def metrics_table(self, obj):
        metrics = obj.metrics or {}
        rows = [
            (label, m.get("auc"), m.get("ks"), m.get("gini"), m.get("rows"), m.get("bads"))
            for label, m in (
                ("训练集", metrics.get("train", {})),
                ("测试集", metrics.get("test", {})),
            )
        ]
        body = format_html_join(
            "", "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
        )
        return format_html(
            "<table><thead><tr><th></th><th>AUC</th><th>KS</th><th>Gini</th><th>样本</th>"
            "<th>坏样本</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="特征IV(全部候选)")
    def iv_table(self, obj):
        selected = set((obj.metrics or {}).get("features", []))
        rows = [
            (name, admin_views.feature_label(name), iv, "入模" if name in selected else "")
            for name, iv in (obj.feature_iv or {}).items()
        ]
        body = format_html_join(
            "", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
        )
        return format_html(
            "<table><thead><tr><th>特征</th><th>名称</th><th>IV</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="分值表")
    def points_table(self, obj):
        return mark_safe(admin_views.points_table_html(obj))  # template output, autoescaped

    @admin.display(description="评分PSI趋势")
    def psi_chart(self, obj):
        return mark_safe(admin_views.psi_chart_html(obj))  # template output, autoescaped

    def save_model(self, request, obj, form, change):
        # Only a draft's form has the field; a scorecard in use has nothing to save here.
        cutoffs = form.cleaned_data.get("grade_cutoffs_text")
        if change and "grade_cutoffs_text" in form.cleaned_data and cutoffs != obj.grade_cutoffs:
            try:
                registry.scorecard_set_grade_cutoffs(
                    scorecard=obj, cutoffs=cutoffs, actor=request.user
                )
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, _refusal(exc, self.model), messages.ERROR)

    @admin.action(description="提交为挑战者(影子评分)")
    def submit_action(self, request, queryset):
        percent = request.POST.get("shadow_percent") or None
        run_per_row(
            self,
            request,
            queryset,
            lambda s: registry.scorecard_submit(
                scorecard=s,
                actor=request.user,
                shadow_percent=int(percent) if percent else None,
                reason=request.POST.get("reason", ""),
            ),
            "已提交为挑战者",
        )

    @admin.action(description="复核晋级为冠军(不能复核自己训练或提交的模型)")
    def promote_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda s: registry.scorecard_promote(
                scorecard=s, actor=request.user, reason=request.POST.get("reason", "")
            ),
            "已晋级为冠军",
        )

    @admin.action(description="退役(需填写原因)")
    def retire_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda s: registry.scorecard_retire(
                scorecard=s, actor=request.user, reason=request.POST.get("reason", "")
            ),
            "已退役",
        )

    @admin.action(description="导出分值表(xlsx)")
    def export_action(self, request, queryset):
        return _xlsx_response(list(queryset.order_by("segment__code", "version")), "scorecards")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/points.xlsx",
                view(self.points_xlsx_view),
                name="risk_scorecard_points_xlsx",
            ),
            path(
                "<path:object_id>/compare/", view(self.compare_view), name="risk_scorecard_compare"
            ),
            *super().get_urls(),
        ]

    def _viewable(self, request, object_id) -> Scorecard:
        scorecard = self.get_object(request, object_id)
        if scorecard is None:
            raise Http404("评分卡不存在")
        if not self.has_view_or_change_permission(request, scorecard):
            raise PermissionDenied
        return scorecard

    def points_xlsx_view(self, request, object_id):
        scorecard = self._viewable(request, object_id)
        return _xlsx_response(
            [scorecard], f"scorecard-{scorecard.segment.code}-v{scorecard.version}"
        )

    def compare_view(self, request, object_id):
        scorecard = self._viewable(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"冠军/挑战者对比：{scorecard}",
            "opts": self.model._meta,
            "object": scorecard,
            **admin_views.comparison(scorecard, request.user),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/risk/scorecard/compare.html", context)


def _xlsx_response(scorecards: list[Scorecard], filename: str) -> HttpResponse:
    response = HttpResponse(
        admin_views.points_workbook(scorecards),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


class TrainingForm(forms.ModelForm):
    bank = forms.ModelChoiceField(
        label="法人行社",
        queryset=Institution.objects.banks(),
        required=False,
        help_text="为空表示省联社统一模型",
    )
    base_score = forms.FloatField(label="基准分", initial=600)
    base_odds = forms.FloatField(label="基准好坏比", initial=50, min_value=0.01)
    pdo = forms.FloatField(label="翻倍分数(PDO)", initial=20, min_value=0.01)
    random_seed = forms.IntegerField(label="随机种子", initial=42, min_value=0)
    target = forms.CharField(label="目标列名", initial="bad", max_length=64)

    class Meta:
        model = ScorecardTraining
        fields = ["segment", "bank", "source", "dataset", "synthetic_rows"]

    SETTINGS = ("base_score", "base_odds", "pdo", "random_seed", "target")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            registry.scorecard_training_check(
                segment=cleaned["segment"],
                source=cleaned["source"],
                bank=cleaned.get("bank"),
                dataset=cleaned.get("dataset"),
                synthetic_rows=cleaned.get("synthetic_rows"),
                settings=self.training_settings(),
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned

    def training_settings(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.SETTINGS}


@admin.register(ScorecardTraining)
class ScorecardTrainingAdmin(TenantAdminMixin, admin.ModelAdmin):
    form = TrainingForm
    list_display = ["__str__", "bank", "status", "progress_bar", "step", "scorecard", "created_at"]
    list_filter = ["status", "source"]
    list_select_related = ["segment", "bank", "scorecard", "requested_by"]

    def get_queryset(self, request):
        queryset = ScorecardTraining.objects.all()
        scope = scope_for(request.user)
        if scope.sees_nothing:
            return queryset.none()
        if not scope.all_banks:
            queryset = queryset.filter(bank_id=scope.bank_id)
        return queryset

    def has_add_permission(self, request):
        return request.user.has_perm("risk.add_scorecard") or request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        scope = scope_for(request.user)
        if obj is not None or scope.all_banks:
            return form

        class BankTrainingForm(form):
            """A bank's staff train their own bank's models on their segments."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.fields["bank"].queryset = Institution.objects.filter(pk=scope.bank_id)
                self.fields["bank"].required = True
                self.fields["segment"].queryset = ScoringSegment.objects.filter(
                    Q(bank__isnull=True) | Q(bank_id=scope.bank_id)
                )

        return BankTrainingForm

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "segment",
            "bank",
            "source",
            "dataset",
            "synthetic_rows",
            "settings",
            "status",
            "progress_bar",
            "step",
            "error",
            "scorecard",
            "requested_by",
            "created_at",
            "finished_at",
        ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                *TrainingForm.Meta.fields,
                "base_score",
                "base_odds",
                "pdo",
                "random_seed",
                "target",
            ]
        return self.get_readonly_fields(request, obj)

    @admin.display(description="进度")
    def progress_bar(self, obj):
        return _progress(obj.progress)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        training = registry.scorecard_training_request(
            actor=request.user,
            segment=data["segment"],
            source=data["source"],
            bank=data.get("bank"),
            dataset=data.get("dataset"),
            synthetic_rows=data.get("synthetic_rows"),
            settings=form.training_settings(),
        )
        obj.pk = training.pk

    def add_view(self, request, form_url="", extra_context=None):
        # What the form can check it does (beside the field); this catches the rest: who may
        # train for which bank, and a change between the form's check and the save.
        try:
            return super().add_view(request, form_url, extra_context)
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, _refusal(exc, self.model), messages.ERROR)
            return self.response_post_save_add(request, None)


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ScoringSegment)
class ScoringSegmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "bank", "description"]
    list_select_related = ["bank"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GradeFilter(admin.SimpleListFilter):
    """The grades the scorecards define (best first), read from their cut-offs: listing the
    grades actually present in the scores would scan every score for each page shown."""

    title = "评级"
    parameter_name = "grade"

    def lookups(self, request, model_admin):
        grades = {}
        for cutoffs in Scorecard.objects.order_by("pk").values_list("grade_cutoffs", flat=True):
            for grade, _ in cutoffs or []:
                grades.setdefault(grade, grade)
        return list(grades.items())

    def queryset(self, request, queryset):
        return queryset.filter(grade=self.value()) if self.value() else queryset


@admin.register(HouseholdScore)
class HouseholdScoreAdmin(ReadOnlyAdmin):
    list_display = [
        "household",
        "scorecard",
        "role",
        "score",
        "grade",
        "probability_of_default",
        "scored_at",
    ]
    # Scored-at links (today, past 7 days, this month, this year) rather than a date hierarchy:
    # the hierarchy lists the distinct days of every score first, a scan of the whole table.
    list_filter = ["role", GradeFilter, "scored_at"]
    list_select_related = ["household__head", "scorecard"]
    raw_id_fields = ["household", "job"]
    # Newest first by id, which follows insertion: the page is then read backwards off the primary
    # key, 100 rows and their joins. By the model's ``-scored_at`` (with the ``-pk`` tie-break the
    # admin adds) PostgreSQL joins and sorts every score first — measured 2.1 s for 1.5 million
    # scores; a batch gives a million rows the same ``scored_at``, so an index on it would not help.
    ordering = ["-id"]
    show_full_result_count = False
    # The stored codes and values are compact (see HouseholdScore); the page shows them as the
    # account manager reads them.
    fields = [
        "household",
        "bank",
        "scorecard",
        "role",
        "job",
        "score",
        "grade",
        "probability_of_default",
        "scored_at",
        "reason_texts",
        "feature_table",
    ]
    readonly_fields = ["reason_texts", "feature_table"]

    @admin.display(description="原因码(扣分最多的特征)")
    def reason_texts(self, obj):
        reasons = obj.reasons()
        if not reasons:
            return "无扣分项"
        return format_html(
            "<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((r["text"],) for r in reasons))
        )

    @admin.display(description="评分所用特征取值")
    def feature_table(self, obj):
        rows = [
            (name, admin_views.feature_label(name), "缺失" if value is None else value)
            for name, value in obj.features.items()
        ]
        body = format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<table><thead><tr><th>特征</th><th>名称</th><th>取值</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )


class ScoringJobStartForm(forms.ModelForm):
    """Start a batch over a whole bank (villages and campaigns start from their own lists)."""

    target_bank = forms.ModelChoiceField(
        label="法人行社", queryset=Institution.objects.none(), required=False
    )

    class Meta:
        model = ScoringJob
        fields = []


@admin.register(ScoringJob)
class ScoringJobAdmin(ReadOnlyAdmin):
    """Batch scoring jobs and their progress. Added here for a whole bank (or, by the
    federation, the province); villages and campaigns have a 批量评分 action on their lists."""

    list_display = [
        "scope_display",
        "bank",
        "status",
        "job_progress",
        "scored_households",
        "total_households",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "scope"]
    list_select_related = ["bank", "created_by"]
    readonly_fields = [
        "scope_display",
        "bank",
        "status",
        "job_progress",
        "scored_households",
        "total_households",
        "error",
        "created_by",
        "created_at",
        "finished_at",
        "scores_link",
    ]

    def get_queryset(self, request):
        return scoring_jobs_with_scope_names(super().get_queryset(request))

    def has_add_permission(self, request, obj=None):
        # The federation starts province-wide batches, so its read-only scope does not apply.
        return request.user.has_perm(BATCH_PERMISSION)

    def get_fields(self, request, obj=None):
        return ["target_bank"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        scope = scope_for(request.user)

        class StartForm(ScoringJobStartForm):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                bank = self.fields["target_bank"]
                if scope.all_banks:
                    bank.queryset = Institution.objects.banks()
                    bank.help_text = "为空表示全省所有法人行社的农户"
                else:
                    bank.queryset = Institution.objects.filter(pk=scope.bank_id)
                    bank.required = True
                    bank.initial = scope.bank_id
                    bank.help_text = "对本行社全部农户重新评分，在后台分块运行"

        return StartForm

    def save_model(self, request, obj, form, change):
        bank = form.cleaned_data.get("target_bank")
        job = scoring_job_start(
            scope=ScoringJob.Scope.BANK if bank else ScoringJob.Scope.PROVINCE,
            scope_id=bank.pk if bank else "",
            actor=request.user,
        )
        obj.pk = job.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, _refusal(exc, self.model), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, "已发起批量评分，任务在后台分块运行", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:risk_scoringjob_change", args=[obj.pk]))

    @admin.display(description="评分范围", ordering="scope")
    def scope_display(self, obj):
        return f"{obj.get_scope_display()}：{obj.scope_name or obj.scope_id}"

    @admin.display(description="进度")
    def job_progress(self, obj):
        return _progress(obj.progress_percent)

    @admin.display(description="评分结果")
    def scores_link(self, obj):
        url = reverse("admin:risk_householdscore_changelist") + f"?job={obj.pk}"
        return format_html('<a href="{}">查看本任务的农户评分</a>', url)


@admin.register(MonitoringRun)
class MonitoringRunAdmin(ReadOnlyAdmin):
    tenant_bank_field = "scorecard__bank"
    list_display = ["scorecard", "computed_at", "sample_size", "score_psi", "band", "matured_auc"]
    list_filter = ["band"]
    list_select_related = ["scorecard"]


# The grading actions on the household, village and campaign lists (see risk.admin_grading).
admin_grading.register()
