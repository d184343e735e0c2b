"""贷款 in the admin: the loan with its schedule, transactions, journal and status history,
today's amounts due and the payoff; 办理还款 (counter repayment, prepayment, payoff, recovery
after write-off) on its own page; actions 重新放款, 撤销放款, 申请核销, 人工认定五级分类; and
贷款核销 for the checker. Every write calls a service; nothing here edits money columns."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from common.clock import local_text
from common.errors import describe_error
from common.masking import mask_account
from lending.ledger.models import Account, EntryKind, JournalLine
from lending.loans import services
from lending.loans.models import (
    Instalment,
    Loan,
    LoanClass,
    LoanEvent,
    LoanStatus,
    LoanTransaction,
    TransactionChannel,
    TransactionKind,
    WriteOff,
)
from lending.loans.services import RESCHEDULES
from org.admin_mixins import TenantAdminMixin, add_service_errors, run_per_row
from villages.admin.base import HouseholdSearchMixin


class LoanActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因", required=False, max_length=300)
    loan_class = forms.TypedChoiceField(
        label="认定分类", choices=[("", "—"), *LoanClass.choices], coerce=int, required=False
    )


class RepaymentForm(forms.Form):
    kind = forms.ChoiceField(
        label="还款类型",
        choices=[
            (TransactionKind.REPAYMENT, "还款(今日应还)"),
            (TransactionKind.PREPAYMENT, "提前还款"),
            (TransactionKind.PAYOFF, "提前结清"),
        ],
    )
    amount = forms.DecimalField(label="金额(元)", max_digits=18, decimal_places=2)
    reschedule = forms.ChoiceField(
        label="提前还款后", choices=[("", "—"), *RESCHEDULES.items()], required=False
    )
    channel = forms.ChoiceField(
        label="资金来源",
        choices=[
            (TransactionChannel.COUNTER, "柜面现金"),
            (TransactionChannel.MOBILE_BANKING, "借款人存款账户扣款"),
        ],
    )
    value_date = forms.DateField(
        label="入账日",
        required=False,
        help_text="默认今日；补记往日还款时填写实际还款日，其后的计提与还款将按日重算",
    )
    key = forms.CharField(
        label="业务编号",
        max_length=64,
        help_text="同一编号重复提交只记一次(如网络中断后重试)",
        widget=forms.HiddenInput,
    )


class RecoveryForm(forms.Form):
    amount = forms.DecimalField(label="收回金额(元)", max_digits=18, decimal_places=2)
    channel = RepaymentForm.base_fields["channel"]
    key = RepaymentForm.base_fields["key"]


def _with_reason(modeladmin, request, queryset, call, success: str) -> None:
    """An action whose service takes the 原因 typed beside the action: ``call(row, reason)``."""
    reason = request.POST.get("reason", "")
    run_per_row(modeladmin, request, queryset, lambda row: call(row, reason), success)


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
        "interest_settled",
    ]
    readonly_fields = fields
    verbose_name_plural = "还款计划(未结息期次的利息为预估)"


class TransactionInline(_ReadOnlyInline):
    model = LoanTransaction
    fields = [
        "value_date",
        "kind",
        "amount",
        "principal",
        "interest",
        "penalty",
        "to_suspense",
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
    actions = [
        "retry_disbursement_action",
        "cancel_action",
        "write_off_request_action",
        "classify_action",
    ]
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
        "quote",
        "principal_outstanding",
        "interest_outstanding",
        "penalty_outstanding",
        "principal_due",
        "interest_due",
        "principal_overdue",
        "interest_overdue",
        "suspense_balance",
        "accrued_through",
        "overdue_since",
        "days_past_due",
        "loan_class",
        "loan_class_floor",
        "allocation_order",
        "written_off",
        "recovered",
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

    @admin.display(description="今日应还 / 提前结清")
    def quote(self, obj):
        if obj.status == LoanStatus.WRITTEN_OFF:
            return format_html(
                "已核销，尚可收回 {} 元 <a class='button' href='{}'>办理核销后收回</a>",
                f"{obj.written_off - obj.recovered:,.2f}",
                reverse("admin:lending_loan_repay", args=[obj.pk]),
            )
        if obj.status != LoanStatus.ACTIVE:
            return "—"
        try:
            quote = services.loan_quote(loan=obj)
        except ValidationError as exc:
            return describe_error(exc, model=Loan)
        return format_html(
            "今日应还 <b>{}</b> 元(罚息 {}、利息 {}、本金 {})；提前结清 <b>{}</b> 元 "
            "<a class='button' href='{}'>办理还款</a>",
            f"{quote.due:,.2f}",
            f"{quote.penalty:,.2f}",
            f"{quote.interest_due:,.2f}",
            f"{quote.principal_due:,.2f}",
            f"{quote.payoff:,.2f}",
            reverse("admin:lending_loan_repay", args=[obj.pk]),
        )

    @admin.display(description="会计分录")
    def journal(self, obj):
        """Postings one by one, except the nightly accruals, summed by month and account (a
        loan has one a day: a year's would bury its repayments)."""
        accruals = (
            JournalLine.objects.filter(loan_id=obj.pk, entry__kind=EntryKind.ACCRUAL)
            .annotate(month=TruncMonth("entry__value_date"))
            .values("month", "account")
            .annotate(total=Sum("amount"), days=Count("entry_id", distinct=True))
            .order_by("month", "account")
        )
        rows = [
            (
                f"{row['month']:%Y-%m}",
                f"计提({row['days']}天)",
                Account(row["account"]).label,
                f"{row['total']:,.2f}" if row["total"] > 0 else "",
                f"{-row['total']:,.2f}" if row["total"] < 0 else "",
                row["month"],
            )
            for row in accruals
            if row["total"]
        ]
        others = (
            JournalLine.objects.filter(loan_id=obj.pk)
            .exclude(entry__kind=EntryKind.ACCRUAL)
            .select_related("entry")
            .order_by("entry__value_date", "entry_id", "-amount")
        )
        rows += [
            (
                f"{line.entry.value_date:%Y-%m-%d}",
                line.entry.get_kind_display(),
                Account(line.account).label,
                f"{line.debit:,.2f}" if line.debit is not None else "",
                f"{line.credit:,.2f}" if line.credit is not None else "",
                line.entry.value_date,
            )
            for line in others[:500]
        ]
        if not rows:
            return "—"
        rows.sort(key=lambda row: row[5])
        link = reverse("admin:lending_journalentry_changelist")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td style='text-align:right'>{}</td>"
            "<td style='text-align:right'>{}</td></tr>",
            (row[:5] for row in rows),
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
        _with_reason(
            self,
            request,
            queryset,
            lambda loan, reason: services.loan_cancel(loan=loan, actor=request.user, reason=reason),
            "已撤销",
        )

    def has_disburse_permission(self, request):
        return request.user.has_perm("lending.disburse_loan") and not self._read_only(request)

    @admin.action(description="申请核销(需填写原因)", permissions=["write_off"])
    def write_off_request_action(self, request, queryset):
        _with_reason(
            self,
            request,
            queryset,
            lambda loan, reason: services.loan_write_off_request(
                loan=loan, actor=request.user, reason=reason
            ),
            "已提交核销申请",
        )

    @admin.action(description="人工认定五级分类(选择分类并填写原因)", permissions=["classify"])
    def classify_action(self, request, queryset):
        reason = request.POST.get("reason", "")
        try:
            loan_class = int(request.POST.get("loan_class") or 0)
        except ValueError:
            loan_class = 0
        run_per_row(
            self,
            request,
            queryset,
            lambda loan: services.loan_classify(
                loan=loan, loan_class=loan_class, actor=request.user, reason=reason
            ),
            "已认定",
        )

    def has_write_off_permission(self, request):
        return request.user.has_perm("lending.add_writeoff") and not self._read_only(request)

    def has_classify_permission(self, request):
        return request.user.has_perm("lending.classify_loan") and not self._read_only(request)

    # --- 办理还款 ---------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/repay/", view(self.repay_view), name="lending_loan_repay"),
            *super().get_urls(),
        ]

    def repay_view(self, request, object_id):
        """柜面还款: the quote, then the form; on a written-off loan, 核销后收回."""
        loan = self.get_object(request, unquote(object_id))
        if loan is None:
            raise Http404("贷款不存在")
        if not request.user.has_perm("lending.repay_loan") or self._read_only(request):
            raise PermissionDenied
        recovering = loan.status == LoanStatus.WRITTEN_OFF
        form_class = RecoveryForm if recovering else RepaymentForm
        initial = {"key": uuid.uuid4().hex, "channel": TransactionChannel.COUNTER}
        form = form_class(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if recovering:
                    txn, _ = services.loan_recover(
                        loan=loan,
                        amount=data["amount"],
                        key=data["key"],
                        actor=request.user,
                        channel=data["channel"],
                    )
                else:
                    txn, _ = services.loan_repay(
                        loan=loan,
                        amount=data["amount"],
                        key=data["key"],
                        actor=request.user,
                        kind=data["kind"],
                        channel=data["channel"],
                        reschedule=data["reschedule"] or None,
                    )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"已入账：{txn.get_kind_display()} {txn.amount:,.2f} 元"
                    f"(罚息 {txn.penalty}、利息 {txn.interest}、本金 {txn.principal}"
                    f"{'、挂账 ' + str(txn.to_suspense) if txn.to_suspense else ''})",
                    messages.SUCCESS,
                )
                return redirect("admin:lending_loan_change", loan.pk)
        quote = None
        if loan.status == LoanStatus.ACTIVE:
            try:
                quote = services.loan_quote(loan=loan)
            except ValidationError as exc:
                self.message_user(request, describe_error(exc, model=Loan), messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": loan,
            "title": ("核销后收回" if recovering else "办理还款") + f"：{loan}",
            "form": form,
            "quote": quote,
            "recovering": recovering,
            "unrecovered": loan.written_off - loan.recovered,
        }
        return TemplateResponse(request, "admin/lending/loan/repay.html", context)


@admin.register(WriteOff)
class WriteOffAdmin(TenantAdminMixin, admin.ModelAdmin):
    """贷款核销: the checker approves or rejects what another member of staff asked for."""

    tenant_bank_field = "bank"
    tenant_village_field = "loan__household__village"
    action_form = LoanActionForm
    actions = ["approve_action", "reject_action"]
    list_display = [
        "loan_link",
        "status",
        "reason",
        "principal",
        "interest",
        "penalty",
        "requested_by",
        "requested_local",
        "decided_by",
        "decided_local",
    ]
    list_filter = ["status"]
    list_select_related = ["loan__borrower", "loan__product", "requested_by", "decided_by"]
    fields = [
        "loan_link",
        "status",
        "reason",
        "principal",
        "interest",
        "penalty",
        "requested_by",
        "requested_local",
        "decided_by",
        "decided_local",
        "decision_comment",
    ]
    readonly_fields = fields

    @admin.display(description="贷款")
    def loan_link(self, obj):
        return format_html(
            "<a href='{}'>{}</a>",
            reverse("admin:lending_loan_change", args=[obj.loan_id]),
            obj.loan,
        )

    @admin.display(description="申请时间", ordering="requested_at")
    def requested_local(self, obj):
        return local_text(obj.requested_at)

    @admin.display(description="审批时间")
    def decided_local(self, obj):
        return local_text(obj.decided_at)

    def has_add_permission(self, request):
        return False  # asked for from the loan (贷款 → 申请核销)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return request.user.has_perm("lending.approve_writeoff") and not self._read_only(request)

    @admin.action(description="批准核销", permissions=["approve"])
    def approve_action(self, request, queryset):
        _with_reason(
            self,
            request,
            queryset,
            lambda w, comment: services.loan_write_off_approve(
                write_off=w, actor=request.user, comment=comment
            ),
            "已核销",
        )

    @admin.action(description="驳回(需填写原因)", permissions=["approve"])
    def reject_action(self, request, queryset):
        _with_reason(
            self,
            request,
            queryset,
            lambda w, comment: services.loan_write_off_reject(
                write_off=w, actor=request.user, comment=comment
            ),
            "已驳回",
        )


@admin.register(LoanTransaction)
class LoanTransactionAdmin(TenantAdminMixin, admin.ModelAdmin):
    """交易明细 of every loan; 冲正 a repayment (the loan is replayed without it and its money
    held in suspense)."""

    tenant_bank_field = "loan__bank"
    tenant_village_field = "loan__household__village"
    action_form = LoanActionForm
    actions = ["reverse_action"]
    list_display = [
        "loan",
        "value_date",
        "kind",
        "amount",
        "principal",
        "interest",
        "penalty",
        "to_suspense",
        "channel",
        "reversed",
        "created_local",
    ]
    list_filter = ["kind", "reversed", "channel"]
    list_select_related = ["loan__borrower"]
    readonly_fields = [
        "loan",
        "kind",
        "value_date",
        "amount",
        "principal",
        "interest",
        "penalty",
        "to_suspense",
        "channel",
        "core_id",
        "reversed",
        "actor",
        "created_local",
    ]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description="记账时间", ordering="created_at")
    def created_local(self, obj):
        return local_text(obj.created_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_reverse_permission(self, request):
        return request.user.has_perm("lending.reverse_repayment") and not self._read_only(request)

    @admin.action(description="冲正(需填写原因，贷款按日重算，款项挂账)", permissions=["reverse"])
    def reverse_action(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_per_row(
            self,
            request,
            queryset,
            lambda txn: services.loan_transaction_reverse(
                txn=txn, actor=request.user, reason=reason
            ),
            "已冲正",
        )
