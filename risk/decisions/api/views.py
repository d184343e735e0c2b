"""Decisions over the API: an application decided now (``decision_make``), an account manager's
what-if (``decision_what_if``: stored, marked, never used for a line), a decision's detail.
Permission first; another bank's household, product or decision is a 404 or a named 400."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.api.pagination import StandardPagination, paginated
from common.idempotency import idempotent
from org.api.mixins import BankDataWritable
from org.tenancy import scope_queryset
from products.models import Product
from risk.decisions.api import serializers as s
from risk.decisions.models import Decision, DecisionKind, Outcome
from risk.decisions.services import decision_make, decision_what_if
from risk.decisions.statistics import reason_texts_for
from villages.models import Household, Member


class MayDecide(BasePermission):
    """Deciding needs ``add_decision``; reading a household's decisions (GET) ``view_decision``."""

    message = "没有发起决策的权限"

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return request.user.has_perm("risk.view_decision")
        return request.user.has_perm("risk.add_decision")


class MayViewDecisions(BasePermission):
    message = "没有查看决策的权限"

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("risk.view_decision")


class DecisionFilter(serializers.Serializer):
    """A household's decisions narrowed by kind (申请/试算/批量) and outcome; a wrong value is a
    400 naming the parameter."""

    kind = serializers.ChoiceField(choices=DecisionKind.choices, required=False)
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False)


def _subject(request, pk, data):
    household = get_object_or_404(
        scope_queryset(Household.objects.select_related("head", "village"), request.user), pk=pk
    )
    product = Product.objects.visible_to_bank(household.bank_id).filter(pk=data["product"]).first()
    if product is None:
        raise ValidationError({"product": "产品不存在或不适用于该农户所在行社"})
    member = None
    if data.get("member"):
        member = Member.objects.filter(pk=data["member"], household=household).first()
        if member is None:
            raise ValidationError({"member": "申请人不是该农户的成员"})
    return household, product, member


def _decide(request, pk, input_serializer, service) -> Response:
    """Validate, find the household, product and applicant the user may reach, run ``service``
    (``decision_make`` or ``decision_what_if``, which take the same arguments but a device)."""
    data = input_serializer(data=request.data)
    data.is_valid(raise_exception=True)
    household, product, member = _subject(request, pk, data.validated_data)
    # Only an application carries the device it was sent from (what-ifs have none).
    extra = {k: v for k, v in data.validated_data.items() if k == "device_id"}
    with service_errors():
        decision = service(
            household=household,
            product=product,
            actor=request.user,
            member=member,
            requested_amount=data.validated_data.get("requested_amount"),
            **extra,
        )
    return Response(s.DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["risk"])
class HouseholdDecisionView(APIView):
    """Decide an application of this household now; send an ``Idempotency-Key`` from the PAD
    (a resend returns the first decision instead of deciding again). GET lists the household's
    decisions and what-ifs, newest first (filter with ``kind`` and ``outcome``)."""

    permission_classes = [IsAuthenticated, MayDecide, BankDataWritable]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind", int, enum=DecisionKind.values, description="1 申请 2 批量 3 试算"
            ),
            OpenApiParameter("outcome", str, enum=Outcome.values),
        ],
        responses={200: paginated(s.DecisionSummarySerializer)},
    )
    def get(self, request, pk):
        household = get_object_or_404(scope_queryset(Household.objects.all(), request.user), pk=pk)
        filters = DecisionFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = (
            Decision.objects.filter(household=household, **filters.validated_data)
            .select_related("product")
            .order_by("-decided_at", "-id")
        )
        paginator = StandardPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        texts = reason_texts_for(d.primary_reason for d in page)
        data = s.DecisionSummarySerializer(page, many=True, context={"reason_texts": texts}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=s.DecideInput, responses={201: s.DecisionSerializer})
    @idempotent(required=False)
    def post(self, request, pk):
        return _decide(request, pk, s.DecideInput, decision_make)


@extend_schema(tags=["risk"])
class HouseholdWhatIfView(APIView):
    """试算: what the strategy would decide now; stored and marked, never used for a line."""

    permission_classes = [IsAuthenticated, MayDecide, BankDataWritable]

    @extend_schema(request=s.WhatIfInput, responses={201: s.DecisionSerializer})
    @idempotent(required=False)
    def post(self, request, pk):
        return _decide(request, pk, s.WhatIfInput, decision_what_if)


@extend_schema(tags=["risk"])
class DecisionDetailView(APIView):
    """A decision with its reasons in Chinese, amounts, approval levels and versions."""

    permission_classes = [IsAuthenticated, MayViewDecisions]

    @extend_schema(responses={200: s.DecisionSerializer})
    def get(self, request, pk):
        queryset = scope_queryset(
            Decision.objects.select_related("strategy_version__model"), request.user
        )
        return Response(s.DecisionSerializer(get_object_or_404(queryset, pk=pk)).data)
