"""会计分录: read-only (entries are append-only; a mistake is undone by a reversal, posted by the
service that made it)."""

from __future__ import annotations

from django.contrib import admin

from lending.ledger.models import JournalEntry, JournalLine
from org.admin_mixins import TenantAdminMixin


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ("account", "debit_text", "credit_text")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="借方")
    def debit_text(self, line):
        return f"{line.debit:,.2f}" if line.debit is not None else ""

    @admin.display(description="贷方")
    def credit_text(self, line):
        return f"{line.credit:,.2f}" if line.credit is not None else ""

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("value_date", "kind", "memo", "posted_at", "actor", "reverses")
    list_filter = ("kind", "value_date")
    list_select_related = ("actor", "reverses")
    search_fields = ("reference",)
    readonly_fields = (
        "bank",
        "loan_id",
        "kind",
        "value_date",
        "posted_at",
        "reference",
        "reverses",
        "actor",
        "memo",
    )
    fields = readonly_fields
    inlines = [JournalLineInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
