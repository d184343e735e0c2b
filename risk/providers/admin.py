"""外部数据查询记录: the call log, read-only, a bank's staff seeing their bank's calls only.
Subjects are keyed hashes: no ID number is ever shown (or held)."""

from __future__ import annotations

from django.contrib import admin

from common.clock import local_text
from org.admin_mixins import TenantAdminMixin
from risk.providers.models import ProviderCall


@admin.register(ProviderCall)
class ProviderCallAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    list_display = [
        "started_local",
        "source",
        "purpose",
        "outcome",
        "subjects",
        "latency_ms",
        "asked_by_name",
        "bank",
    ]
    list_filter = ["source", "purpose", "outcome"]
    list_select_related = ["bank", "asked_by"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    fields = [
        "started_local",
        "source",
        "provider",
        "bank",
        "asked_by_name",
        "purpose",
        "subjects",
        "outcome",
        "outcome_counts",
        "latency_ms",
        "response",
    ]
    readonly_fields = fields

    @admin.display(description="查询时间", ordering="started_at")
    def started_local(self, obj):
        return local_text(obj.started_at)

    @admin.display(description="查询人")
    def asked_by_name(self, obj):
        if obj.asked_by_id is None:
            return "系统(批量)"
        staff = getattr(obj.asked_by, "staff", None)
        return getattr(staff, "full_name", None) or obj.asked_by.get_username()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
