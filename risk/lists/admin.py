"""Back office of the risk lists (风险名单). Every change goes through ``risk.lists.services``:
the add form proposes, the actions approve, reject and remove, the button runs the peer-review
rule. ID numbers and phones are masked everywhere; search takes a whole ID number or mobile and
looks it up through the keyed hash, like the members' list."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from common.audit import audit_context
from common.clock import business_today
from common.errors import describe_error
from common.masking import mask_id_number, mask_phone
from org.admin_mixins import AuditHistoryMixin, add_service_errors, masked_column, run_per_row
from org.models import Institution
from org.tenancy import scope_for
from risk.lists import services
from risk.lists.models import RiskListEntry, RiskListEntryChange
from villages.admin.base import HouseholdSearchMixin


class RiskListActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因/意见", required=False, max_length=300)


class RiskListEntryForm(forms.ModelForm):
    """The proposal form: what ``risk_list_entry_propose`` takes, checked by the service's own
    check so a refusal shows beside its field."""

    id_number = forms.CharField(label="身份证号", max_length=18)
    phone = forms.CharField(label="手机号", max_length=20, required=False)

    class Meta:
        model = RiskListEntry
        fields = [
            "owner",
            "id_number",
            "phone",
            "device_id",
            "level",
            "reason",
            "valid_from",
            "valid_until",
        ]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["valid_from"].required = False
        self.fields["valid_from"].help_text = "留空为今天"
        if "owner" in self.fields:
            self.fields["owner"].queryset = Institution.objects.banks().order_by("code")
            self.fields["owner"].required = False

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        owner = (
            cleaned.get("owner") if "owner" in self.fields else services._default_owner(self.user)
        )
        try:
            self.proposal_owner, _ = services.risk_list_entry_propose_check(
                by=self.user,
                owner=owner,
                id_number=cleaned.get("id_number") or "",
                level=cleaned.get("level") or "",
                reason=cleaned.get("reason") or "",
                phone=cleaned.get("phone") or "",
                device_id=cleaned.get("device_id") or "",
                valid_from=cleaned.get("valid_from"),
                valid_until=cleaned.get("valid_until"),
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        except PermissionDenied as exc:
            self.add_error(None, str(exc))
        return cleaned


class EntryViewForm(forms.ModelForm):
    class Meta:
        model = RiskListEntry
        fields: list[str] = []


class OwnerFilter(admin.SimpleListFilter):
    title = "归属"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        banks = Institution.objects.banks().order_by("code")
        scope = scope_for(request.user)
        if not scope.all_banks:
            banks = banks.filter(pk=scope.bank_id)
        return [("federation", "省联社名单"), *[(str(b.pk), b.name) for b in banks]]

    def queryset(self, request, queryset):
        if self.value() == "federation":
            return queryset.filter(owner__isnull=True)
        if self.value():
            return queryset.filter(owner_id=self.value())
        return queryset


class ValidityFilter(admin.SimpleListFilter):
    title = "有效期"
    parameter_name = "validity"

    def lookups(self, request, model_admin):
        return [("current", "今日在有效期内"), ("expired", "已过期"), ("future", "未到生效日")]

    def queryset(self, request, queryset):
        today = business_today()
        if self.value() == "current":
            return queryset.filter(valid_from__lte=today).filter(
                Q(valid_until__isnull=True) | Q(valid_until__gte=today)
            )
        if self.value() == "expired":
            return queryset.filter(valid_until__lt=today)
        if self.value() == "future":
            return queryset.filter(valid_from__gt=today)
        return queryset


class RemovalPendingFilter(admin.SimpleListFilter):
    title = "移除复核"
    parameter_name = "removal"

    def lookups(self, request, model_admin):
        return [("pending", "有待复核的移除提议")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(status="active", removal_proposed_by__isnull=False)
        return queryset


class ChangeInline(admin.TabularInline):
    model = RiskListEntryChange
    fields = ["at", "action", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "变更记录(谁、何时、由何状态到何状态、原因)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RiskListEntry)
class RiskListEntryAdmin(HouseholdSearchMixin, AuditHistoryMixin, admin.ModelAdmin):
    form = RiskListEntryForm
    action_form = RiskListActionForm
    change_list_template = "admin/risk/risklistentry/change_list.html"
    id_hash_field = "id_number_hash"
    phone_hash_fields = ("phone_hash",)
    list_display = [
        "id",
        "masked_id",
        "level",
        "source",
        "owner_name",
        "status",
        "removal_pending",
        "valid_from",
        "valid_until",
        "created_by",
        "created_at",
    ]
    list_filter = [
        "level",
        "source",
        OwnerFilter,
        "status",
        ValidityFilter,
        RemovalPendingFilter,
    ]
    list_select_related = ["owner", "created_by"]
    search_fields = ["device_id"]
    search_help_text = "输入完整的身份证号、手机号或设备标识"
    inlines = [ChangeInline]
    actions = [
        "approve_action",
        "reject_action",
        "removal_propose_action",
        "removal_approve_action",
        "removal_reject_action",
    ]
    masked_id = masked_column("身份证号", "id_number", mask_id_number)
    masked_phone = masked_column("手机号", "phone", mask_phone)
    shown_fields = [
        "masked_id",
        "masked_phone",
        "device_id",
        "level",
        "source",
        "owner_name",
        "reason",
        "valid_from",
        "valid_until",
        "status",
        "rule",
        "source_ref",
        "household",
        "created_by",
        "created_at",
        "approved_by",
        "approved_at",
        "removal_proposed_by",
        "removal_proposed_at",
        "removal_reason",
        "removed_by",
        "removed_at",
    ]

    def get_queryset(self, request):
        return RiskListEntry.objects.visible_to(request.user).select_related(
            "owner",
            "created_by",
            "approved_by",
            "removal_proposed_by",
            "removed_by",
            "household",
        )

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another bank's entry is simply not there (404), as everywhere else.
        raise Http404(f"{opts.verbose_name} {object_id} 不存在")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:  # an entry is shown, never edited: the actions change it
            return super().get_form(request, obj, change=change, form=EntryViewForm, **kwargs)
        if not request.user.is_superuser:
            kwargs["fields"] = [f for f in RiskListEntryForm.Meta.fields if f != "owner"]
        form = super().get_form(request, obj, change=change, **kwargs)

        def bound(*args, **form_kwargs):
            return form(*args, user=request.user, **form_kwargs)

        bound.base_fields = form.base_fields
        return bound

    def get_fields(self, request, obj=None):
        if obj is None:
            fields = list(RiskListEntryForm.Meta.fields)
            return fields if request.user.is_superuser else [f for f in fields if f != "owner"]
        return self.shown_fields

    def get_readonly_fields(self, request, obj=None):
        return self.shown_fields if obj is not None else []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_add_permission(self, request):
        return not scope_for(request.user).sees_nothing and request.user.has_perm(
            services.PROPOSE_PERMISSION
        )

    def has_change_permission(self, request, obj=None):
        return False  # entries change only through the actions (maker-checker)

    def has_delete_permission(self, request, obj=None):
        return False  # removed entries stay, with who removed them and why

    def has_propose_permission(self, request) -> bool:
        return request.user.has_perm(services.PROPOSE_PERMISSION)

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm(services.APPROVE_PERMISSION)

    @admin.display(description="归属", ordering="owner__code")
    def owner_name(self, obj: RiskListEntry) -> str:
        return obj.owner.name if obj.owner_id else "省联社"

    @admin.display(description="移除待复核", boolean=True)
    def removal_pending(self, obj: RiskListEntry) -> bool:
        return obj.status == "active" and obj.removal_proposed_by_id is not None

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = services.risk_list_entry_propose(
            by=request.user,
            owner=getattr(form, "proposal_owner", None),
            id_number=data["id_number"],
            level=data["level"],
            reason=data["reason"],
            phone=data.get("phone") or "",
            device_id=data.get("device_id") or "",
            valid_from=data.get("valid_from"),
            valid_until=data.get("valid_until"),
        )
        obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        pass  # the change log is written by the service

    def _run(self, request, queryset, service, success: str, *, with_reason: bool = False):
        reason = request.POST.get("reason", "")

        def act(entry):
            if with_reason:
                return service(entry=entry, by=request.user, reason=reason)
            return service(entry=entry, by=request.user)

        run_per_row(self, request, queryset, act, success)

    @admin.action(description="复核通过(生效)", permissions=["approve"])
    def approve_action(self, request, queryset):
        self._run(request, queryset, services.risk_list_entry_approve, "已生效", with_reason=True)

    @admin.action(description="复核驳回(需填写意见)", permissions=["approve"])
    def reject_action(self, request, queryset):
        self._run(request, queryset, services.risk_list_entry_reject, "已驳回", with_reason=True)

    @admin.action(description="提议移除(需填写原因)", permissions=["propose"])
    def removal_propose_action(self, request, queryset):
        self._run(
            request,
            queryset,
            services.risk_list_entry_removal_propose,
            "已提议移除",
            with_reason=True,
        )

    @admin.action(description="移除复核通过", permissions=["approve"])
    def removal_approve_action(self, request, queryset):
        self._run(
            request, queryset, services.risk_list_entry_removal_approve, "已移除", with_reason=True
        )

    @admin.action(description="移除复核驳回(需填写意见)", permissions=["approve"])
    def removal_reject_action(self, request, queryset):
        self._run(
            request,
            queryset,
            services.risk_list_entry_removal_reject,
            "已驳回移除",
            with_reason=True,
        )

    # --- the peer-review rule, run now ---------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "sync-peer-review/",
                self.admin_site.admin_view(self.sync_peer_review_view),
                name="risk_risklistentry_sync_peer_review",
            ),
            *super().get_urls(),
        ]

    def may_sync(self, request) -> bool:
        """A bank's approvers run the rule for their bank; operations (superusers) for all.
        Federation staff only read bank data, and these entries belong to the banks."""
        if request.user.is_superuser:
            return True
        scope = scope_for(request.user)
        return (
            not scope.sees_nothing
            and not scope.all_banks
            and request.user.has_perm(services.APPROVE_PERMISSION)
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_sync": self.may_sync(request)}
        return super().changelist_view(request, extra_context)

    def sync_peer_review_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.may_sync(request):
            raise PermissionDenied
        scope = scope_for(request.user)
        bank = None if scope.all_banks else Institution.objects.get(pk=scope.bank_id)
        try:
            with audit_context(user=request.user.pk, url=request.path):
                result = services.risk_list_entries_sync_from_peer_review(bank=bank)
        except ValidationError as exc:
            self.message_user(request, describe_error(exc, model=self.model), messages.ERROR)
        else:
            self.message_user(
                request,
                f"已按背靠背评议结论同步风险名单：新增 {result.added} 条，自动解除 {result.ended} 条"
                + (
                    f"，{result.skipped_without_head} 户因无户主身份证号未列入"
                    if result.skipped_without_head
                    else ""
                ),
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:risk_risklistentry_changelist"))
