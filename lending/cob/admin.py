"""日终批处理 in the admin: start a close of business (date and steps), watch its chunks fill
up (the page refreshes itself while it runs), read the per-step report and the loans that
failed, continue or retry."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.html import format_html

from common.clock import business_today, local_text
from lending.cob import services
from lending.cob.models import (
    DEFAULT_STEPS,
    ChunkStatus,
    CobChunk,
    CobLoanFailure,
    CobRun,
    CobStep,
)
from org.admin_mixins import TenantAdminMixin, add_service_errors, run_per_row
from org.models import Institution
from org.tenancy import scope_for

STEP_REPORT = [
    ("accrued", "计提"),
    ("settled", "结息"),
    ("overdue", "逾期变动"),
    ("classified", "分类变动"),
    ("lines_expired", "额度失效"),
    ("failed_loans", "失败"),
]


class CobRunForm(forms.ModelForm):
    steps = forms.MultipleChoiceField(
        label="批处理步骤",
        choices=CobStep.choices,
        initial=DEFAULT_STEPS,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = CobRun
        fields = ["bank", "business_date", "steps"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        scope = scope_for(request.user) if request else None
        banks = Institution.objects.filter(kind="bank")
        if scope is not None and not scope.all_banks:
            banks = banks.filter(pk=scope.bank_id)
        self.fields["bank"].queryset = banks
        if scope is not None and scope.bank_id:
            self.fields["bank"].initial = scope.bank_id
            last = services.cob_last_completed(bank_id=scope.bank_id)
            self.fields["business_date"].initial = (
                last + timedelta(days=1) if last else business_today() - timedelta(days=1)
            )
        self.fields["business_date"].help_text = "默认为最近完成日的次日；只能对已结束的营业日跑批"

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            services.cob_run_check(
                bank=cleaned["bank"],
                business_date=cleaned["business_date"],
                steps=cleaned["steps"],
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned


class CobChunkInline(admin.TabularInline):
    model = CobChunk
    extra = 0
    can_delete = False
    fields = [
        "first_loan_id",
        "last_loan_id",
        "status",
        "attempts",
        "accrued",
        "settled",
        "overdue",
        "classified",
        "error",
    ]
    readonly_fields = fields
    verbose_name_plural = "未完成或失败的分片"

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(status=ChunkStatus.DONE)

    def has_add_permission(self, request, obj=None):
        return False


class CobLoanFailureInline(admin.TabularInline):
    model = CobLoanFailure
    extra = 0
    can_delete = False
    fields = ["loan_id", "error", "resolved"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CobRun)
class CobRunAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    list_display = [
        "business_date",
        "bank",
        "status",
        "progress",
        "loans_total",
        "step_report",
        "started_local",
        "finished_local",
    ]
    list_filter = ["status"]
    list_select_related = ["bank"]
    list_per_page = 30
    actions = ["retry_action"]
    inlines = [CobChunkInline, CobLoanFailureInline]
    readonly = [
        "bank",
        "business_date",
        "status",
        "progress",
        "step_labels",
        "chunk_size",
        "loans_total",
        "step_report",
        "started_by",
        "started_local",
        "finished_local",
    ]

    def get_queryset(self, request):
        done = Count("chunks", filter=Q(chunks__status=ChunkStatus.DONE))
        return super().get_queryset(request).annotate(chunks_done=done)

    @admin.display(description="进度")
    def progress(self, obj):
        done = obj.chunks_done
        total = obj.chunks_total or 0
        percent = int(done * 100 / total) if total else 100
        return format_html(
            '<progress max="100" value="{}" style="width:8em"></progress> {}/{} 分片 ({}%)',
            percent,
            done,
            total,
            percent,
        )

    @admin.display(description="步骤报告(笔)")
    def step_report(self, obj):
        report = obj.report or {}
        # What each step did, in loans; steps that touched none are left out.
        parts = [f"{label} {report[key]}" for key, label in STEP_REPORT if report.get(key)]
        return "，".join(parts) or ("无变动" if report else "—")

    @admin.display(description="批处理步骤")
    def step_labels(self, obj):
        return "、".join(CobStep(step).label for step in obj.steps)

    @admin.display(description="开始时间", ordering="started_at")
    def started_local(self, obj):
        return local_text(obj.started_at)

    @admin.display(description="完成时间")
    def finished_local(self, obj):
        return local_text(obj.finished_at)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:

            class BoundForm(CobRunForm):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            return BoundForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["bank", "business_date", "steps"] if obj is None else self.readonly

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_add_permission(self, request):
        # Starting a run is 发起日终批处理 (run_cob), not a row anyone adds by hand.
        return request.user.has_perm("lending.run_cob") and not self._read_only(request)

    def save_model(self, request, obj, form, change):
        run = services.cob_run_start(
            bank=form.cleaned_data["bank"],
            business_date=form.cleaned_data["business_date"],
            steps=form.cleaned_data["steps"],
            actor=request.user,
        )
        obj.pk = run.pk

    def save_related(self, request, form, formsets, change):
        pass  # the run and its chunks are the service's

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("lending.run_cob")

    @admin.action(description="继续执行 / 重试失败", permissions=["retry"])
    def retry_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda run: services.cob_run_retry(run=run, actor=request.user),
            "已重新发起",
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        run = self.get_queryset(request).filter(pk=object_id).only("status").first()
        extra_context["auto_refresh"] = run is not None and run.status == "running"
        return super().change_view(request, object_id, form_url, extra_context)
