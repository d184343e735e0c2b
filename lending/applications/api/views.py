"""Applications for the PAD, self-service and the counter: create (a resend with the same
``client_uuid`` returns the first, 200 instead of 201), submit (decided at once), withdraw,
read with the timeline. Another bank's or another village's household is a 404; a transition
that lost a race answers 409."""

from __future__ import annotations

from contextlib import contextmanager

from django.db.models import Prefetch, prefetch_related_objects
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.api.pagination import StandardPagination, paginated
from common.api.parsers import MultiPartParser
from common.idempotency import idempotent
from lending.applications import services
from lending.applications.api import serializers as s
from lending.applications.models import Application, ApplicationEvent, ApplicationParty
from lending.lines.models import CreditLine
from org.api.mixins import BankDataWritable
from org.tenancy import scope_queryset
from products.models import Product
from villages.models import FieldVisit, Household, Member


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "申请状态已变化，请刷新后重试"


class MayApply(BasePermission):
    """Reading needs 查看贷款申请; creating, submitting and withdrawing 新增/修改贷款申请."""

    message = "没有办理贷款申请的权限"

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return request.user.has_perm("lending.view_application")
        return request.user.has_perm("lending.add_application")


def _visible_applications(user):
    return scope_queryset(Application.objects.select_related("applicant", "product"), user)


def _members(household, ids, field: str) -> list[Member]:
    found = {
        m.pk: m for m in Member.objects.filter(pk__in=ids, household__bank_id=household.bank_id)
    }
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ValidationError({field: "成员不存在：" + "、".join(missing)})
    return [found[i] for i in ids]


@extend_schema(tags=["lending"])
class ApplicationListView(APIView):
    permission_classes = [IsAuthenticated, MayApply, BankDataWritable]

    @extend_schema(
        operation_id="applications_list",
        parameters=[s.ApplicationFilter],
        responses={200: paginated(s.ApplicationSerializer)},
    )
    def get(self, request):
        filters = s.ApplicationFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = (
            _visible_applications(request.user).filter(**filters.validated_data).order_by("-id")
        )
        paginator = StandardPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(s.ApplicationSerializer(page, many=True).data)

    @extend_schema(
        request=s.ApplicationInput,
        responses={201: s.ApplicationDetailSerializer, 200: s.ApplicationDetailSerializer},
    )
    def post(self, request):
        data = s.ApplicationInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        household = get_object_or_404(
            scope_queryset(Household.objects.select_related("village"), request.user),
            pk=v["household"],
        )
        applicant = Member.objects.filter(pk=v["applicant"], household=household).first()
        if applicant is None:
            raise ValidationError({"applicant": "申请人不是该农户的成员"})
        product = Product.objects.visible_to_bank(household.bank_id).filter(pk=v["product"]).first()
        if product is None:
            raise ValidationError({"product": "产品不存在或不适用于该农户所在行社"})
        line = None
        if v.get("line"):
            line = CreditLine.objects.filter(pk=v["line"], household=household).first()
            if line is None:
                raise ValidationError({"line": "该额度不属于此农户"})
        with service_errors():
            application, created = services.application_create(
                client_uuid=v["client_uuid"],
                household=household,
                applicant=applicant,
                product=product,
                amount=v["amount"],
                term_months=v["term_months"],
                repayment_method=v["repayment_method"],
                purpose=v["purpose"],
                channel=v["channel"],
                actor=request.user,
                co_borrowers=_members(household, v["co_borrowers"], "co_borrowers"),
                guarantors=_members(household, v["guarantors"], "guarantors"),
                line=line,
                device_id=v.get("device_id", ""),
            )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(_detail(application), status=code)


@contextmanager
def _conflicts():
    """A transition that found the application in another state: 409, not the 400 of bad
    input (the PAD refreshes instead of showing a form error)."""
    try:
        yield
    except services.ApplicationConflict as conflict:
        raise Conflict("；".join(conflict.messages)) from conflict


def _detail(application: Application) -> dict:
    """The detail answer for an application already loaded with its applicant and product (by
    ``_one`` or by the service that changed it): parties, timeline and documents in three
    queries, whatever their number (the PAD reads it after every step)."""
    application.__dict__.pop("_prefetched_objects_cache", None)  # a service's may be stale
    prefetch_related_objects(
        [application],
        Prefetch("parties", queryset=ApplicationParty.objects.select_related("member")),
        Prefetch("events", queryset=ApplicationEvent.objects.select_related("actor")),
        "attachments",
    )
    return s.ApplicationDetailSerializer(application).data


def _one(request, pk) -> Application:
    return get_object_or_404(_visible_applications(request.user), pk=pk)


def _target(request, pk) -> Application:
    """The application a transition names, checked against the user's scope and read as its id
    alone: the service locks and reads it whole (one full read instead of two)."""
    return get_object_or_404(scope_queryset(Application.objects.only("id"), request.user), pk=pk)


@extend_schema(tags=["lending"])
class ApplicationDetailView(APIView):
    permission_classes = [IsAuthenticated, MayApply, BankDataWritable]

    @extend_schema(responses={200: s.ApplicationDetailSerializer})
    def get(self, request, pk):
        return Response(_detail(_one(request, pk)))


@extend_schema(tags=["lending"])
class ApplicationSubmitView(APIView):
    """Submit and decide now (纯线上: APPROVE within the product's automatic limit is approved
    with no human step)."""

    permission_classes = [IsAuthenticated, MayApply, BankDataWritable]

    @extend_schema(request=None, responses={200: s.ApplicationDetailSerializer})
    @idempotent(required=False)
    def post(self, request, pk):
        application = _target(request, pk)
        with service_errors(), _conflicts():
            application = services.application_submit(application=application, actor=request.user)
        return Response(_detail(application))


@extend_schema(tags=["lending"])
class ApplicationWithdrawView(APIView):
    permission_classes = [IsAuthenticated, MayApply, BankDataWritable]

    @extend_schema(request=s.WithdrawInput, responses={200: s.ApplicationDetailSerializer})
    def post(self, request, pk):
        data = s.WithdrawInput(data=request.data)
        data.is_valid(raise_exception=True)
        application = _target(request, pk)
        with service_errors(), _conflicts():
            application = services.application_withdraw(
                application=application,
                actor=request.user,
                reason=data.validated_data.get("reason", ""),
            )
        return Response(_detail(application))


@extend_schema(tags=["lending"])
class ApplicationAttachmentsView(APIView):
    """Documents of an application (申请资料): list, and upload one from the PAD (multipart);
    a resend with the same ``client_uuid`` answers 200 with the first upload."""

    permission_classes = [IsAuthenticated, MayApply, BankDataWritable]
    parser_classes = [MultiPartParser]

    @extend_schema(responses={200: s.AttachmentSerializer(many=True)})
    def get(self, request, pk):
        application = _one(request, pk)
        return Response(s.AttachmentSerializer(application.attachments.all(), many=True).data)

    @extend_schema(
        request={"multipart/form-data": s.AttachmentInput},
        responses={201: s.AttachmentSerializer, 200: s.AttachmentSerializer},
    )
    def post(self, request, pk):
        data = s.AttachmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        application = _one(request, pk)
        with service_errors():
            attachment, created = services.application_attachment_add(
                application=application,
                client_uuid=v["client_uuid"],
                kind=v["kind"],
                upload=v["file"],
                actor=request.user,
            )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.AttachmentSerializer(attachment).data, status=code)


@extend_schema(tags=["lending"])
class ApplicationInvestigationView(APIView):
    """The account manager's investigation (a field visit with location and photos, uploaded
    first through the visits API) puts a referred application into review (辅助模式)."""

    permission_classes = [IsAuthenticated, MayApply, BankDataWritable]

    @extend_schema(request=s.InvestigationInput, responses={200: s.ApplicationDetailSerializer})
    @idempotent(required=False)
    def post(self, request, pk):
        data = s.InvestigationInput(data=request.data)
        data.is_valid(raise_exception=True)
        application = _one(request, pk)
        visit = (
            scope_queryset(FieldVisit.objects.all(), request.user)
            .filter(pk=data.validated_data["visit"], household_id=application.household_id)
            .first()
        )
        if visit is None:
            raise ValidationError({"visit": "该走访不存在或不是对申请农户的走访"})
        with service_errors(), _conflicts():
            application = services.application_investigate(
                application=application,
                visit=visit,
                actor=request.user,
                comment=data.validated_data.get("comment", ""),
            )
        return Response(_detail(application))


@extend_schema(tags=["lending"])
class ApplicationResubmitView(APIView):
    """An application returned for information goes back to its reviewer once supplied."""

    permission_classes = [IsAuthenticated, MayApply, BankDataWritable]

    @extend_schema(request=s.ResubmitInput, responses={200: s.ApplicationDetailSerializer})
    @idempotent(required=False)
    def post(self, request, pk):
        data = s.ResubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        application = _target(request, pk)
        with service_errors(), _conflicts():
            application = services.application_resubmit(
                application=application,
                actor=request.user,
                comment=data.validated_data["comment"],
            )
        return Response(_detail(application))
