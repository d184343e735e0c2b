"""Back office of the rule language: rules (规则), rule sets (规则集) and derived features (衍生特征).

Every write goes through ``risk.rules.services`` / ``risk.derived_features.services``; each form's
``clean()`` runs the service's write-free check, so a broken expression is shown beside the field
with its line and column ("第1行第5列：未知的特征…"), and nothing is saved. A rule's and a derived
feature's versions, and a rule set's published versions, are listed read-only.

Who may edit follows ``risk.derived_features.ownership``: the federation's rows by federation
staff, a bank's by that bank's staff; every bank reads the federation's rows beside its own and
never another bank's.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from org.admin_mixins import AuditHistoryMixin, add_service_errors, run_per_row
from org.models import Institution
from org.tenancy import scope_for
from risk.derived_features import services as derived_services
from risk.derived_features.models import DerivedFeature, DerivedFeatureVersion
from risk.derived_features.ownership import can_edit_owned, default_owner
from risk.rules import services
from risk.rules.models import Rule, RuleSet, RuleSetMember, RuleSetVersion, RuleVersion


class OwnerFilter(admin.SimpleListFilter):
    title = "归属"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        banks = Institution.objects.banks().order_by("code")
        scope = scope_for(request.user)
        if not scope.all_banks:
            banks = banks.filter(pk=scope.bank_id)
        return [("federation", "省联社"), *[(str(b.pk), b.name) for b in banks]]

    def queryset(self, request, queryset):
        if self.value() == "federation":
            return queryset.filter(owner__isnull=True)
        if self.value():
            return queryset.filter(owner_id=self.value())
        return queryset


class OwnedAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Shared by the three: scope by owner, edit rights by owner, 404 for another bank's row."""

    model_perm = ""  # e.g. "rule": risk.add_rule / risk.change_rule

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user).select_related("owner")

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"{opts.verbose_name} {object_id} 不存在")

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return super().has_change_permission(request, obj)
        return can_edit_owned(request.user, obj.owner_id, perm=f"risk.change_{self.model_perm}")

    def has_delete_permission(self, request, obj=None):
        return False  # versions are kept for the decisions that used them; disable instead

    @admin.display(description="归属", ordering="owner__name")
    def owner_name(self, obj) -> str:
        return obj.owner.name if obj.owner_id else "省联社"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        def bound(*args, **form_kwargs):
            return form(*args, user=request.user, **form_kwargs)

        bound.base_fields = form.base_fields
        return bound

    def get_readonly_fields(self, request, obj=None):
        return ["owner_name", "code", "version"] if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = list(self.form._meta.fields)
        if obj is not None:
            return [
                "owner_name",
                "code",
                "version",
                *[f for f in fields if f not in ("owner", "code")],
            ]
        if not request.user.is_superuser:
            fields.remove("owner")
        return fields


class OwnedForm(forms.ModelForm):
    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "owner" in self.fields:
            self.fields["owner"].queryset = Institution.objects.banks().order_by("code")
            self.fields["owner"].required = False
        if "expression" in self.fields:
            self.fields["expression"].widget = forms.Textarea(
                attrs={"rows": 3, "cols": 80, "style": "font-family: monospace"}
            )

    def chosen_owner(self):
        if self.instance.pk:
            return self.instance.owner
        if "owner" in self.fields:
            return self.cleaned_data.get("owner")
        return default_owner(self.user)


# --- rules -------------------------------------------------------------------------------------


class RuleForm(OwnedForm):
    class Meta:
        model = Rule
        fields = [
            "owner",
            "code",
            "name",
            "category",
            "expression",
            "outcome",
            "reason_code",
            "reason_text",
            "source",
            "enabled",
        ]

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name) or "" for name in services.CONTENT_FIELDS}
        try:
            services.rule_check(
                owner=self.chosen_owner(),
                code=self.instance.code if self.instance.pk else cleaned.get("code") or "",
                **values,
            )
        except ValidationError as exc:
            for field in exc.message_dict:
                if field in self.errors:  # the form already says why; keep one message
                    del self.errors[field]
            add_service_errors(self, exc)
        return cleaned


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    fields = ["version", "name", "expression", "outcome", "reason_code", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "历史版本(只读，决策引用的版本永久保留)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Rule)
class RuleAdmin(OwnedAdmin):
    form = RuleForm
    model_perm = "rule"
    list_display = [
        "code",
        "name",
        "category",
        "outcome",
        "source",
        "reason_code",
        "owner_name",
        "version",
        "enabled",
        "updated_at",
    ]
    list_filter = ["category", "outcome", "source", "enabled", OwnerFilter]
    search_fields = ["code", "name", "reason_code"]
    search_help_text = "按规则编码、名称或原因码搜索"
    inlines = [RuleVersionInline]
    actions = ["enable_action", "disable_action"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        content = {name: data[name] for name in services.CONTENT_FIELDS}
        if change:
            saved = services.rule_update(
                rule=obj, by=request.user, enabled=data["enabled"], **content
            )
        else:
            saved = services.rule_create(
                by=request.user,
                owner=form.chosen_owner(),
                code=data["code"],
                enabled=data["enabled"],
                **content,
            )
        obj.__dict__.update(saved.__dict__)

    def _set_enabled(self, request, queryset, enabled: bool, label: str):
        run_per_row(
            self,
            request,
            queryset,
            lambda rule: services.rule_update(rule=rule, by=request.user, enabled=enabled),
            label,
        )

    @admin.action(description="启用所选规则")
    def enable_action(self, request, queryset):
        self._set_enabled(request, queryset, True, "已启用")

    @admin.action(description="停用所选规则")
    def disable_action(self, request, queryset):
        self._set_enabled(request, queryset, False, "已停用")


# --- rule sets ---------------------------------------------------------------------------------


class RuleSetForm(OwnedForm):
    class Meta:
        model = RuleSet
        fields = ["owner", "code", "name", "category", "mode"]

    def clean(self):
        cleaned = super().clean()
        try:
            services.rule_set_check(
                code=self.instance.code if self.instance.pk else cleaned.get("code") or "",
                name=cleaned.get("name") or "",
                category=cleaned.get("category") or "",
                mode=cleaned.get("mode") or "",
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned


class RuleSetMemberInline(admin.TabularInline):
    """The draft's ordered members; saved through ``rule_set_members_set``."""

    model = RuleSetMember
    fields = ["position", "rule"]
    autocomplete_fields = ["rule"]
    extra = 1
    ordering = ["position"]
    verbose_name_plural = "规则(按顺序执行；修改后需“发布新版本”才生效)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("rule")


class RuleSetVersionInline(admin.TabularInline):
    model = RuleSetVersion
    fields = ["version", "mode", "rule_codes", "published_by", "published_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "已发布版本(只读)"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("published_by")
            .prefetch_related("members__rule_version")
        )

    @admin.display(description="规则(版本)")
    def rule_codes(self, obj) -> str:
        return "、".join(
            f"{m.rule_version.code} v{m.rule_version.version}"
            for m in sorted(obj.members.all(), key=lambda m: m.position)
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RuleSet)
class RuleSetAdmin(OwnedAdmin):
    form = RuleSetForm
    model_perm = "ruleset"
    list_display = ["code", "name", "category", "mode", "owner_name", "version", "updated_at"]
    list_filter = ["category", "mode", OwnerFilter]
    search_fields = ["code", "name"]
    inlines = [RuleSetMemberInline, RuleSetVersionInline]
    actions = ["publish_action"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.rule_set_update(
                rule_set=obj, by=request.user, name=data["name"], mode=data["mode"]
            )
        else:
            saved = services.rule_set_create(
                by=request.user,
                owner=form.chosen_owner(),
                code=data["code"],
                name=data["name"],
                category=data["category"],
                mode=data["mode"],
            )
        obj.__dict__.update(saved.__dict__)

    def save_formset(self, request, form, formset, change):
        if formset.model is not RuleSetMember:
            return super().save_formset(request, form, formset, change)
        kept = [
            f.cleaned_data
            for f in formset.forms
            if f.cleaned_data and f.cleaned_data.get("rule") and not f.cleaned_data.get("DELETE")
        ]
        kept.sort(key=lambda row: row.get("position") or 0)
        try:
            services.rule_set_members_set(
                rule_set=form.instance, by=request.user, rules=[row["rule"] for row in kept]
            )
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, f"规则集成员未保存：{exc}", level="error")

    @admin.action(description="发布新版本(冻结当前规则版本)")
    def publish_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda rule_set: services.rule_set_version_publish(rule_set=rule_set, by=request.user),
            "已发布",
        )


# --- derived features --------------------------------------------------------------------------


class DerivedFeatureForm(OwnedForm):
    class Meta:
        model = DerivedFeature
        fields = ["owner", "code", "name", "expression", "enabled"]

    def clean(self):
        cleaned = super().clean()
        try:
            derived_services.derived_feature_check(
                owner=self.chosen_owner(),
                code=self.instance.code if self.instance.pk else cleaned.get("code") or "",
                name=cleaned.get("name") or "",
                expression=cleaned.get("expression") or "",
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned


class DerivedFeatureVersionInline(admin.TabularInline):
    model = DerivedFeatureVersion
    fields = ["version", "name", "expression", "depends_on", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "历史版本(只读)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DerivedFeature)
class DerivedFeatureAdmin(OwnedAdmin):
    form = DerivedFeatureForm
    model_perm = "derivedfeature"
    list_display = ["code", "name", "expression", "owner_name", "version", "enabled"]
    list_filter = ["enabled", OwnerFilter]
    search_fields = ["code", "name"]
    inlines = [DerivedFeatureVersionInline]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = derived_services.derived_feature_update(
                feature=obj,
                by=request.user,
                name=data["name"],
                expression=data["expression"],
                enabled=data["enabled"],
            )
        else:
            saved = derived_services.derived_feature_create(
                by=request.user,
                owner=form.chosen_owner(),
                code=data["code"],
                name=data["name"],
                expression=data["expression"],
                enabled=data["enabled"],
            )
        obj.__dict__.update(saved.__dict__)
