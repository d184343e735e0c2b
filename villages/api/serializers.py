"""Shapes of the villages API. Serializers validate and shape; services write.

Personal data: lists always mask ID numbers and phones (``common.masking``). A household's or a
member's detail shows them in full only to roles with the identity permission (account managers
collecting archives, reviewers and approvers checking identity), and only after the view has
recorded the reveal (``personal_data_reveal``); risk officers, administrators and federation staff
see them masked. Answers to a PUT are masked for everyone: the tablet already holds what it sent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from rest_framework import serializers

from common.clock import business_today
from common.masking import mask_id_number, mask_phone
from villages import figures
from villages.api.photos import photo_image_path
from villages.models import (
    Campaign,
    EconomicArchive,
    FieldVisit,
    Household,
    Member,
    Village,
    VisitPhoto,
)
from villages.services.households import ARCHIVE_AREA_FIELDS, ARCHIVE_MONEY_FIELDS


class ProgressSerializer(serializers.Serializer):
    households = serializers.IntegerField()
    archived = serializers.IntegerField()
    reviewed = serializers.IntegerField()
    rated = serializers.IntegerField()
    pre_approved = serializers.IntegerField()
    archived_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    coverage_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text="授信覆盖率：已预授信户数 / 总户数"
    )


class _ProgressMixin:
    def get_progress(self, obj) -> dict:
        from villages.selectors import VillageProgress

        village_id = obj.pk if isinstance(obj, Village) else obj.village_id
        progress = self.context.get("progress", {}).get(village_id, VillageProgress())
        return ProgressSerializer(progress).data


class VillageSerializer(_ProgressMixin, serializers.ModelSerializer):
    code = serializers.CharField(source="division.code")
    branch = serializers.CharField(source="branch.name")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Village
        fields = ["id", "code", "name", "branch", "is_credit_village", "progress"]


class CampaignSerializer(_ProgressMixin, serializers.ModelSerializer):
    village = serializers.CharField(source="village.name")
    status_display = serializers.CharField(source="get_status_display")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "village_id",
            "village",
            "status",
            "status_display",
            "starts_on",
            "ends_on",
            "progress",
        ]


class HouseholdListSerializer(serializers.ModelSerializer):
    head_name = serializers.CharField(source="head.name", default="")
    head_id_number = serializers.SerializerMethodField(help_text="户主身份证号(脱敏)")
    phone = serializers.SerializerMethodField(help_text="联系电话(脱敏)")

    class Meta:
        model = Household
        fields = [
            "id",
            "village_id",
            "head_name",
            "head_id_number",
            "group_name",
            "address",
            "phone",
            "list_colour",
            "credit_grade",
            "pre_approved_limit",
            "updated_at",
        ]

    def get_head_id_number(self, household: Household) -> str:
        return mask_id_number(household.head.id_number) if household.head else ""

    def get_phone(self, household: Household) -> str:
        return mask_phone(household.phone)


class MemberSerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    age = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = [
            "id",
            "household_id",
            "name",
            "id_number",
            "sex",
            "birth_date",
            "age",
            "relation",
            "education",
            "occupation",
            "health",
            "phone",
            "updated_at",
        ]

    def _full(self) -> bool:
        return self.context.get("full_identity", False)

    def get_id_number(self, member: Member) -> str:
        return member.id_number if self._full() else mask_id_number(member.id_number)

    def get_phone(self, member: Member) -> str:
        return member.phone if self._full() else mask_phone(member.phone)

    def get_age(self, member: Member) -> int:
        return member.age_on(business_today())


class ArchiveSerializer(serializers.ModelSerializer):
    net_income = serializers.SerializerMethodField()
    total_assets = serializers.SerializerMethodField()
    debt_ratio = serializers.SerializerMethodField()

    class Meta:
        model = EconomicArchive
        exclude = ["bank"]

    def get_net_income(self, archive) -> str:
        return str(figures.net_income(archive))

    def get_total_assets(self, archive) -> str:
        return str(figures.total_assets(archive))

    def get_debt_ratio(self, archive) -> str | None:
        ratio = figures.debt_ratio(archive)
        return None if ratio is None else str(ratio)


class HouseholdDetailSerializer(HouseholdListSerializer):
    members = serializers.SerializerMethodField()
    latest_archive = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()

    class Meta(HouseholdListSerializer.Meta):
        fields = [
            *HouseholdListSerializer.Meta.fields,
            "latitude",
            "longitude",
            "members",
            "latest_archive",
            "created_at",
        ]

    def get_head_id_number(self, household: Household) -> str:
        if not household.head:
            return ""
        full = self.context.get("full_identity", False)
        return household.head.id_number if full else mask_id_number(household.head.id_number)

    def get_phone(self, household: Household) -> str:
        return household.phone if self.context.get("full_identity") else mask_phone(household.phone)

    def get_members(self, household: Household) -> list:
        return MemberSerializer(household.members.all(), many=True, context=self.context).data

    def get_latest_archive(self, household: Household) -> dict | None:
        archive = self.context.get("latest_archive")
        return ArchiveSerializer(archive).data if archive else None


# --- Inputs from the PAD ---------------------------------------------------------------------


class CoordinateField(serializers.DecimalField):
    """A GPS degree, kept to 6 decimals (about 0.1 m, what the database stores). Phones report 7
    or more; those are rounded half-up, not refused: the extra digits are noise, and refusing
    them would stop a visit being recorded for a precision nobody asked for."""

    PLACES = Decimal("0.000001")

    def __init__(self, **kwargs):
        super().__init__(max_digits=9, decimal_places=6, **kwargs)

    def validate_precision(self, value):
        if abs(value) < 1000:  # beyond that max_digits refuses it (and quantize could overflow)
            value = value.quantize(self.PLACES, rounding=ROUND_HALF_UP)
        return super().validate_precision(value)


class HouseholdIn(serializers.Serializer):
    village = serializers.IntegerField(help_text="行政村ID")
    group_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    latitude = CoordinateField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = CoordinateField(min_value=-180, max_value=180, required=False, allow_null=True)


class MemberIn(serializers.Serializer):
    household = serializers.UUIDField()
    name = serializers.CharField(max_length=50)
    id_number = serializers.CharField(max_length=40)
    relation = serializers.ChoiceField(choices=Member.Relation.choices)
    education = serializers.ChoiceField(
        choices=Member.Education.choices, required=False, allow_blank=True, default=""
    )
    occupation = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    health = serializers.ChoiceField(
        choices=Member.Health.choices, required=False, allow_blank=True, default=""
    )
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


class ArchiveIn(serializers.Serializer):
    """The figures arrive as typed by the account manager; the service validates ranges."""

    household = serializers.UUIDField()
    survey_date = serializers.DateField()

    def get_fields(self):
        fields = super().get_fields()
        for name in ARCHIVE_AREA_FIELDS + ARCHIVE_MONEY_FIELDS:
            fields[name] = serializers.CharField(required=False, allow_blank=True)
        for name in ("crops", "livestock", "machinery", "debts"):
            fields[name] = serializers.ListField(child=serializers.DictField(), required=False)
        for name in ("has_social_security", "has_rural_medical_insurance", "has_business"):
            fields[name] = serializers.BooleanField(required=False)
        for name in ("livestock_heads", "business_employees"):
            fields[name] = serializers.IntegerField(required=False, min_value=0, max_value=100000)
        fields["housing_structure"] = serializers.ChoiceField(
            choices=EconomicArchive.HousingStructure.choices, required=False, allow_blank=True
        )
        fields["business_industry"] = serializers.ChoiceField(
            choices=EconomicArchive.Industry.choices, required=False, allow_blank=True
        )
        fields["business_premises"] = serializers.CharField(
            max_length=200, required=False, allow_blank=True
        )
        return fields


class FieldVisitIn(serializers.Serializer):
    household = serializers.UUIDField()
    visited_at = serializers.DateTimeField()
    purpose = serializers.ChoiceField(choices=FieldVisit.Purpose.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    latitude = CoordinateField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = CoordinateField(min_value=-180, max_value=180, required=False, allow_null=True)


class FieldVisitSerializer(serializers.ModelSerializer):
    photos = serializers.SerializerMethodField()

    class Meta:
        model = FieldVisit
        fields = [
            "id",
            "household_id",
            "account_manager_id",
            "visited_at",
            "purpose",
            "notes",
            "latitude",
            "longitude",
            "photos",
        ]

    def get_photos(self, visit: FieldVisit) -> list:
        return VisitPhotoSerializer(visit.photos.all(), many=True).data


class VisitPhotoIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=VisitPhoto.Kind.choices)
    image = serializers.FileField()
    captured_at = serializers.DateTimeField()
    latitude = CoordinateField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = CoordinateField(min_value=-180, max_value=180, required=False, allow_null=True)


class VisitPhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(
        help_text="照片地址(本服务器上的路径)：带登录令牌读取，不是公开的媒体地址"
    )

    class Meta:
        model = VisitPhoto
        fields = [
            "id",
            "url",
            "kind",
            "width",
            "height",
            "size_bytes",
            "sha256",
            "captured_at",
            "latitude",
            "longitude",
        ]

    def get_url(self, photo: VisitPhoto) -> str:
        # A path on this server: the PAD already knows the server it syncs with, and a path
        # does not depend on the Host header a proxy passes.
        return photo_image_path(photo)


# --- Peer review (villagers' phones) ---------------------------------------------------------


class ReviewHouseholdSerializer(serializers.Serializer):
    """What an evaluator sees of a neighbour: the name and address they know, and their own
    vote — never other evaluators' votes, ID numbers or phones."""

    household_id = serializers.UUIDField(source="id")
    head_name = serializers.CharField(source="head.name", default="")
    group_name = serializers.CharField()
    address = serializers.CharField()
    my_colour = serializers.CharField(allow_null=True)
    my_reason = serializers.CharField(allow_null=True)
    my_suggested_amount = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
