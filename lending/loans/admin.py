"""贷款 in the admin: the loan with its schedule, transactions, journal and status history;
actions 重新放款 and 撤销放款 call the services. Nothing here edits money columns."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from common.clock import local_text
from common.masking import mask_account
from lending.ledger.models import Account, JournalLine
from lending.loans import services
from lending.loans.models import Instalment, Loan, LoanEvent, LoanTransaction
from org.admin_mixins import TenantAdminMixin, run_per_row
from villages.admin.base import HouseholdSearchMixin


class LoanActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因", required=False, max_length=300)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InstalmentInline(_ReadOnlyInline):
    model = Instalment
    fields = [
        "number",
        "due_date",
        "principal_due",
        "interest_due",
        "principal_paid",
        "interest_paid",
    ]
    readonly_fields = fields
    verbose_name_plural = "还款计划"


class TransactionInline(_ReadOnlyInline):
    model = LoanTransaction
    fields = [
        "value_date",
        "kind",
        "amount",
        "principal",
        "interest",
        "penalty",
        "channel",
        "core_id",
        "reversed",
    ]
    readonly_fields = fields
    verbose_name_plural = "交易明细"


class EventInline(_ReadOnlyInline):
    model = LoanEvent
    fields = ["at_local", "from_status", "to_status", "actor", "comment"]
    readonly_fields = fields
    verbose_name_plural = "状态变更"

    @admin.display(description="时间")
    def at_local(self, obj):
        return local_text(obj.at)


@admin.register(Loan)
class LoanAdmin(TenantAdminMixin, HouseholdSearchMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"
    id_hash_field = "borrower__id_number_hash"
    phone_hash_fields = ("household__phone_hash",)
    action_form = LoanActionForm
    actions = ["retry_disbursement_action", "cancel_action"]
    list_display = [
        "borrower_name",
        "product_name",
        "amount",
        "principal_outstanding",
        "method",
        "start_date",
        "maturity_date",
        "status",
        "loan_class",
        "days_past_due",
    ]
    list_filter = ["status", "loan_class", "method"]
    list_select_related = ["borrower", "product"]
    search_fields = ["borrower__name"]
    show_full_result_count = False
    inlines = [InstalmentInline, TransactionInline, EventInline]
    fields = [
        "borrower_name",
        "household",
        "line",
        "application",
        "product_name",
        "product_version",
        "amount",
        "rate",
        "method",
        "term_months",
        "purpose",
        "masked_account",
        "start_date",
        "maturity_date",
        "status",
        "disbursed_at_local",
        "disbursement_core_id",
        "disbursement_error",
        "principal_outstanding",
        "interest_outstanding",
        "penalty_outstanding",
        "accrued_through",
        "days_past_due",
        "loan_class",
        "journal",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("borrower", "product", "household")

    def has_add_permission(self, request):
        return False  # drawn on a line (额度 → 用信), from the PAD, self-service or the API

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="借款人", ordering="borrower__name")
    def borrower_name(self, obj):
        return obj.borrower.name

    @admin.display(description="产品")
    def product_name(self, obj):
        return obj.product.name

    @admin.display(description="放款/还款账号")
    def masked_account(self, obj):
        return mask_account(obj.deposit_account) or "—"

    @admin.display(description="放款时间")
    def disbursed_at_local(self, obj):
        return local_text(obj.disbursed_at)

    @admin.display(description="会计分录")
    def journal(self, obj):
        lines = (
            JournalLine.objects.filter(loan_id=obj.pk)
            .select_related("entry")
            .order_by("entry__value_date", "entry_id", "-amount")
        )
        rows = [
            (
                line.entry.value_date,
                line.entry.get_kind_display(),
                Account(line.account).label,
                f"{line.debit:,.2f}" if line.debit is not None else "",
                f"{line.credit:,.2f}" if line.credit is not None else "",
            )
            for line in lines[:500]
        ]
        if not rows:
            return "—"
        link = reverse("admin:lending_journalentry_changelist")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td style='text-align:right'>{}</td>"
            "<td style='text-align:right'>{}</td></tr>",
            rows,
        )
        return format_html(
            "<table><thead><tr><th>日期</th><th>类型</th><th>科目</th><th>借方</th>"
            "<th>贷方</th></tr></thead><tbody>{}</tbody></table><a href='{}'>全部会计分录</a>",
            body,
            link,
        )

    @admin.action(description="重新放款", permissions=["disburse"])
    def retry_disbursement_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda loan: services.loan_disbursement_retry(loan=loan, actor=request.user),
            "已提交放款",
        )

    @admin.action(description="撤销放款并恢复额度", permissions=["disburse"])
    def cancel_action(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_per_row(
            self,
            request,
            queryset,
            lambda loan: services.loan_cancel(loan=loan, actor=request.user, reason=reason),
            "已撤销",
        )

    def has_disburse_permission(self, request):
        return request.user.has_perm("lending.disburse_loan") and not self._read_only(request)
