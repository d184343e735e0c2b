"""核心账户(沙箱): the sandbox core's deposit accounts and their movements, to open an account
for a borrower and watch disbursements land and repayments leave. Absent from a bank that plugs
in its own core (``CORE_BANKING_GATEWAY``): these pages are the sandbox's, not the platform's."""

from __future__ import annotations

from django.contrib import admin

from common.clock import local_text
from common.masking import mask_account
from lending.corebank.models import SandboxDepositAccount, SandboxDepositTransaction
from org.admin_mixins import TenantAdminMixin


class TransactionInline(admin.TabularInline):
    model = SandboxDepositTransaction
    fields = ["posted_local", "memo", "amount", "balance_after"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-id"]
    verbose_name_plural = "账户流水"

    @admin.display(description="交易时间")
    def posted_local(self, obj):
        return local_text(obj.posted_at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SandboxDepositAccount)
class SandboxDepositAccountAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    list_display = ["holder_name", "masked_account", "balance", "status"]
    list_filter = ["status"]
    search_fields = ["holder_name", "account"]
    fields = ["holder_name", "masked_account", "balance", "status"]
    readonly_fields = fields
    inlines = [TransactionInline]
    show_full_result_count = False

    @admin.display(description="账号")
    def masked_account(self, obj):
        return mask_account(obj.account)

    def has_add_permission(self, request):
        return False  # opened by the demo and sandbox_account_open

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
