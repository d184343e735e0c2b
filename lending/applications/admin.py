"""贷款申请 in the admin: the list by state and channel, an application's parties, decision and
timeline; withdrawal through the service; the review page (``admin_review``) where reviewers
decide and account managers submit investigations and supplements."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html

from common.clock import local_text
from lending.applications import services
from lending.applications.models import Application, ApplicationEvent, ApplicationParty
from org.admin_mixins import TenantAdminMixin, run_per_row
from villages.admin.base import HouseholdSearchMixin


class ApplicationActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因", required=False, max_length=300)


class PartyInline(admin.TabularInline):
    model = ApplicationParty
    fields = ["member_name", "role", "consented_local"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="成员")
    def member_name(self, obj):
        return obj.member.name

    @admin.display(description="同意时间")
    def consented_local(self, obj):
        return local_text(obj.consented_at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = ApplicationEvent
    fields = ["at_local", "from_status", "to_status", "actor", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "流转记录"

    @admin.display(description="时间")
    def at_local(self, obj):
        return local_text(obj.at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Application)
class ApplicationAdmin(TenantAdminMixin, HouseholdSearchMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"
    id_hash_field = "applicant__id_number_hash"
    phone_hash_fields = ("applicant__phone_hash",)
    action_form = ApplicationActionForm
    actions = ["withdraw_action"]
    list_display = [
        "__str__",
        "review_link",
        "amount",
        "term_months",
        "channel",
        "status",
        "submitted_local",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["applicant", "product"]
    search_fields = ["applicant__name"]
    inlines = [PartyInline, EventInline]
    fields = [
        "review_link",
        "applicant_name",
        "product_name",
        "amount",
        "term_months",
        "repayment_method",
        "purpose",
        "channel",
        "status",
        "approval_levels_text",
        "approved_amount",
        "approved_rate",
        "decision_link",
        "submitted_local",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("applicant", "product")

    def get_urls(self):
        from lending.applications.admin_review import review_view

        review = self.admin_site.admin_view(
            lambda request, object_id: review_view(self, request, object_id)
        )
        return [
            path("<int:object_id>/review/", review, name="lending_application_review"),
            *super().get_urls(),
        ]

    @admin.display(description="审查审批")
    def review_link(self, obj):
        url = reverse("admin:lending_application_review", args=[obj.pk])
        return format_html('<a href="{}">打开审查页</a>', url)

    @admin.display(description="申请人")
    def applicant_name(self, obj):
        return obj.applicant.name

    @admin.display(description="产品")
    def product_name(self, obj):
        return obj.product.name

    @admin.display(description="提交时间", ordering="submitted_at")
    def submitted_local(self, obj):
        return local_text(obj.submitted_at)

    @admin.display(description="所需审批层级")
    def approval_levels_text(self, obj):
        from risk.decisions.selectors import approval_level_label

        return "、".join(approval_level_label(level) for level in obj.approval_levels) or "—"

    @admin.display(description="决策")
    def decision_link(self, obj):
        if not obj.decision_id:
            return "—"
        url = reverse("admin:risk_decision_change", args=[obj.decision_id])
        return format_html('<a href="{}">查看决策原因与决策过程</a>', url)

    def has_add_permission(self, request):
        return False  # applications come from the PAD, self-service and the counter API

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_withdraw_permission(self, request):
        return not self._read_only(request) and request.user.has_perm("lending.change_application")

    @admin.action(description="撤回申请(需填写原因)", permissions=["withdraw"])
    def withdraw_action(self, request, queryset):
        reason = request.POST.get("reason", "")

        def act(application):
            return services.application_withdraw(
                application=application, actor=request.user, reason=reason
            )

        run_per_row(self, request, queryset, act, "已撤回")
