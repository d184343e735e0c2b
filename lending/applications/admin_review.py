"""The review page of one application (审查审批) and the reviewers' queues (审批任务).

The page shows what a reviewer needs in one place: the strategy's decision with its reasons and
trace, the household's archive, the account manager's investigation with its photos, the peer
review's votes, documents and every level's opinion so far. The forms on it call the approval
services; whoever may not act (not the drawn reviewer, a conflict of duties, a stale page) is
told why and nothing changes.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from common.clock import local_text
from lending.applications import services
from lending.applications.models import (
    ApprovalTask,
    RejectReason,
    TaskOutcome,
    TaskStatus,
)
from lending.applications.selectors import (
    application_tasks,
    approval_tasks_for_queue,
    archive_facts,
    investigation_photos,
    is_overdue,
    peer_review_latest,
    waited_text,
)
from org.admin_mixins import TenantAdminMixin, add_service_errors, run_per_row
from risk.decisions.reasons import reason_text
from risk.decisions.selectors import decision_rule_texts, decision_trace
from risk.lists.services import staff_of
from villages.models import FieldVisit


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(
        label="审批意见", choices=TaskOutcome.choices, widget=forms.RadioSelect
    )
    amount = forms.DecimalField(
        label="同意金额(元)",
        required=False,
        max_digits=18,
        decimal_places=2,
        help_text="留空为申请金额(或上一级同意的金额)；只能调低",
    )
    rate = forms.DecimalField(
        label="同意年利率(%)",
        required=False,
        max_digits=8,
        decimal_places=4,
        help_text="留空为决策定价；只能调高，不超过产品上限",
    )
    reject_reason = forms.ChoiceField(
        label="拒绝原因", required=False, choices=[("", "—"), *RejectReason.choices]
    )
    comment = forms.CharField(
        label="意见说明", required=False, max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )


class InvestigateForm(forms.Form):
    visit = forms.ModelChoiceField(label="贷前调查走访", queryset=FieldVisit.objects.none())
    comment = forms.CharField(label="调查结论", required=False, max_length=300)

    def __init__(self, *args, application, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visit"].queryset = FieldVisit.objects.filter(
            household_id=application.household_id, purpose=FieldVisit.Purpose.INVESTIGATION
        ).order_by("-visited_at")


class ResubmitForm(forms.Form):
    comment = forms.CharField(label="补充说明", max_length=300)


class ReassignForm(forms.Form):
    reason = forms.CharField(label="改派原因", max_length=300)


_FORMS = {
    "decide": DecideForm,
    "investigate": InvestigateForm,
    "resubmit": ResubmitForm,
    "reassign": ReassignForm,
}


def review_view(modeladmin, request, object_id):
    """GET: the review page. POST: one of its forms, through the approval services."""
    if not modeladmin.has_view_permission(request):
        raise PermissionDenied("没有查看贷款申请的权限")
    application = get_object_or_404(
        modeladmin.get_queryset(request).select_related(
            "household__village", "decision", "investigation__account_manager", "line"
        ),
        pk=object_id,
    )
    tasks = application_tasks(application)
    open_task = next((t for t in tasks if t.status == TaskStatus.OPEN), None)
    me = staff_of(request.user)
    writable = not modeladmin._read_only(request)
    allowed = {
        "decide": writable
        and open_task is not None
        and me is not None
        and open_task.assignee_id == me.pk,
        "investigate": writable
        and application.status == "referred"
        and request.user.has_perm("lending.change_application"),
        "resubmit": writable
        and application.status == "returned"
        and request.user.has_perm("lending.change_application"),
        "reassign": writable
        and open_task is not None
        and request.user.has_perm("lending.reassign_approvaltask"),
    }
    bound = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        if not allowed.get(action):
            raise PermissionDenied("不能在此处办理该操作")
        form = _form(action, application, data=request.POST)
        bound[action] = form
        if form.is_valid() and _apply(modeladmin, request, action, form, application, open_task):
            return redirect(request.path)
    forms_shown = {
        name: bound.get(name) or _form(name, application) for name, ok in allowed.items() if ok
    }
    decision = application.decision
    texts = decision_rule_texts(decision) if decision else {}
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "object": application,
        "title": f"审查审批：{application}",
        "decision": decision,
        "reasons": [reason_text(code, texts) for code in decision.reason_codes] if decision else [],
        "trace": decision_trace(decision) if decision else [],
        "archive": archive_facts(application.household),
        "peer": peer_review_latest(application.household),
        "visit": application.investigation,
        "visited_local": local_text(application.investigation.visited_at)
        if application.investigation_id
        else "",
        "photos": investigation_photos(application),
        "attachments": list(application.attachments.all()),
        "parties": list(application.parties.select_related("member")),
        "tasks": [_task_row(task) for task in tasks],
        "forms": forms_shown,
        "change_url": reverse("admin:lending_application_change", args=[application.pk]),
    }
    return TemplateResponse(request, "admin/lending/application/review.html", context)


def _form(action, application, data=None):
    cls = _FORMS[action]
    if cls is InvestigateForm:
        return cls(data, application=application, prefix=action)
    return cls(data, prefix=action)


def _apply(modeladmin, request, action, form, application, open_task) -> bool:
    data = form.cleaned_data
    try:
        if action == "decide":
            services.approval_task_decide(
                task=open_task,
                actor=request.user,
                outcome=data["outcome"],
                amount=data.get("amount"),
                rate=data.get("rate"),
                reject_reason=data.get("reject_reason") or "",
                comment=data.get("comment") or "",
            )
            done = f"已提交审批意见：{TaskOutcome(data['outcome']).label}"
        elif action == "investigate":
            services.application_investigate(
                application=application,
                visit=data["visit"],
                actor=request.user,
                comment=data.get("comment") or "",
            )
            done = "已提交贷前调查，进入审查"
        elif action == "resubmit":
            services.application_resubmit(
                application=application, actor=request.user, comment=data["comment"]
            )
            done = "已重新提交审查"
        else:
            new = services.approval_task_reassign(
                task=open_task, actor=request.user, reason=data["reason"]
            )
            done = f"已改派给{new.assignee.full_name}"
    except services.ApplicationConflict as conflict:
        modeladmin.message_user(request, "；".join(conflict.messages), messages.ERROR)
        return True
    except ValidationError as refused:
        add_service_errors(form, refused)
        return False
    except PermissionDenied as denied:
        modeladmin.message_user(request, str(denied), messages.ERROR)
        return True
    modeladmin.message_user(request, done, messages.SUCCESS)
    return True


def _task_row(task: ApprovalTask) -> dict:
    return {
        "level": task.get_level_display(),
        "assignee": task.assignee.full_name,
        "opened": local_text(task.opened_at),
        "closed": local_text(task.closed_at) if task.closed_at else "",
        "waited": waited_text(task.opened_at, task.closed_at),
        "status": task.get_status_display(),
        "outcome": task.get_outcome_display() if task.outcome else "",
        "detail": _opinion(task),
        "assigned_reason": task.assigned_reason,
        "pool_size": len(task.pool),
        "overdue": is_overdue(task, services.sla_hours()),
    }


def _opinion(task: ApprovalTask) -> str:
    parts = []
    if task.outcome == TaskOutcome.APPROVE:
        parts.append(f"{task.amount} 元，年利率 {task.rate}%")
    if task.reject_reason:
        parts.append(task.get_reject_reason_display())
    if task.comment:
        parts.append(task.comment)
    return "；".join(parts)


# --- the reviewers' queues ----------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    """Reviewers land on their own open items; managers switch to the whole bank's."""

    title = "待办范围"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("all", "全部"), ("overdue", "已超时")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "我的待办",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        from datetime import timedelta

        from django.utils import timezone

        if self.value() == "all":
            return queryset
        if self.value() == "overdue":
            cutoff = timezone.now() - timedelta(hours=services.sla_hours())
            return queryset.filter(status=TaskStatus.OPEN, opened_at__lt=cutoff)
        me = staff_of(request.user)
        return queryset.filter(assignee=me, status=TaskStatus.OPEN) if me else queryset.none()


class TaskActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因", required=False, max_length=300)


@admin.register(ApprovalTask)
class ApprovalTaskAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    tenant_village_field = "application__household__village"
    action_form = TaskActionForm
    actions = ["reassign_action"]
    list_display = [
        "application_link",
        "applicant_amount",
        "level",
        "assignee_name",
        "opened_local",
        "waited",
        "status",
    ]
    list_filter = [QueueFilter, "status", "level"]
    search_fields = ["application__applicant__name"]
    fields = [
        "application_link",
        "level",
        "assignee_name",
        "status",
        "outcome",
        "reject_reason",
        "amount",
        "rate",
        "comment",
        "assigned_reason",
        "pool_text",
        "opened_local",
        "closed_local",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return approval_tasks_for_queue(super().get_queryset(request))

    @admin.display(description="贷款申请")
    def application_link(self, obj):
        url = reverse("admin:lending_application_review", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application)

    @admin.display(description="申请金额(元)")
    def applicant_amount(self, obj):
        return obj.application.amount

    @admin.display(description="审查人")
    def assignee_name(self, obj):
        return obj.assignee.full_name

    @admin.display(description="分派时间", ordering="opened_at")
    def opened_local(self, obj):
        return local_text(obj.opened_at)

    @admin.display(description="处理时间")
    def closed_local(self, obj):
        return local_text(obj.closed_at) if obj.closed_at else "—"

    @admin.display(description="等待时长")
    def waited(self, obj):
        text = waited_text(obj.opened_at, obj.closed_at)
        if is_overdue(obj, services.sla_hours()):
            return format_html(
                '<span class="sla-overdue" style="color:#ba2121;font-weight:bold">{}（超时）</span>',
                text,
            )
        return text

    @admin.display(description="随机分派")
    def pool_text(self, obj):
        return f"从 {len(obj.pool)} 名候选审查人中随机抽取(按待办数加权)，种子 {obj.seed}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # tasks change only through the review page and the reassign action

    def has_delete_permission(self, request, obj=None):
        return False

    def has_reassign_permission(self, request):
        return not self._read_only(request) and request.user.has_perm(
            "lending.reassign_approvaltask"
        )

    @admin.action(description="改派(需填写原因)", permissions=["reassign"])
    def reassign_action(self, request, queryset):
        reason = request.POST.get("reason", "")

        def act(task):
            return services.approval_task_reassign(task=task, actor=request.user, reason=reason)

        run_per_row(self, request, queryset.filter(status=TaskStatus.OPEN), act, "已改派")
