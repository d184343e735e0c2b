from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminPasswordChangeForm as AdminOwnPasswordChangeForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError

from common.masking import mask_phone
from org.admin_mixins import AuditHistoryMixin, TenantAdminMixin, masked_column
from org.models import DeviceToken, Institution, LoginLockout, Staff
from org.roles import Role, role_of_group_name
from org.services import (
    institution_check_parent,
    institution_create,
    institution_update,
    login_lockouts_reset,
    password_check,
    staff_check_roles,
    staff_create,
    staff_update,
    user_password_change,
    user_password_reset,
)

User = get_user_model()


class InstitutionAddForm(forms.ModelForm):
    class Meta:
        model = Institution
        fields = ["code", "name", "kind", "parent", "address", "phone"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind"):
            try:
                institution_check_parent(cleaned["kind"], cleaned.get("parent"))
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Institution)
class InstitutionAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent", "bank", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    list_select_related = ["parent", "bank"]
    ordering = ["code"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = InstitutionAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return InstitutionAddForm.Meta.fields
        return ["code", "kind", "parent", "bank", "name", "address", "phone", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "kind", "parent", "bank"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            institution_update(
                institution=obj,
                name=data["name"],
                address=data["address"],
                phone=data["phone"],
                is_active=data["is_active"],
            )
            return
        created = institution_create(
            code=data["code"],
            name=data["name"],
            kind=data["kind"],
            parent=data.get("parent"),
            address=data.get("address", ""),
            phone=data.get("phone", ""),
        )
        obj.pk, obj.bank_id = created.pk, created.bank_id


ROLE_CHOICES = [(role.value, role.label) for role in Role]


class StaffForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        label="岗位角色", choices=ROLE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Staff
        fields = ["full_name", "institution", "employee_no", "phone", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            if "employee_no" in self.fields:  # absent on a view-only page
                self.fields["employee_no"].disabled = True
            names = self.instance.user.groups.values_list("name", flat=True)
            self.initial["roles"] = [r.value for r in map(role_of_group_name, names) if r]

    def clean(self):
        cleaned = super().clean()
        institution = cleaned.get("institution")
        if institution is not None:
            try:
                staff_check_roles([Role(r) for r in cleaned.get("roles", [])], institution)
            except ValidationError as exc:
                self.add_error("roles", exc.message_dict.get("roles"))
            if self.instance.pk and institution.bank_id != self.instance.bank_id:
                self.add_error("institution", "员工只能在本法人行社内调动")
        return cleaned


class StaffAddForm(StaffForm):
    username = forms.CharField(label="登录名", max_length=150)
    password = forms.CharField(label="初始密码", widget=forms.PasswordInput, min_length=8)

    class Meta(StaffForm.Meta):
        fields = ["username", "password", *StaffForm.Meta.fields]

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username=username).exists():
            raise ValidationError(f"登录名 {username} 已被使用")
        return username

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            # The same validators the service applies, shown beside the field instead of a 500.
            candidate = User(
                username=cleaned.get("username", ""), first_name=cleaned.get("full_name", "")
            )
            try:
                password_check(password=cleaned["password"], user=candidate)
            except ValidationError as exc:
                self.add_error("password", exc.message_dict["password"])
        return cleaned


@admin.register(Staff)
class StaffAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    form = StaffForm
    list_display = ["full_name", "employee_no", "institution", "bank", "role_names", "is_active"]
    list_filter = ["is_active", "institution__kind"]
    search_fields = ["full_name", "employee_no", "user__username"]
    list_select_related = ["institution", "bank", "user"]
    autocomplete_fields = ["institution"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("user__groups")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = StaffForm if obj is not None else StaffAddForm
        # The form declares its fields; a view-only page (risk officers, the federation) needs
        # them named so that Django can show them all read-only (None was a server error).
        may_change = obj is None or self.has_change_permission(request, obj)
        kwargs["fields"] = None if may_change else self.get_fields(request, obj)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        base = ["full_name", "institution", "employee_no", "phone", "is_active", "roles"]
        if obj is not None and not self.has_change_permission(request, obj):
            # A view-only page prints values as text: the work phone is shown masked there.
            return [("masked_phone" if name == "phone" else name) for name in base]
        return base if obj is not None else ["username", "password", *base]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            readonly.append("masked_phone")
        return readonly

    masked_phone = masked_column("手机号", "phone", mask_phone)

    @admin.display(description="岗位角色")
    def role_names(self, obj: Staff) -> str:
        return "、".join(group.name for group in obj.user.groups.all())

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        roles = [Role(r) for r in data.get("roles", [])]
        if change:
            staff_update(
                staff=obj,
                full_name=data["full_name"],
                institution=data["institution"],
                phone=data["phone"],
                is_active=data["is_active"],
                roles=roles,
            )
            return
        created = staff_create(
            username=data["username"],
            password=data["password"],
            full_name=data["full_name"],
            institution=data["institution"],
            employee_no=data["employee_no"],
            phone=data.get("phone", ""),
            roles=roles,
            # The administrator knows this password: its holder replaces it at first sign-in.
            must_change_password=True,
        )
        obj.pk, obj.user_id, obj.bank_id = created.pk, created.user_id, created.bank_id

    def save_related(self, request, form, formsets, change):
        # Roles are written by the service in save_model; there are no inlines to save.
        pass


@admin.register(DeviceToken)
class DeviceTokenAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "user__staff__bank"
    list_display = ["user", "device_name", "device_id", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username", "device_id", "device_name"]
    readonly_fields = ["user", "device_id", "device_name", "created", "expiry", "token_key"]
    exclude = ["digest"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OwnPasswordChangeForm(AdminOwnPasswordChangeForm):
    """修改密码 (the admin's own-password page) through the service, which also lifts a forced
    change; the new password may not be the one an administrator handed out."""

    def clean(self):
        cleaned = super().clean()
        new = cleaned.get("new_password2")
        if new and cleaned.get("old_password") == new:
            self.add_error("new_password2", "新密码不能与原密码相同")
        return cleaned

    def save(self, commit=True):
        user_password_change(user=self.user, new_password=self.cleaned_data["new_password1"])
        return self.user


class ResetPasswordForm(AdminPasswordChangeForm):
    """An administrator setting someone's password (用户 → 修改密码): through the service, which
    makes its holder change it at next sign-in and signs their tablets out."""

    def save(self, commit=True):
        if not self.cleaned_data.get("set_usable_password", True):
            return super().save(commit=commit)
        user_password_reset(user=self.user, new_password=self.cleaned_data["password1"])
        return self.user


def own_password_change(request, extra_context=None):
    """The admin's 修改密码 page with :class:`OwnPasswordChangeForm` (Django's AdminSite takes no
    form class); config.urls routes /admin/password_change/ here, ahead of the admin's own."""
    from django.contrib.auth.views import PasswordChangeView
    from django.urls import reverse

    request.current_app = admin.site.name
    return PasswordChangeView.as_view(
        form_class=OwnPasswordChangeForm,
        success_url=reverse("admin:password_change_done"),
        extra_context={**admin.site.each_context(request), **(extra_context or {})},
    )(request)


admin.site.unregister(User)


@admin.register(User)
class BankUserAdmin(TenantAdminMixin, UserAdmin):
    """Bank administrators manage their own bank's logins, never privileges or other banks."""

    tenant_bank_field = "staff__bank"
    change_password_form = ResetPasswordForm
    list_display = ["username", "first_name", "is_active", "last_login"]

    def has_add_permission(self, request, *args):
        # Logins are created with their staff record (员工 → 新增), so they carry a bank.
        return request.user.is_superuser

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser or obj is None:
            return super().get_fieldsets(request, obj)
        return [(None, {"fields": ["username", "password", "first_name", "is_active"]})]


@admin.register(LoginLockout)
class LoginLockoutAdmin(admin.ModelAdmin):
    """Failed sign-ins counted by django-axes, per account and address (admin and API alike).

    Shared across banks (a row names a login and an address, not a bank), so only the
    federation's administrators and superusers see it; a bank's administrator asks them.
    """

    list_display = [
        "username_label",
        "ip_label",
        "failures_label",
        "locked_label",
        "last_attempt_label",
        "path_label",
    ]
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]
    actions = ["lift_locks"]
    fields = ["username", "ip_address", "user_agent", "path_info", "failures_since_start"]
    readonly_fields = fields

    @admin.display(description="登录名", ordering="username")
    def username_label(self, obj: LoginLockout) -> str:
        return obj.username or "（未填）"

    @admin.display(description="地址", ordering="ip_address")
    def ip_label(self, obj: LoginLockout) -> str:
        return obj.ip_address or ""

    @admin.display(description="失败次数", ordering="failures_since_start")
    def failures_label(self, obj: LoginLockout) -> int:
        return obj.failures_since_start

    @admin.display(description="已锁定", boolean=True)
    def locked_label(self, obj: LoginLockout) -> bool:
        return obj.failures_since_start >= settings.AXES_FAILURE_LIMIT

    @admin.display(description="最近一次失败", ordering="attempt_time")
    def last_attempt_label(self, obj: LoginLockout):
        return obj.attempt_time

    @admin.display(description="登录入口")
    def path_label(self, obj: LoginLockout) -> str:
        return obj.path_info

    @admin.action(description="解除所选登录锁定", permissions=["delete"])
    def lift_locks(self, request, queryset):
        count = login_lockouts_reset(lockouts=queryset, reset_by=request.user)
        self.message_user(request, f"已解除 {count} 项登录锁定")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # 解除锁定 says what deleting a count means
        return actions

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
