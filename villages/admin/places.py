"""Divisions, villages and account-manager assignments."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from org.admin_mixins import AuditHistoryMixin, TenantAdminMixin, add_service_errors
from villages.admin.base import acting_staff, report_errors
from villages.counties import code_prefix, county_codes_served, within_counties
from villages.models import (
    Division,
    Household,
    Village,
    VillageAssignment,
)
from villages.services import (
    division_create,
    division_update,
    village_assign,
    village_assignment_check,
    village_create,
    village_create_check,
    village_unassign,
    village_update,
)


def _taking_on_a_village(request) -> bool:
    """Whether this is the village form's division chooser asking for choices."""
    return (
        request.path.endswith("/autocomplete/")
        and request.GET.get("app_label") == "villages"
        and request.GET.get("model_name") == "village"
        and request.GET.get("field_name") == "division"
    )


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]  # searched by get_search_results below
    search_help_text = "输入名称（村、乡镇均可）或区划代码的开头几位"
    list_select_related = ["parent"]
    raw_id_fields = ["parent"]

    def get_search_results(self, request, queryset, search_term):
        # Over 660,000 divisions: digits are a code prefix (a range on the code index), words
        # match the division's or its parent's name, so "乔李镇" lists that township's villages.
        if _taking_on_a_village(request) and not request.user.is_superuser:
            staff = acting_staff(request)
            served = county_codes_served(staff.bank_id) if staff and staff.bank_id else []
            queryset = queryset.filter(within_counties(served))
        for term in search_term.split():
            if term.isascii() and term.isdigit():
                queryset = queryset.filter(code_prefix(term[:12]))
            else:
                queryset = queryset.filter(
                    Q(name__icontains=term) | Q(parent__name__icontains=term)
                )
        return queryset, False

    def save_model(self, request, obj, form, change):
        if change:
            division_update(division=obj, name=obj.name)
            return
        created = division_create(code=obj.code, name=obj.name, level=obj.level, parent=obj.parent)
        obj.pk = created.pk

    def get_readonly_fields(self, request, obj=None):
        return ["code", "level", "parent"] if obj else []


class AssignmentInline(admin.TabularInline):
    model = VillageAssignment
    fk_name = "village"
    fields = ["account_manager", "started_at", "ended_at", "assigned_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class VillageForm(forms.ModelForm):
    # Set by VillageAdmin.get_form: a bank's staff take on villages of their own counties only.
    within_served_counties = True

    class Meta:
        model = Village
        fields = ["division", "name", "branch", "is_credit_village"]
        help_texts = {
            "division": "输入村名、所属乡镇名或区划代码开头几位，选择本行社所在县(区)的行政村",
            "name": "留空则用区划名称",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" in self.fields:
            self.fields["name"].required = False

    def clean(self):
        cleaned = super().clean()
        division, branch = cleaned.get("division"), cleaned.get("branch")
        if self.instance._state.adding and division and branch:
            try:
                village_create_check(
                    division=division,
                    branch=branch,
                    within_served_counties=self.within_served_counties,
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
        return cleaned


@admin.register(Village)
class VillageAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    form = VillageForm
    list_display = [
        "code_display",
        "name",
        "branch",
        "household_count",
        "managers",
        "is_credit_village",
    ]
    list_filter = ["is_credit_village", "branch"]
    search_fields = ["name", "division__code"]
    list_select_related = ["division", "branch"]
    autocomplete_fields = ["division"]
    inlines = [AssignmentInline]

    def get_queryset(self, request):
        # A correlated count, evaluated for the page's rows only (and left out of the paginator's
        # count). Joining every household to group them cost 2 s per page at a million households.
        households = (
            Household.objects.filter(village=OuterRef("pk"))
            .order_by()
            .values("village")
            .annotate(n=Count("*"))  # not a column: the village index alone answers
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(households_total=Coalesce(Subquery(households), 0))
            .prefetch_related("assignments__account_manager")
        )

    @admin.display(description="区划代码", ordering="division__code")
    def code_display(self, village):
        return village.division.code

    @admin.display(description="户数", ordering="households_total")
    def household_count(self, village):
        return village.households_total

    @admin.display(description="包村客户经理")
    def managers(self, village):
        return "、".join(
            a.account_manager.full_name for a in village.assignments.all() if a.ended_at is None
        )

    def get_readonly_fields(self, request, obj=None):
        return ["division", "branch"] if obj else []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.within_served_counties = not request.user.is_superuser
        return form

    def save_model(self, request, obj, form, change):
        if change:
            village_update(village=obj, name=obj.name, is_credit_village=obj.is_credit_village)
            return
        created = village_create(
            division=obj.division,
            branch=obj.branch,
            name=obj.name or "",
            within_served_counties=form.within_served_counties,
        )
        obj.pk, obj.bank_id, obj.name = created.pk, created.bank_id, created.name


class AssignmentForm(forms.ModelForm):
    class Meta:
        model = VillageAssignment
        fields = ["village", "account_manager"]

    def clean(self):
        cleaned = super().clean()
        village, manager = cleaned.get("village"), cleaned.get("account_manager")
        if village and manager:
            try:
                village_assignment_check(village=village, account_manager=manager)
            except ValidationError as exc:
                add_service_errors(self, exc)
            # The service treats a repeat as done (a PAD or task may send it twice); someone
            # filling in this form means a new assignment and should hear it already exists.
            current = VillageAssignment.objects.current()
            if current.filter(village=village, account_manager=manager).exists():
                self.add_error(
                    "account_manager", f"{manager.full_name}已是{village.name}的包村客户经理"
                )
        return cleaned


@admin.register(VillageAssignment)
class VillageAssignmentAdmin(TenantAdminMixin, admin.ModelAdmin):
    form = AssignmentForm
    list_display = ["village", "account_manager", "started_at", "ended_at", "assigned_by"]
    list_filter = [("ended_at", admin.EmptyFieldListFilter)]
    list_select_related = ["village", "account_manager", "assigned_by"]
    autocomplete_fields = ["village", "account_manager"]
    actions = ["end_assignment"]

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        try:
            created = village_assign(
                village=obj.village,
                account_manager=obj.account_manager,
                assigned_by=acting_staff(request),
            )
        except ValidationError as exc:
            report_errors(request, exc, model=VillageAssignment)
            return
        obj.pk = created.pk

    @admin.action(description="结束所选指派")
    def end_assignment(self, request, queryset):
        ended = sum(
            village_unassign(village=a.village, account_manager=a.account_manager)
            for a in queryset.filter(ended_at__isnull=True)
        )
        self.message_user(request, f"已结束 {ended} 条指派")
