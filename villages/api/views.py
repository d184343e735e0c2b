"""The villages API for account managers' PADs (peer review: ``villages.api.peer_review``).

Records from the PAD are sent with ``PUT /<kind>/<client uuid>/``: the first send creates
(201), a resend of the same record changes nothing (200), a corrected household, member or
archive updates (200). Field visits and their photos are evidence and are not edited once
recorded: a resend with different content is refused (400, naming each field that differs). This
is how an offline tablet syncs safely, without an Idempotency-Key.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.api.parsers import FormParser, MultiPartParser
from org.api.mixins import BankDataWritable, TenantScopedMixin
from org.models import Staff
from org.tenancy import scope_queryset
from villages.api import serializers as s
from villages.models import (
    Campaign,
    EconomicArchive,
    FieldVisit,
    Household,
    Member,
    PersonalDataAccess,
    Village,
    VillageAssignment,
    VisitPhoto,
)
from villages.selectors import latest_archive, village_progress
from villages.services import (
    archive_upsert,
    field_visit_record,
    household_upsert,
    may_reveal_identity,
    member_upsert,
    personal_data_reveal,
    visit_photo_add,
)
from villages.services.access import DEFAULT_API_REASON


def _visible(model, user):
    return scope_queryset(model.objects.all(), user)


def _staff(user) -> Staff | None:
    return getattr(user, "staff", None)


# --- Villages and campaigns ------------------------------------------------------------------


@extend_schema(tags=["villages"])
class VillageListView(TenantScopedMixin, generics.ListAPIView):
    """Villages the user may see (account managers: the villages assigned to them)."""

    queryset = Village.objects.select_related("division", "branch").order_by("division__code")
    serializer_class = s.VillageSerializer
    permission_classes = [BankDataWritable]

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        progress = village_progress(village.pk for village in page)
        data = s.VillageSerializer(page, many=True, context={"progress": progress}).data
        return self.get_paginated_response(data)


@extend_schema(tags=["villages"])
class MyVillagesView(VillageListView):
    """The villages currently assigned to me as account manager."""

    def get_queryset(self):
        mine = VillageAssignment.objects.current().filter(account_manager__user=self.request.user)
        return super().get_queryset().filter(pk__in=mine.values("village_id"))


@extend_schema(
    tags=["villages"],
    parameters=[
        OpenApiParameter(
            "updated_since", str, description="ISO时间：只返回此后有变化的农户(供PAD增量同步)"
        )
    ],
)
class VillageHouseholdsView(generics.ListAPIView):
    serializer_class = s.HouseholdListSerializer
    permission_classes = [BankDataWritable]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Household.objects.none()
        village = get_object_or_404(_visible(Village, self.request.user), pk=self.kwargs["pk"])
        households = _visible(Household, self.request.user).filter(village=village)
        since = self.request.query_params.get("updated_since")
        if since:
            field = s.serializers.DateTimeField()
            try:
                moment = field.to_internal_value(since)
            except s.serializers.ValidationError as exc:
                raise ValidationError({"updated_since": exc.detail}) from exc
            households = households.updated_since(moment)
        return households.select_related("head").order_by("updated_at", "id")


@extend_schema(tags=["villages"])
class CampaignListView(TenantScopedMixin, generics.ListAPIView):
    queryset = Campaign.objects.select_related("village").order_by("-starts_on", "id")
    serializer_class = s.CampaignSerializer
    permission_classes = [BankDataWritable]
    filterset_fields = ["status", "village"]

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        progress = village_progress({campaign.village_id for campaign in page})
        data = s.CampaignSerializer(page, many=True, context={"progress": progress}).data
        return self.get_paginated_response(data)


# --- Records synced from the PAD -------------------------------------------------------------


class _UpsertView(APIView):
    permission_classes = [BankDataWritable]

    def respond(self, data, created: bool) -> Response:
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def existing_or_404(self, model, pk):
        """The record if it exists and is visible; 404 if it exists elsewhere (another bank's
        UUID must neither be read nor overwritten); ``None`` if it does not exist at all."""
        visible = _visible(model, self.request.user).filter(pk=pk).first()
        if visible is None and model.objects.filter(pk=pk).exists():
            raise Http404
        return visible

    def household_or_error(self, household_id) -> Household:
        household = _visible(Household, self.request.user).filter(pk=household_id).first()
        if household is None:
            raise ValidationError({"household": "农户不存在或不在您的管辖范围内"})
        return household


def _reveal(request, household: Household, members: list[Member]) -> bool:
    """Whether this detail shows full numbers; if it does, the reveal is recorded first, with the
    tablet's ``reason`` or the default purpose of the PAD's detail."""
    if not may_reveal_identity(request.user):
        return False
    with service_errors():
        personal_data_reveal(
            user=request.user,
            household=household,
            members=members,
            fields="身份证号、手机号",
            reason=request.query_params.get("reason") or DEFAULT_API_REASON,
            channel=PersonalDataAccess.Channel.API,
            path=request.path,
        )
    return True


_REASON = OpenApiParameter(
    "reason", str, description="查看完整身份证号和手机号的事由(有权限的角色，每次查看留痕)"
)


@extend_schema(tags=["villages"])
class HouseholdView(_UpsertView):
    @extend_schema(responses=s.HouseholdDetailSerializer, parameters=[_REASON])
    def get(self, request, pk):
        household = get_object_or_404(
            _visible(Household, request.user)
            .select_related("head")
            .prefetch_related(
                Prefetch("members", Member.objects.order_by("relation", "birth_date"))
            ),
            pk=pk,
        )
        full = _reveal(request, household, list(household.members.all()))
        context = {"full_identity": full, "latest_archive": latest_archive(household)}
        return Response(s.HouseholdDetailSerializer(household, context=context).data)

    @extend_schema(request=s.HouseholdIn, responses=s.HouseholdDetailSerializer)
    def put(self, request, pk):
        self.existing_or_404(Household, pk)
        data = s.HouseholdIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        village = _visible(Village, request.user).filter(pk=values.pop("village")).first()
        if village is None:
            raise ValidationError({"village": "行政村不存在或不在您的管辖范围内"})
        with service_errors():
            household, created = household_upsert(
                household_id=pk, village=village, actor=_staff(request.user), **values
            )
        household = Household.objects.select_related("head").get(pk=household.pk)
        context = {"full_identity": False, "latest_archive": None}
        return self.respond(s.HouseholdDetailSerializer(household, context=context).data, created)


@extend_schema(tags=["villages"])
class MemberView(_UpsertView):
    @extend_schema(responses=s.MemberSerializer, parameters=[_REASON])
    def get(self, request, pk):
        member = get_object_or_404(
            _visible(Member, request.user).select_related("household"), pk=pk
        )
        context = {"full_identity": _reveal(request, member.household, [member])}
        return Response(s.MemberSerializer(member, context=context).data)

    @extend_schema(request=s.MemberIn, responses=s.MemberSerializer)
    def put(self, request, pk):
        self.existing_or_404(Member, pk)
        data = s.MemberIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        household = self.household_or_error(values.pop("household"))
        with service_errors():
            member, created = member_upsert(member_id=pk, household=household, **values)
        context = {"full_identity": False}
        return self.respond(s.MemberSerializer(member, context=context).data, created)


@extend_schema(tags=["villages"])
class ArchiveView(_UpsertView):
    @extend_schema(responses=s.ArchiveSerializer)
    def get(self, request, pk):
        archive = get_object_or_404(_visible(EconomicArchive, request.user), pk=pk)
        return Response(s.ArchiveSerializer(archive).data)

    @extend_schema(request=s.ArchiveIn, responses=s.ArchiveSerializer)
    def put(self, request, pk):
        self.existing_or_404(EconomicArchive, pk)
        data = s.ArchiveIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        household = self.household_or_error(values.pop("household"))
        survey_date = values.pop("survey_date")
        with service_errors():
            archive, created = archive_upsert(
                archive_id=pk,
                household=household,
                survey_date=survey_date,
                figures=values,
                surveyed_by=_staff(request.user),
            )
        return self.respond(s.ArchiveSerializer(archive).data, created)


@extend_schema(tags=["villages"])
class FieldVisitView(_UpsertView):
    @extend_schema(responses=s.FieldVisitSerializer)
    def get(self, request, pk):
        visit = get_object_or_404(
            _visible(FieldVisit, request.user).prefetch_related("photos"), pk=pk
        )
        return Response(s.FieldVisitSerializer(visit).data)

    @extend_schema(request=s.FieldVisitIn, responses=s.FieldVisitSerializer)
    def put(self, request, pk):
        self.existing_or_404(FieldVisit, pk)
        data = s.FieldVisitIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        household = self.household_or_error(values.pop("household"))
        staff = _staff(request.user)
        if staff is None:
            raise PermissionDenied("只有银行员工可以登记走访")
        with service_errors():
            visit, created = field_visit_record(
                visit_id=pk, household=household, account_manager=staff, **values
            )
        return self.respond(s.FieldVisitSerializer(visit).data, created)


@extend_schema(tags=["villages"])
class VisitPhotoView(_UpsertView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=s.VisitPhotoIn, responses=s.VisitPhotoSerializer)
    def put(self, request, visit_pk, pk):
        visit = get_object_or_404(_visible(FieldVisit, request.user), pk=visit_pk)
        # Another bank's photo id is not found, as every id of another bank, before the body
        # is read: the caller learns nothing of it and its row is never touched.
        self.existing_or_404(VisitPhoto, pk)
        data = s.VisitPhotoIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        with service_errors():
            photo, created = visit_photo_add(
                photo_id=pk, visit=visit, upload=values.pop("image"), **values
            )
        return self.respond(s.VisitPhotoSerializer(photo).data, created)
