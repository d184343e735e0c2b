"""Back office of the product factory. Every change goes through ``products.services``; the admin
only shapes input and shows the services' field errors."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from org.admin_mixins import AuditHistoryMixin, run_per_row
from org.models import Institution
from org.tenancy import scope_for
from products import policy, services
from products.admin_forms import (
    LoanPrimeRateForm,
    ProductActionForm,
    ProductForm,
    ProductVersionForm,
)
from products.models import (
    STATUS_CHANGE_ACTIONS,
    LoanPrimeRate,
    Product,
    ProductStatus,
    ProductStatusChange,
    ProductVersion,
    VersionStatus,
)
from products.parameters import PARAMETERS, parameter_display, parameter_label
from products.preview import schedule_preview
from products.schedule import RepaymentFrequency, RepaymentMethod
from products.selectors import product_terms_for_version, products_for_list, version_diff


class OwnerFilter(admin.SimpleListFilter):
    title = "归属"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        banks = Institution.objects.banks().order_by("code")
        scope = scope_for(request.user)
        if not scope.all_banks:
            banks = banks.filter(pk=scope.bank_id)
        return [("federation", "省联社产品"), *[(str(b.pk), b.name) for b in banks]]

    def queryset(self, request, queryset):
        owner_path = "product__owner" if queryset.model is not Product else "owner"
        if self.value() == "federation":
            return queryset.filter(**{f"{owner_path}__isnull": True})
        if self.value():
            return queryset.filter(**{f"{owner_path}_id": self.value()})
        return queryset


class ActionFilter(admin.SimpleListFilter):
    title = "操作"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return list(STATUS_CHANGE_ACTIONS.items())

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class StatusChangeLabels:
    """The log's action and statuses by their Chinese labels: a version's statuses when the row
    names a version, the product's otherwise."""

    @admin.display(description="操作", ordering="action")
    def action_label(self, change: ProductStatusChange) -> str:
        return STATUS_CHANGE_ACTIONS.get(change.action, change.action)

    @admin.display(description="原状态")
    def from_label(self, change: ProductStatusChange) -> str:
        return self._status_label(change, change.from_status)

    @admin.display(description="新状态")
    def to_label(self, change: ProductStatusChange) -> str:
        return self._status_label(change, change.to_status)

    @staticmethod
    def _status_label(change: ProductStatusChange, status: str) -> str:
        if not status:
            return "—"
        choices = VersionStatus if change.version_id else ProductStatus
        try:
            return str(choices(status).label)
        except ValueError:
            return status


class VersionInline(admin.TabularInline):
    model = ProductVersion
    fields = ["number", "status", "effective_from", "change_note", "created_by", "approved_by"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    ordering = ["-number"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "approved_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StatusChangeInline(StatusChangeLabels, admin.TabularInline):
    model = ProductStatusChange
    fields = ["at", "action_label", "version", "from_label", "to_label", "actor", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "状态变更记录"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "version", "version__product")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Product)
class ProductAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = ProductForm
    action_form = ProductActionForm
    list_display = [
        "code",
        "name",
        "series",
        "purpose",
        "owner_name",
        "parent",
        "status",
        "current_version",
    ]
    list_filter = ["series", OwnerFilter, "status", "purpose"]
    search_fields = ["code", "name"]
    inlines = [VersionInline, StatusChangeInline]
    actions = ["clone_action", "suspend_action", "resume_action", "retire_action"]

    def get_queryset(self, request):
        return products_for_list(request.user)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another bank's product is simply not there (404), as everywhere else.
        raise Http404(f"{opts.verbose_name} {object_id} 不存在")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return partial(form, user=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ProductForm.Meta.fields
        return [
            "code",
            "series",
            "owner",
            "parent",
            "status",
            "name",
            "purpose",
            "segments",
            "channels",
            "description",
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "series", "owner", "parent", "status"] if obj is not None else []

    def has_add_permission(self, request):
        return not scope_for(request.user).sees_nothing and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return super().has_change_permission(request)
        return policy.can_manage_owner(request.user, obj.owner_id)

    def has_delete_permission(self, request, obj=None):
        return False  # products are retired, never deleted: loans refer to them

    @admin.display(description="归属", ordering="owner__code")
    def owner_name(self, obj: Product) -> str:
        return obj.owner.name if obj.owner_id else "省联社"

    @admin.display(description="当前版本", ordering="current_version_number")
    def current_version(self, obj: Product) -> str:
        number = getattr(obj, "current_version_number", None)
        return f"v{number}" if number else "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.product_update(
                product=obj,
                actor=request.user,
                name=data["name"],
                purpose=data["purpose"],
                segments=data["segments"],
                channels=data["channels"],
                description=data.get("description", ""),
            )
            return
        created = services.product_create(
            actor=request.user,
            code=data["code"],
            name=data["name"],
            series=data["series"],
            purpose=data["purpose"],
            segments=data["segments"],
            channels=data["channels"],
            owner=data.get("owner"),
            parent=data.get("parent"),
            description=data.get("description", ""),
        )
        obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        pass  # inlines are read-only; nothing else to save

    @admin.action(description="复制/派生为新产品(草稿)")
    def clone_action(self, request, queryset):
        bank_id = policy.actor_bank_id(request.user)
        bank = Institution.objects.filter(pk=bank_id).first() if bank_id else None

        def clone(source: Product):
            prefix = bank.code if bank and source.owner_id is None else "COPY"
            suffix = f"({bank.name})" if bank and source.owner_id is None else "(副本)"
            services.product_clone(
                source=source,
                actor=request.user,
                code=f"{prefix}-{source.code}",
                name=f"{source.name}{suffix}",
                owner=bank if bank else source.owner,
            )

        run_per_row(self, request, queryset, clone, "已生成草稿产品")

    @admin.action(description="暂停销售(需填写原因)")
    def suspend_action(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_per_row(
            self,
            request,
            queryset,
            lambda p: services.product_suspend(product=p, actor=request.user, reason=reason),
            "已暂停",
        )

    @admin.action(description="恢复销售(须由暂停人以外的人员复核)")
    def resume_action(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_per_row(
            self,
            request,
            queryset,
            lambda p: services.product_resume(product=p, actor=request.user, reason=reason),
            "已恢复",
        )

    @admin.action(description="下架(需填写原因)")
    def retire_action(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_per_row(
            self,
            request,
            queryset,
            lambda p: services.product_retire(product=p, actor=request.user, reason=reason),
            "已下架",
        )


@admin.register(ProductVersion)
class ProductVersionAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = ProductVersionForm
    action_form = ProductActionForm
    list_display = [
        "__str__",
        "product_code",
        "number",
        "status",
        "effective_from",
        "created_by",
        "submitted_by",
        "approved_by",
        "diff_link",
    ]
    list_filter = ["status", "product__series", OwnerFilter]
    search_fields = ["product__code", "product__name"]
    list_select_related = ["product", "product__owner", "created_by", "submitted_by", "approved_by"]
    actions = ["submit_action", "activate_action", "send_back_action", "derive_action"]

    def get_queryset(self, request):
        visible = Product.objects.visible_to(request.user).values("pk")
        return (
            super()
            .get_queryset(request)
            .filter(product__in=visible)
            .select_related("product", "product__owner", "product__parent")
        )

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"{opts.verbose_name} {object_id} 不存在")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return partial(form, user=request.user)

    def get_fieldsets(self, request, obj=None):
        # A version staff cannot edit shows every parameter as text with its Chinese labels
        # (Django would print the stored codes and JSON).
        shown = obj is not None and not self.has_change_permission(request, obj)

        def names(fields):
            return [f"{name}_shown" if shown else name for name in fields]

        head = ["effective_from", "change_note", *names(["locked_parameters"])]
        head = ["product", *head] if obj is None else ["product", "number", "status", *head]
        return [
            (None, {"fields": head}),
            ("金额与期限", {"fields": names(PARAMETERS[0:4])}),
            ("还款", {"fields": names(PARAMETERS[4:7])}),
            ("定价", {"fields": names(PARAMETERS[7:16])}),
            ("担保、准入与资料", {"fields": names(PARAMETERS[16:23])}),
            ("审批与合同", {"fields": names(PARAMETERS[23:])}),
            *([("还款计划试算(示例)", {"fields": ["schedule_example"]})] if obj else []),
            (
                "制作与复核",
                {
                    "fields": [
                        "created_by",
                        "updated_by",
                        "submitted_by",
                        "approved_by",
                        "activated_at",
                    ]
                }
                if obj
                else {"fields": []},
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        always = [
            "product",
            "number",
            "status",
            "created_by",
            "updated_by",
            "submitted_by",
            "approved_by",
            "activated_at",
        ]
        if not self.has_change_permission(request, obj):
            shown = [f"{name}_shown" for name in ("locked_parameters", *PARAMETERS)]
            return [*always, "effective_from", "change_note", *shown, "schedule_example"]
        return [*always, "schedule_example"]

    @admin.display(description="示例还款计划")
    def schedule_example(self, obj: ProductVersion):
        """What a borrower would pay under this version: one example loan per repayment method
        the version allows, computed by the one schedule calculator (products.preview)."""
        examples = []
        for method in _example_methods(obj):
            amount, term = _example_loan(obj)
            try:
                preview = schedule_preview(
                    version=obj, amount=amount, term_months=term, method=method
                )
            except ValidationError as exc:
                return format_html(
                    '<p class="help">参数尚不完整或与计算条件不符，暂不能试算：{}</p>',
                    "；".join(exc.messages),
                )
            examples.append(preview)
        if not examples:
            return "—"
        return format_html_join("", "{}", ((_schedule_table(p),) for p in examples))

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return super().has_change_permission(request)
        # Only drafts are editable: an active version is changed by deriving a new one.
        return obj.status == VersionStatus.DRAFT and policy.can_manage_owner(
            request.user, obj.product.owner_id
        )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="产品代码", ordering="product__code")
    def product_code(self, obj: ProductVersion) -> str:
        return obj.product.code

    @admin.display(description="对比")
    def diff_link(self, obj: ProductVersion) -> str:
        url = reverse("admin:products_productversion_diff", args=[obj.pk])
        return format_html('<a href="{}">与上一版本对比</a>', url)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        parameters = {name: data.get(name) for name in PARAMETERS}
        if change:
            services.product_version_update(
                version=obj,
                actor=request.user,
                parameters=parameters,
                locked_parameters=data.get("locked_parameters") or [],
                effective_from=data.get("effective_from"),
                change_note=data.get("change_note", ""),
            )
            return
        created = services.product_version_create(
            product=data["product"],
            actor=request.user,
            parameters=parameters,
            locked_parameters=data.get("locked_parameters") or [],
            effective_from=data.get("effective_from"),
            change_note=data.get("change_note", ""),
        )
        obj.pk = created.pk

    @admin.action(description="提交复核")
    def submit_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda v: services.product_version_submit(version=v, actor=request.user),
            "已提交复核",
        )

    @admin.action(description="复核通过并生效(不能复核自己的版本)")
    def activate_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda v: services.product_version_activate(version=v, actor=request.user),
            "已生效",
        )

    @admin.action(description="退回修改(需填写意见)")
    def send_back_action(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_per_row(
            self,
            request,
            queryset,
            lambda v: services.product_version_send_back(
                version=v, actor=request.user, reason=reason
            ),
            "已退回",
        )

    @admin.action(description="基于所选产品的最新版本创建新版本(草稿)")
    def derive_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda v: services.product_version_derive(product=v.product, actor=request.user),
            "已创建新版本草稿",
        )

    def get_urls(self):
        urls = super().get_urls()
        diff = path(
            "<path:object_id>/diff/",
            self.admin_site.admin_view(self.diff_view),
            name="products_productversion_diff",
        )
        return [diff, *urls]

    def diff_view(self, request, object_id):
        """What changed between two versions (default: the previous number of the product)."""
        version = self.get_object(request, object_id)
        if version is None:
            raise Http404("产品版本不存在")
        siblings = self.get_queryset(request).filter(product_id=version.product_id)
        against_id = request.GET.get("against")
        if against_id:
            against = siblings.filter(pk=against_id).first()
            if against is None:
                raise Http404("对比版本不存在")
        else:
            against = siblings.filter(number__lt=version.number).order_by("-number").first()
        rows = version_diff(against, version)
        # The values as staff read them: choices by their Chinese labels, bands and spreads
        # spelt out (the rows keep the stored values).
        shown_rows = [
            {
                "label": row.label,
                "changed": row.changed,
                "before": parameter_display(row.name, row.before),
                "after": parameter_display(row.name, row.after),
            }
            for row in rows
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"版本对比：{version}",
            "opts": self.model._meta,
            "object": version,
            "against": against,
            "siblings": siblings.exclude(pk=version.pk).order_by("-number"),
            "rows": rows,
            "shown_rows": shown_rows,
            "changed_count": sum(1 for row in rows if row.changed),
            "inherits": version.product.parent_id is not None,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/products/productversion/diff.html", context)


def _shown_parameter(name: str):
    def shown(self, obj: ProductVersion) -> str:
        text = parameter_display(name, getattr(obj, name))
        if text is None:
            return "继承上级" if obj.product.parent_id else "—"
        return text

    shown.short_description = parameter_label(name)
    shown.__name__ = f"{name}_shown"
    return shown


for _name in ("locked_parameters", *PARAMETERS):
    setattr(ProductVersionAdmin, f"{_name}_shown", _shown_parameter(_name))


EXAMPLE_AMOUNT = Decimal("50000")


def _example_methods(version: ProductVersion) -> list[str]:
    try:
        return list(product_terms_for_version(version=version).repayment_methods)
    except ValidationError:
        return list(version.repayment_methods or [RepaymentMethod.EQUAL_INSTALMENT])


def _example_loan(version: ProductVersion) -> tuple[Decimal, int]:
    """50,000 yuan over 12 months, moved inside the version's own amount and term range (and
    to a whole quarter for quarterly repayment)."""
    try:
        terms = product_terms_for_version(version=version)
    except ValidationError:
        return EXAMPLE_AMOUNT, 12
    amount = min(max(EXAMPLE_AMOUNT, terms.amount_min), terms.amount_max)
    term = min(max(12, terms.term_min_months), terms.term_max_months)
    if terms.repayment_frequency == RepaymentFrequency.QUARTERLY and term % 3:
        term += 3 - term % 3
    return amount, term


def _schedule_table(preview) -> str:
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td style='text-align:right'>{}</td>"
        "<td style='text-align:right'>{}</td><td style='text-align:right'>{}</td>"
        "<td style='text-align:right'>{}</td></tr>",
        (
            (
                row.number,
                f"{row.due_date:%Y-%m-%d}",
                f"{row.principal:,.2f}",
                f"{row.interest:,.2f}",
                f"{row.total:,.2f}",
                f"{row.remaining_principal:,.2f}",
            )
            for row in preview.instalments
        ),
    )
    return format_html(
        '<details class="schedule-example" open><summary>{}：{} 元，{} 个月，年利率 {}%（{}），'
        "起息日 {}</summary>"
        "<table><thead><tr><th>期次</th><th>还款日</th><th>本金</th><th>利息</th><th>合计</th>"
        "<th>剩余本金</th></tr></thead><tbody>{}</tbody>"
        '<tfoot><tr><th colspan="2">合计</th><th style="text-align:right">{}</th>'
        '<th style="text-align:right">{}</th><th style="text-align:right">{}</th><th></th></tr>'
        "</tfoot></table></details>",
        RepaymentMethod(preview.method).label,
        f"{preview.amount:,.2f}",
        preview.term_months,
        preview.annual_rate,
        preview.rate_basis,
        f"{preview.start_date:%Y-%m-%d}",
        rows,
        f"{preview.totals['principal']:,.2f}",
        f"{preview.totals['interest']:,.2f}",
        f"{preview.totals['total']:,.2f}",
    )


@admin.register(LoanPrimeRate)
class LoanPrimeRateAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = LoanPrimeRateForm
    list_display = ["effective_date", "lpr_1y", "lpr_5y_plus", "created_at"]
    date_hierarchy = "effective_date"
    fields = ["effective_date", "lpr_1y", "lpr_5y_plus"]

    def has_change_permission(self, request, obj=None):
        return False  # a published LPR never changes; see services.lpr_record

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        created = services.lpr_record(
            effective_date=form.cleaned_data["effective_date"],
            lpr_1y=form.cleaned_data["lpr_1y"],
            lpr_5y_plus=form.cleaned_data["lpr_5y_plus"],
        )
        obj.pk = created.pk


@admin.register(ProductStatusChange)
class ProductStatusChangeAdmin(StatusChangeLabels, admin.ModelAdmin):
    list_display = [
        "at",
        "product",
        "version",
        "action_label",
        "from_label",
        "to_label",
        "actor",
        "reason",
    ]
    fields = [
        "at",
        "product",
        "version",
        "action_label",
        "from_label",
        "to_label",
        "actor",
        "reason",
    ]
    readonly_fields = fields
    list_filter = [ActionFilter, OwnerFilter]
    list_select_related = ["product", "version", "version__product", "actor"]
    search_fields = ["product__code", "product__name"]

    def get_queryset(self, request):
        visible = Product.objects.visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(Q(product__in=visible))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
