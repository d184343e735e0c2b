"""Back office of the limit and pricing models (额度模型 / 定价模型) and the 试算 page.

Every write goes through ``risk.pricing.services``: the add form creates a model with its first
draft, a draft's parameter tables are edited cell by cell (each refusal beside its cell), the
actions submit, activate (a second person) and send back, and "新建版本" starts a new draft from
the latest version. Versions other than drafts are shown read-only. The 试算 page runs the
formula on numbers staff type in and shows every step."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from common.clock import business_today
from common.errors import describe_error
from org.admin_mixins import AuditHistoryMixin, add_service_errors, run_per_row
from org.tenancy import scope_for
from products.models import CREDIT_GRADES, Product
from products.selectors import product_terms_effective
from risk.pricing import services
from risk.pricing.limits import LIMIT_STEP_LABELS, limit_for_row
from risk.pricing.models import (
    LimitModel,
    LimitModelChange,
    LimitModelVersion,
    PricingModel,
    PricingModelChange,
    PricingModelVersion,
)
from risk.pricing.parameters import COLOUR_LABELS, COLOURS, table_field
from risk.pricing.rates import RATE_STEP_LABELS, rate_for_row
from risk.pricing.selectors import decision_lpr, limit_model_effective, pricing_model_effective

# (table, label, keys, required) per kind; scalar parameters are ordinary model fields.
TABLES = {
    "limit": [
        ("income_multiples", "收入倍数", CREDIT_GRADES),
        ("asset_shares", "净资产比例", CREDIT_GRADES),
        ("colour_multipliers", "评议调整系数", COLOURS),
    ],
    "pricing": [
        ("spreads_by_grade", "评级加点(百分点)", CREDIT_GRADES),
        ("colour_adjustments", "评议利率调整(百分点)", COLOURS),
    ],
}
SCALARS = {
    "limit": ["no_review_multiplier", "cap_at_suggested_amount", "max_debt_ratio"],
    "pricing": ["no_review_adjustment"],
}


def _kind_name(kind) -> str:
    return "limit" if kind is services.LIMIT else "pricing"


def _key_label(key: str) -> str:
    return COLOUR_LABELS.get(key, key)


class ParameterTableForm(forms.ModelForm):
    """A version's tables as one text box per cell (``income_multiples_AAA``…), checked by the
    service's own check so each refusal shows beside its cell."""

    kind = services.LIMIT

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        source = self._table_source()
        for table, _, keys in TABLES[_kind_name(self.kind)]:
            current = source.get(table) or {}
            for key in keys:
                self.initial.setdefault(table_field(table, key), current.get(key, ""))

    def _table_source(self) -> dict:
        version = getattr(self, "version_for_tables", None)
        if version is not None:
            return {t: getattr(version, t) for t, _, _ in TABLES[_kind_name(self.kind)]}
        if self.instance is not None and self.instance.pk and hasattr(self.instance, "number"):
            return {t: getattr(self.instance, t) for t, _, _ in TABLES[_kind_name(self.kind)]}
        from risk.pricing import defaults

        return (
            defaults.LIMIT_PARAMETERS
            if self.kind is services.LIMIT
            else defaults.PRICING_PARAMETERS
        )

    def parameters(self) -> dict:
        data = self.cleaned_data
        values = {}
        for table, _, keys in TABLES[_kind_name(self.kind)]:
            values[table] = {
                key: data.get(table_field(table, key)).strip()
                for key in keys
                if (data.get(table_field(table, key)) or "").strip()
            }
        for name in SCALARS[_kind_name(self.kind)]:
            if name in data:
                values[name] = data[name]
        return values

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            services.model_parameters_check(
                kind=self.kind,
                parameters=self.parameters(),
                effective_from=cleaned.get("effective_from"),
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned


def _cell_fields(kind) -> dict[str, forms.Field]:
    """One text box per table cell, declared on the form class (the admin checks its fields
    against the class)."""
    fields = {}
    for table, label, keys in TABLES[_kind_name(kind)]:
        for key in keys:
            fields[table_field(table, key)] = forms.CharField(
                label=f"{label}·{_key_label(key)}",
                required=False,
                widget=forms.TextInput(attrs={"size": 8}),
                help_text="留空则使用产品的按评级加点" if table == "spreads_by_grade" else "",
            )
    return fields


def _model_form(kind):
    class Meta:
        model = kind.model
        fields = ["code", "name", "description", "is_default"]

    attrs = {
        "Meta": Meta,
        "kind": kind,
        "effective_from": forms.DateField(
            label="生效日期", required=False, help_text="留空为复核当日"
        ),
        **{
            name: kind.version._meta.get_field(name).formfield()
            for name in SCALARS[_kind_name(kind)]
        },
        **_cell_fields(kind),
    }
    return type(f"{kind.model.__name__}CreateForm", (ParameterTableForm,), attrs)


def _version_form(kind):
    class Meta:
        model = kind.version
        fields = ["effective_from", "change_note", *SCALARS[_kind_name(kind)]]

    attrs = {"Meta": Meta, "kind": kind, **_cell_fields(kind)}
    return type(f"{kind.version.__name__}Form", (ParameterTableForm,), attrs)


class ReasonActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="退回意见", required=False, max_length=300)


def parameter_table(version):
    """The version's tables as an HTML table (read-only display)."""
    name = "limit" if isinstance(version, LimitModelVersion) else "pricing"
    rows = []
    for table, label, keys in TABLES[name]:
        values = getattr(version, table) or {}
        cells = format_html_join(
            "", "<td>{}：{}</td>", ((_key_label(k), values.get(k, "—")) for k in keys)
        )
        rows.append((label, cells))
    return format_html(
        '<table class="pricing-parameters">{}</table>',
        format_html_join("", "<tr><th>{}</th>{}</tr>", rows),
    )


class _ChangeInline(admin.TabularInline):
    fields = ["at", "action", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "变更记录(谁、何时、由何状态到何状态、原因)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LimitChangeInline(_ChangeInline):
    model = LimitModelChange


class PricingChangeInline(_ChangeInline):
    model = PricingModelChange


class _VersionInline(admin.TabularInline):
    fields = [
        "version_link",
        "status",
        "effective_from",
        "change_note",
        "created_by",
        "approved_by",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "版本"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="版本")
    def version_link(self, obj):
        opts = obj._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.number)


class LimitVersionInline(_VersionInline):
    model = LimitModelVersion


class PricingVersionInline(_VersionInline):
    model = PricingModelVersion


class _ModelAdmin(AuditHistoryMixin, admin.ModelAdmin):
    kind = services.LIMIT
    change_list_template = "admin/risk/pricing/change_list.html"
    list_display = ["code", "name", "owner_label", "is_default", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["code", "name"]
    actions = ["derive_action"]

    def get_queryset(self, request):
        return self.kind.model.objects.visible_to(request.user).select_related("owner")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = _model_form(self.kind)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            form = _model_form(self.kind)
            return [
                *form.Meta.fields,
                "effective_from",
                *SCALARS[_kind_name(self.kind)],
                *[table_field(t, k) for t, _, keys in TABLES[_kind_name(self.kind)] for k in keys],
            ]
        return ["code", "name", "owner_label", "description", "is_default", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_add_permission(self, request):
        return not scope_for(request.user).sees_nothing and request.user.has_perm(
            self.kind.manage_perm
        )

    def has_change_permission(self, request, obj=None):
        return False  # a model's numbers change through its versions

    def has_delete_permission(self, request, obj=None):
        return False  # decisions name the versions

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm(self.kind.manage_perm)

    @admin.display(description="归属", ordering="owner__code")
    def owner_label(self, obj) -> str:
        return obj.owner_name

    def save_model(self, request, obj, form, change):
        create = (
            services.limit_model_create
            if self.kind is services.LIMIT
            else (services.pricing_model_create)
        )
        data = form.cleaned_data
        owner = services.default_owner(request.user)
        version = create(
            actor=request.user,
            owner=owner,
            code=data["code"],
            name=data["name"],
            description=data.get("description") or "",
            is_default=data.get("is_default", True),
            parameters=form.parameters(),
            effective_from=data.get("effective_from"),
        )
        obj.pk = version.model_id

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(description="新建版本(基于最新版本修改)", permissions=["manage"])
    def derive_action(self, request, queryset):
        derive = (
            services.limit_model_version_derive
            if self.kind is services.LIMIT
            else (services.pricing_model_version_derive)
        )
        run_per_row(
            self, request, queryset, lambda m: derive(model=m, actor=request.user), "已新建草稿版本"
        )

    # --- 试算 ----------------------------------------------------------------------------------

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "trial/",
                self.admin_site.admin_view(self.trial_view),
                name=f"{opts.app_label}_{opts.model_name}_trial",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        opts = self.model._meta
        extra_context = {
            **(extra_context or {}),
            "trial_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_trial"),
        }
        return super().changelist_view(request, extra_context)

    def trial_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TrialForm(request.POST or None, user=request.user)
        outcome = None
        if request.method == "POST" and form.is_valid():
            try:
                outcome = trial_run(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, describe_error(exc))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "额度与利率试算",
            "form": form,
            "outcome": outcome,
        }
        return TemplateResponse(request, "admin/risk/pricing/trial.html", context)


@admin.register(LimitModel)
class LimitModelAdmin(_ModelAdmin):
    kind = services.LIMIT
    inlines = [LimitVersionInline]


@admin.register(PricingModel)
class PricingModelAdmin(_ModelAdmin):
    kind = services.PRICING
    inlines = [PricingVersionInline]


class _VersionAdmin(AuditHistoryMixin, admin.ModelAdmin):
    kind = services.LIMIT
    action_form = ReasonActionForm
    list_display = [
        "__str__",
        "model",
        "number",
        "status",
        "effective_from",
        "created_by",
        "approved_by",
    ]
    list_filter = ["status"]
    list_select_related = ["model", "model__owner", "created_by", "approved_by"]
    actions = ["submit_action", "activate_action", "send_back_action"]
    shown = [
        "model",
        "number",
        "status",
        "effective_from",
        "change_note",
        "parameters_shown",
        "created_by",
        "submitted_by",
        "submitted_at",
        "approved_by",
        "activated_at",
        "superseded_at",
    ]

    def get_queryset(self, request):
        return self.kind.version.objects.visible_to(request.user).select_related(
            "model", "model__owner", "created_by", "approved_by"
        )

    def _editable(self, request, obj) -> bool:
        return (
            obj is not None
            and obj.status == "draft"
            and services.can_act_on(request.user, obj.model.owner_id, perm=self.kind.manage_perm)
        )

    def has_add_permission(self, request):
        return False  # a draft starts from its model (新建版本)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return request.user.has_perm(self.kind.manage_perm)
        return self._editable(request, obj)

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm(self.kind.manage_perm)

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm(self.kind.activate_perm)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self._editable(request, obj):
            kwargs["form"] = _version_form(self.kind)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if self._editable(request, obj):
            form = _version_form(self.kind)
            cells = [
                table_field(t, k) for t, _, keys in TABLES[_kind_name(self.kind)] for k in keys
            ]
            return [*form._meta.fields, *cells]
        return [*self.shown[:5], *SCALARS[_kind_name(self.kind)], *self.shown[5:]]

    def get_readonly_fields(self, request, obj=None):
        return [] if self._editable(request, obj) else self.get_fields(request, obj)

    @admin.display(description="参数表")
    def parameters_shown(self, obj):
        return parameter_table(obj)

    def save_model(self, request, obj, form, change):
        update = (
            services.limit_model_version_update
            if self.kind is services.LIMIT
            else (services.pricing_model_version_update)
        )
        data = form.cleaned_data
        update(
            version=obj,
            actor=request.user,
            parameters=form.parameters(),
            effective_from=data.get("effective_from"),
            change_note=data.get("change_note") or "",
        )

    def _service(self, action: str):
        prefix = "limit" if self.kind is services.LIMIT else "pricing"
        return getattr(services, f"{prefix}_model_version_{action}")

    @admin.action(description="提交复核", permissions=["manage"])
    def submit_action(self, request, queryset):
        submit = self._service("submit")
        run_per_row(
            self, request, queryset, lambda v: submit(version=v, actor=request.user), "已提交复核"
        )

    @admin.action(description="复核生效(双人复核)", permissions=["activate"])
    def activate_action(self, request, queryset):
        activate = self._service("activate")
        run_per_row(
            self, request, queryset, lambda v: activate(version=v, actor=request.user), "已生效"
        )

    @admin.action(description="退回修改(需填写意见)", permissions=["activate"])
    def send_back_action(self, request, queryset):
        send_back = self._service("send_back")
        reason = request.POST.get("reason", "")
        run_per_row(
            self,
            request,
            queryset,
            lambda v: send_back(version=v, actor=request.user, reason=reason),
            "已退回",
        )


@admin.register(LimitModelVersion)
class LimitModelVersionAdmin(_VersionAdmin):
    kind = services.LIMIT
    inlines = [LimitChangeInline]


@admin.register(PricingModelVersion)
class PricingModelVersionAdmin(_VersionAdmin):
    kind = services.PRICING
    inlines = [PricingChangeInline]


# --- 试算 (try it) -------------------------------------------------------------------------------

NO_REVIEW = "none"


class TrialForm(forms.Form):
    product = forms.ModelChoiceField(label="贷款产品", queryset=Product.objects.none())
    grade = forms.ChoiceField(label="信用评级", choices=[(g, g) for g in CREDIT_GRADES])
    net_income = forms.DecimalField(
        label="家庭净收入(元)",
        max_digits=14,
        decimal_places=2,
        required=False,
        help_text="留空表示缺少经济档案",
    )
    total_assets = forms.DecimalField(
        label="总资产(元)", max_digits=14, decimal_places=2, required=False
    )
    debts = forms.DecimalField(label="负债(元)", max_digits=14, decimal_places=2, required=False)
    colour = forms.ChoiceField(
        label="背靠背评议结论",
        choices=[(NO_REVIEW, "未评议"), *[(c, COLOUR_LABELS[c]) for c in COLOURS]],
    )
    suggested_amount = forms.DecimalField(
        label="评议建议额度(元)", max_digits=14, decimal_places=2, required=False
    )
    on_date = forms.DateField(label="决策日期", required=False, help_text="留空为今天")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.visible_to(user).order_by("code")


def trial_run(
    *, user, product, grade, net_income, total_assets, debts, colour, suggested_amount, on_date=None
) -> dict:
    """The limit and rate the user's bank would give these numbers today (or on ``on_date``),
    with every step; writes nothing."""
    on_date = on_date or business_today()
    scope = scope_for(user)
    bank_id = None if scope.all_banks else scope.bank_id
    terms = product_terms_effective(product=product, on_date=on_date)
    limit_version = limit_model_effective(bank_id=bank_id, on_date=on_date)
    pricing_version = pricing_model_effective(bank_id=bank_id, on_date=on_date)
    if limit_version is None or pricing_version is None:
        raise ValidationError("没有生效的额度模型或定价模型")
    colour = None if colour == NO_REVIEW else colour
    limit = limit_for_row(
        limit_version,
        grade=grade,
        net_income=net_income,
        total_assets=total_assets,
        debts=debts,
        colour=colour,
        suggested_amount=suggested_amount,
        terms=terms,
    )
    rate = rate_for_row(
        pricing_version,
        grade=grade,
        colour=colour,
        lpr=decision_lpr(terms=terms, on_date=on_date),
        terms=terms,
    )
    return {
        "on_date": on_date,
        "limit_version": limit_version,
        "pricing_version": pricing_version,
        "terms": terms,
        "limit": limit,
        "limit_steps": [(LIMIT_STEP_LABELS[s], v) for s, v in limit.steps],
        "rate": rate,
        "rate_steps": [(RATE_STEP_LABELS[s], v) for s, v in rate.steps],
        "amount_display": f"{limit.amount:,.0f}",
        "rate_display": f"{rate.rate:.4f}" if rate.rate != Decimal("0") else "—",
    }
