"""授信额度, 授信额度变更 and 预授信批次 in the admin: every write through the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from common.clock import local_text
from lending.lines import services
from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval
from org.admin_mixins import TenantAdminMixin, add_service_errors, run_per_row
from org.tenancy import scope_queryset
from villages.admin.base import HouseholdSearchMixin
from villages.models import Campaign, Member


class LineActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因", required=False, max_length=300)


class SubLineForm(forms.ModelForm):
    """分配分额度: a member's share of a master line, checked by the service's own check so a
    refusal shows beside its field."""

    class Meta:
        model = CreditLine
        fields = ["parent", "member", "amount"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].required = True
        self.fields["parent"].label = "主额度"
        self.fields["member"].required = True
        if request is not None:
            masters = scope_queryset(CreditLine.objects.masters().open(), request.user)
            self.fields["parent"].queryset = masters.select_related("household__head")
            self.fields["parent"].label_from_instance = _master_label
            self.fields["member"].queryset = Member.objects.filter(
                household__in=masters.values("household")
            )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            services.credit_line_sub_check(
                master=data["parent"], member=data.get("member"), amount=data.get("amount")
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


def _master_label(line: CreditLine) -> str:
    head = line.household.head
    owner = f"{head.name}户" if head is not None else "农户"
    return f"{owner} 授信 {line.amount} 元（{line.get_status_display()}）"


class ChangeInline(admin.TabularInline):
    model = CreditLineChange
    fields = ["at_local", "action", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "变更记录"

    @admin.display(description="时间")
    def at_local(self, obj):
        return local_text(obj.at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CreditLine)
class CreditLineAdmin(TenantAdminMixin, HouseholdSearchMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"
    id_hash_field = "household__head__id_number_hash"
    phone_hash_fields = ("household__phone_hash",)
    action_form = LineActionForm
    actions = ["freeze_action", "unfreeze_action", "close_action"]
    list_display = [
        "__str__",
        "product_name",
        "amount",
        "drawn",
        "available_amount",
        "rate",
        "valid_until",
        "status",
    ]
    list_filter = ["status"]
    list_select_related = ["household__head", "member", "product"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("household__head", "member", "product")

    search_fields = ["household__head__name", "member__name"]
    inlines = [ChangeInline]
    fields = [
        "owner",
        "parent",
        "product_name",
        "product_version",
        "amount",
        "drawn",
        "available_amount",
        "rate",
        "valid_from",
        "valid_until",
        "status",
        "campaign",
        "decision_link",
    ]
    readonly_fields = fields

    @admin.display(description="户/成员")
    def owner(self, obj):
        if obj.member_id:
            return f"{obj.member.name}（分额度）"
        head = obj.household.head
        return f"{head.name}户" if head is not None else str(obj.household)

    @admin.display(description="产品")
    def product_name(self, obj):
        return obj.product.name

    @admin.display(description="可用额度")
    def available_amount(self, obj):
        return obj.available

    @admin.display(description="所依据的决策")
    def decision_link(self, obj):
        from django.urls import reverse
        from django.utils.html import format_html

        if not obj.decision_id:
            return "—"
        url = reverse("admin:risk_decision_change", args=[obj.decision_id])
        return format_html('<a href="{}">查看决策与决策过程</a>', url)

    # Adding here means giving a member a share of a master line (分配分额度); master lines come
    # from a campaign's pre-approval (预授信批次).
    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = SubLineForm

            class BoundForm(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            return BoundForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["parent", "member", "amount"] if obj is None else self.fields

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "title": "分配分额度"}
        return super().add_view(request, form_url, extra_context)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        line = services.credit_line_sub_create(
            master=data["parent"], member=data["member"], amount=data["amount"], actor=request.user
        )
        obj.pk = line.pk

    def save_related(self, request, form, formsets, change):
        pass  # the change log is written by the service

    def has_change_permission(self, request, obj=None):
        # The page is read-only; changes go through the actions and the services.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return not self._read_only(request) and request.user.has_perm("lending.change_creditline")

    def has_delete_permission(self, request, obj=None):
        return False

    def has_transition_permission(self, request):
        return not self._read_only(request) and request.user.has_perm("lending.change_creditline")

    def _transition(self, request, queryset, action, success):
        reason = request.POST.get("reason", "")

        def act(line):
            return services.credit_line_transition(
                line=line, action=action, actor=request.user, reason=reason
            )

        run_per_row(self, request, queryset, act, success)

    @admin.action(description="冻结(需填写原因)", permissions=["transition"])
    def freeze_action(self, request, queryset):
        self._transition(request, queryset, CreditLineChange.Action.FREEZE, "已冻结")

    @admin.action(description="解冻(需填写原因)", permissions=["transition"])
    def unfreeze_action(self, request, queryset):
        self._transition(request, queryset, CreditLineChange.Action.UNFREEZE, "已解冻")

    @admin.action(description="关闭(需填写原因)", permissions=["transition"])
    def close_action(self, request, queryset):
        self._transition(request, queryset, CreditLineChange.Action.CLOSE, "已关闭")


class PreapprovalForm(forms.ModelForm):
    class Meta:
        model = LinePreapproval
        fields = ["campaign"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        if request is not None:
            self.fields["campaign"].queryset = scope_queryset(
                Campaign.objects.select_related("village"), request.user
            )

    def clean_campaign(self):
        campaign = self.cleaned_data["campaign"]
        try:
            services.line_preapproval_check(campaign=campaign)
        except ValidationError as exc:
            add_service_errors(self, exc)
        return campaign


@admin.register(LinePreapproval)
class LinePreapprovalAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    tenant_village_field = "campaign__village"
    list_display = [
        "__str__",
        "campaign",
        "status",
        "decisions",
        "created",
        "already",
        "requested_by",
        "created_local",
    ]
    list_filter = ["status"]
    list_select_related = ["campaign", "requested_by"]
    readonly = [
        "campaign",
        "status",
        "decisions",
        "created",
        "already",
        "error",
        "requested_by",
        "created_local",
        "finished_local",
    ]

    @admin.display(description="发起时间", ordering="created_at")
    def created_local(self, obj):
        return local_text(obj.created_at)

    @admin.display(description="完成时间")
    def finished_local(self, obj):
        return local_text(obj.finished_at)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:

            class BoundForm(PreapprovalForm):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            return BoundForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["campaign"] if obj is None else self.readonly

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly

    def save_model(self, request, obj, form, change):
        run = services.line_preapproval_request(
            campaign=form.cleaned_data["campaign"], actor=request.user
        )
        obj.pk = run.pk

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
