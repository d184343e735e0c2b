"""Households, members, archives and field visits (read-mostly: they come from PADs and imports)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery

from common.masking import mask_id_number, mask_phone
from org.admin_mixins import AuditHistoryMixin, TenantAdminMixin, masked_column
from org.roles import Role
from org.tenancy import scope_for
from villages import figures
from villages.admin.base import (
    HouseholdSearchMixin,
    ReadOnlyAdminMixin,
    RevealIdentityMixin,
    acting_staff,
)
from villages.models import (
    EconomicArchive,
    FieldVisit,
    Household,
    Member,
    PersonalDataAccess,
    VisitPhoto,
)
from villages.services import (
    household_upsert,
)
from villages.validation import FieldError, clean_mobile


class MemberInline(admin.TabularInline):
    model = Member
    fields = [
        "name",
        "masked_id",
        "sex",
        "birth_date",
        "relation",
        "education",
        "occupation",
        "health",
        "masked_phone",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    masked_id = masked_column("身份证号", "id_number", mask_id_number)
    masked_phone = masked_column("手机号", "phone", mask_phone)


class ArchiveInline(admin.TabularInline):
    model = EconomicArchive
    fields = [
        "survey_date",
        "land_contracted_mu",
        "net_income",
        "total_assets",
        "debt_total",
        "has_business",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-survey_date"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="家庭净收入(元/年)")
    def net_income(self, archive):
        return figures.net_income(archive)

    @admin.display(description="总资产(元)")
    def total_assets(self, archive):
        return figures.total_assets(archive)


class HouseholdForm(forms.ModelForm):
    """The phone is a "new phone" field: it starts empty (the page shows the current number
    masked, as every page does) and an empty field keeps the number on file."""

    class Meta:
        model = Household
        fields = ["group_name", "address", "phone"]
        labels = {"phone": "新联系电话"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        phone = self.fields.get("phone")
        if phone is None:  # a view-only page: nothing to type, the page shows the mask
            return
        current = self.instance.phone if self.instance.pk else ""
        self.initial["phone"] = ""
        phone.required = False
        phone.help_text = (
            f"当前：{mask_phone(current)}。留空则不修改。" if current else "当前未登记联系电话。"
        )

    def clean_phone(self):
        typed = self.cleaned_data["phone"].strip()
        if not typed:
            return self.instance.phone if self.instance.pk else ""
        # The rule the import and the API apply, so the save's service never refuses it.
        try:
            return clean_mobile(typed)
        except FieldError as exc:
            raise ValidationError(exc.message) from None


class CampaignStatusFilter(admin.ChoicesFieldListFilter):
    """The status of the village's campaigns, not the household's: Django titled it with the
    field's own name ("以 状态"), which read as a status of the household."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "整村授信活动状态"


@admin.register(Household)
class HouseholdAdmin(
    RevealIdentityMixin,
    HouseholdSearchMixin,
    AuditHistoryMixin,
    TenantAdminMixin,
    admin.ModelAdmin,
):
    form = HouseholdForm
    list_display = [
        "head_name",
        "head_id_number",
        "village",
        "group_name",
        "masked_phone",
        "list_colour",
        "credit_grade",
        "pre_approved_limit",
        "updated_at",
    ]
    list_filter = [
        "list_colour",
        "village",
        ("village__campaigns__status", CampaignStatusFilter),
    ]
    search_fields = ["head__name", "address"]
    list_select_related = ["head", "village"]
    # A province holds millions of households: a filtered page counts its own matches only, not
    # the whole table again for "(共 N 条)".
    show_full_result_count = False
    readonly_fields = [
        "village",
        "head",
        "list_colour",
        "credit_grade",
        "pre_approved_limit",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [MemberInline, ArchiveInline]
    list_per_page = 50

    class Media:
        css = {"all": ["villages/admin/households.css"]}  # the head's name on one line

    def has_add_permission(self, request, *args):
        return False  # households come from PADs and imports, with their client UUIDs

    def reveal_subjects(self, household):
        return household, list(household.members.order_by("relation", "birth_date"))

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not self.has_change_permission(request, obj):
            # A view-only page would print the stored phone as text: show the mask instead.
            fields = ["masked_phone" if name == "phone" else name for name in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not self.has_change_permission(request, obj):
            readonly.append("masked_phone")
        return readonly

    @admin.display(description="户主", ordering="head__name")
    def head_name(self, household):
        return household.head.name if household.head else "—"

    head_id_number = masked_column("户主身份证号", "head__id_number", mask_id_number)
    masked_phone = masked_column("联系电话", "phone", mask_phone)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        household_upsert(
            household_id=obj.pk,
            village=obj.village,
            actor=acting_staff(request),
            group_name=data["group_name"],
            address=data["address"],
            phone=data["phone"],
            latitude=obj.latitude,
            longitude=obj.longitude,
        )


@admin.register(Member)
class MemberAdmin(
    RevealIdentityMixin,
    HouseholdSearchMixin,
    AuditHistoryMixin,
    TenantAdminMixin,
    ReadOnlyAdminMixin,
    admin.ModelAdmin,
):
    id_hash_field = "id_number_hash"
    list_display = [
        "name",
        "masked_id",
        "sex",
        "birth_date",
        "relation",
        "household",
        "masked_phone",
    ]
    list_filter = ["relation", "sex", "household__village"]
    search_fields = ["name"]
    list_select_related = ["household__head"]
    show_full_result_count = False  # as HouseholdAdmin
    exclude = ["id_number", "phone"]
    readonly_fields = ["masked_id", "masked_phone"]

    def reveal_subjects(self, member):
        return member.household, [member]

    masked_id = masked_column("身份证号", "id_number", mask_id_number)
    masked_phone = masked_column("手机号", "phone", mask_phone)


@admin.register(EconomicArchive)
class EconomicArchiveAdmin(
    AuditHistoryMixin, TenantAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    list_display = [
        "household",
        "survey_date",
        "land_contracted_mu",
        "net_income",
        "total_assets",
        "debt_total",
        "has_business",
    ]
    list_filter = ["has_business", "survey_date", "household__village"]
    list_select_related = ["household__head"]
    show_full_result_count = False  # as HouseholdAdmin
    date_hierarchy = "survey_date"

    @admin.display(description="家庭净收入(元/年)")
    def net_income(self, archive):
        return figures.net_income(archive)

    @admin.display(description="总资产(元)")
    def total_assets(self, archive):
        return figures.total_assets(archive)


class PhotoInline(admin.TabularInline):
    model = VisitPhoto
    fields = ["kind", "picture", "width", "height", "captured_at", "latitude", "longitude"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="照片")
    def picture(self, photo):
        # Through the authorised view (villages.api.photos), never a public media URL.
        from django.utils.html import format_html

        from villages.api.photos import photo_image_path

        url = photo_image_path(photo)
        return format_html(
            '<a href="{}" target="_blank"><img src="{}" alt="{}" style="max-height:120px"></a>',
            url,
            url,
            photo,
        )


@admin.register(FieldVisit)
class FieldVisitAdmin(TenantAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["household", "account_manager", "visited_at", "purpose", "photo_count"]
    list_filter = ["purpose", "account_manager"]
    list_select_related = ["household__head", "account_manager"]
    inlines = [PhotoInline]
    date_hierarchy = "visited_at"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(photos_total=Count("photos"))

    @admin.display(description="影像数", ordering="photos_total")
    def photo_count(self, visit):
        return visit.photos_total


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(TenantAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who saw whose full ID number or phone, when and why: read by the bank's administrators
    and auditors, written only by ``personal_data_reveal``."""

    list_display = ["accessed_at", "user_name", "household_link", "fields", "reason", "channel"]
    list_filter = ["channel"]
    list_select_related = ["user"]
    date_hierarchy = None
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        # Administrators and auditors read the trail; the staff it records do not browse it.
        roles = scope_for(request.user).roles
        return super().has_view_permission(request, obj) and (
            request.user.is_superuser or bool(roles & {Role.BANK_ADMIN, Role.FEDERATION_ADMIN})
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description="查看人", ordering="user__first_name")
    def user_name(self, access):
        return access.user.first_name or access.user.username

    def get_queryset(self, request):
        # The household is kept as an id (the record outlives it): its head's name, one subquery.
        head = Household.objects.filter(pk=OuterRef("household_id")).values("head__name")
        return super().get_queryset(request).annotate(head_name=Subquery(head[:1]))

    @admin.display(description="农户")
    def household_link(self, access):
        from django.urls import reverse
        from django.utils.html import format_html

        if access.head_name is None:
            return "—"
        url = reverse("admin:villages_household_change", args=[access.household_id])
        return format_html('<a href="{}">{}户</a>', url, access.head_name)
