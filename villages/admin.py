"""Back office for villages. Lists mask ID numbers and phones; writes go through services.

Households, members and archives arrive from PADs and spreadsheet imports, so the admin shows them
read-only apart from a household's contact details; peer review votes are never shown one by one,
only the results of closed rounds.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from common.masking import mask_id_number, mask_phone
from org.admin_mixins import AuditHistoryMixin, TenantAdminMixin
from org.models import Staff
from villages import figures
from villages.models import (
    Campaign,
    Division,
    EconomicArchive,
    FieldVisit,
    Household,
    Member,
    PeerReviewEvaluator,
    PeerReviewResult,
    PeerReviewRound,
    Village,
    VillageAssignment,
    VisitPhoto,
)
from villages.services import (
    campaign_create,
    campaign_transition,
    division_create,
    household_upsert,
    peer_review_round_close,
    village_assign,
    village_create,
    village_unassign,
)

_ID_SUFFIX = re.compile(r"^[0-9]{3,6}[0-9Xx]?$")


def _staff(request) -> Staff | None:
    return getattr(request.user, "staff", None)


def _report(request, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            messages.error(request, f"{field}: {error}")


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]
    raw_id_fields = ["parent"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
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
    class Meta:
        model = Village
        fields = ["division", "name", "branch", "is_credit_village"]


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
        return (
            super()
            .get_queryset(request)
            .annotate(households_total=Count("households", distinct=True))
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

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "is_credit_village", "updated_at"])
            return
        created = village_create(division=obj.division, branch=obj.branch, name=obj.name)
        obj.pk, obj.bank_id = created.pk, created.bank_id


class AssignmentForm(forms.ModelForm):
    class Meta:
        model = VillageAssignment
        fields = ["village", "account_manager"]

    def clean(self):
        cleaned = super().clean()
        village, manager = cleaned.get("village"), cleaned.get("account_manager")
        if village and manager and manager.bank_id != village.bank_id:
            self.add_error("account_manager", "只能指派本行社的客户经理")
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
                assigned_by=_staff(request),
            )
        except ValidationError as exc:
            _report(request, exc)
            return
        obj.pk = created.pk

    @admin.action(description="结束所选指派")
    def end_assignment(self, request, queryset):
        ended = sum(
            village_unassign(village=a.village, account_manager=a.account_manager)
            for a in queryset.filter(ended_at__isnull=True)
        )
        self.message_user(request, f"已结束 {ended} 条指派")


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

    @admin.display(description="身份证号")
    def masked_id(self, member):
        return mask_id_number(member.id_number)

    @admin.display(description="手机号")
    def masked_phone(self, member):
        return mask_phone(member.phone)


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


class HouseholdSearchMixin:
    """Search by name, by the last digits of an ID number, or by the end of a phone number —
    staff type what the villager reads out, never a whole ID."""

    id_field = "head__id_number"
    phone_fields = ("phone",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if _ID_SUFFIX.match(term):
            condition = Q(**{f"{self.id_field}__endswith": term.upper()})
            for field in self.phone_fields:
                condition |= Q(**{f"{field}__endswith": term})
            return queryset.filter(condition), False
        return super().get_search_results(request, queryset, search_term)


class HouseholdForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = ["group_name", "address", "phone"]


@admin.register(Household)
class HouseholdAdmin(HouseholdSearchMixin, AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
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
    list_filter = ["list_colour", "village", "village__campaigns__status"]
    search_fields = ["head__name", "address"]
    list_select_related = ["head", "village"]
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

    def has_add_permission(self, request, *args):
        return False  # households come from PADs and imports, with their client UUIDs

    @admin.display(description="户主", ordering="head__name")
    def head_name(self, household):
        return household.head.name if household.head else "—"

    @admin.display(description="户主身份证号")
    def head_id_number(self, household):
        return mask_id_number(household.head.id_number) if household.head else ""

    @admin.display(description="联系电话")
    def masked_phone(self, household):
        return mask_phone(household.phone)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        household_upsert(
            household_id=obj.pk,
            village=obj.village,
            actor=_staff(request),
            group_name=data["group_name"],
            address=data["address"],
            phone=data["phone"],
            latitude=obj.latitude,
            longitude=obj.longitude,
        )


@admin.register(Member)
class MemberAdmin(
    HouseholdSearchMixin, AuditHistoryMixin, TenantAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    id_field = "id_number"
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
    exclude = ["id_number", "phone"]
    readonly_fields = ["masked_id", "masked_phone"]

    @admin.display(description="身份证号")
    def masked_id(self, member):
        return mask_id_number(member.id_number)

    @admin.display(description="手机号")
    def masked_phone(self, member):
        return mask_phone(member.phone)


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
    date_hierarchy = "survey_date"

    @admin.display(description="家庭净收入(元/年)")
    def net_income(self, archive):
        return figures.net_income(archive)

    @admin.display(description="总资产(元)")
    def total_assets(self, archive):
        return figures.total_assets(archive)


class PhotoInline(admin.TabularInline):
    model = VisitPhoto
    fields = ["kind", "image", "width", "height", "captured_at", "latitude", "longitude"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


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


class EvaluatorInline(admin.TabularInline):
    model = PeerReviewEvaluator
    fields = ["name", "kind", "user", "votes_cast"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="已投票数")
    def votes_cast(self, evaluator):
        return evaluator.votes.count()


class ResultInline(admin.TabularInline):
    """Results exist only once a round is closed, so votes stay hidden while it is open."""

    model = PeerReviewResult
    fields = [
        "household",
        "colour",
        "black_votes",
        "grey_votes",
        "green_votes",
        "white_votes",
        "suggested_amount",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("household__head")


@admin.register(PeerReviewRound)
class PeerReviewRoundAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    list_display = ["title", "village", "status", "black_veto_count", "opened_at", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["village"]
    fields = [
        "title",
        "village",
        "status",
        "black_veto_count",
        "opened_by",
        "opened_at",
        "closed_by",
        "closed_at",
    ]
    readonly_fields = fields
    inlines = [EvaluatorInline, ResultInline]
    actions = ["close_rounds"]

    def has_add_permission(self, request, *args):
        return False

    @admin.action(description="结束评议并汇总结果")
    def close_rounds(self, request, queryset):
        for round in queryset.filter(status=PeerReviewRound.Status.OPEN):
            try:
                count = peer_review_round_close(round=round, closed_by=_staff(request))
            except ValidationError as exc:
                _report(request, exc)
            else:
                self.message_user(request, f"{round.title}：已汇总 {count} 户评议结果")


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["village", "name", "starts_on", "ends_on", "lead"]


@admin.register(Campaign)
class CampaignAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "village",
        "status",
        "starts_on",
        "ends_on",
        "households",
        "archived",
        "reviewed",
        "rated",
        "pre_approved",
        "coverage",
    ]
    list_filter = ["status"]
    list_select_related = ["village"]
    autocomplete_fields = ["village", "lead"]
    actions = ["start", "complete", "cancel"]

    def get_queryset(self, request):
        def count(filter_q: Q):
            return Coalesce(
                Subquery(
                    Household.objects.filter(filter_q, village=OuterRef("village"))
                    .order_by()
                    .values("village")
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
            )

        return (
            super()
            .get_queryset(request)
            .annotate(
                n_households=count(Q()),
                n_archived=count(
                    Q(Exists(EconomicArchive.objects.filter(household=OuterRef("pk"))))
                ),
                n_reviewed=count(
                    Q(
                        Exists(
                            PeerReviewResult.objects.filter(
                                household=OuterRef("pk"),
                                round__status=PeerReviewRound.Status.CLOSED,
                            )
                        )
                    )
                ),
                n_rated=count(~Q(credit_grade="")),
                n_pre_approved=count(Q(pre_approved_limit__isnull=False)),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        return ["village", "status"] if obj else []

    @admin.display(description="户数", ordering="n_households")
    def households(self, campaign):
        return campaign.n_households

    @admin.display(description="已建档", ordering="n_archived")
    def archived(self, campaign):
        return campaign.n_archived

    @admin.display(description="已评议", ordering="n_reviewed")
    def reviewed(self, campaign):
        return campaign.n_reviewed

    @admin.display(description="已评级", ordering="n_rated")
    def rated(self, campaign):
        return campaign.n_rated

    @admin.display(description="已预授信", ordering="n_pre_approved")
    def pre_approved(self, campaign):
        return campaign.n_pre_approved

    @admin.display(description="授信覆盖率")
    def coverage(self, campaign):
        if not campaign.n_households:
            return "—"
        return f"{campaign.n_pre_approved * 100 / campaign.n_households:.1f}%"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "starts_on", "ends_on", "lead"])
            return
        created = campaign_create(
            village=obj.village,
            name=obj.name,
            starts_on=obj.starts_on,
            ends_on=obj.ends_on,
            lead=obj.lead,
        )
        obj.pk, obj.bank_id = created.pk, created.bank_id

    def _move(self, request, queryset, to_status):
        for campaign in queryset:
            try:
                campaign_transition(campaign=campaign, to_status=to_status)
            except ValidationError as exc:
                _report(request, exc)

    @admin.action(description="开始所选活动")
    def start(self, request, queryset):
        self._move(request, queryset, Campaign.Status.IN_PROGRESS)

    @admin.action(description="完成所选活动")
    def complete(self, request, queryset):
        self._move(request, queryset, Campaign.Status.COMPLETED)

    @admin.action(description="取消所选活动")
    def cancel(self, request, queryset):
        self._move(request, queryset, Campaign.Status.CANCELLED)
