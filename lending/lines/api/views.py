"""My credit lines with their availability (PAD and self-service). Reads only: lines are
granted by a campaign's pre-approval and changed by the services the admin calls."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission, IsAuthenticated

from lending.lines.api.serializers import CreditLineSerializer
from lending.lines.models import CreditLine, LineStatus
from org.api.mixins import BankDataWritable, TenantScopedMixin


class MayViewLines(BasePermission):
    message = "没有查看授信额度的权限"

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("lending.view_creditline")


class LineFilter(serializers.Serializer):
    household = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=LineStatus.choices, required=False)


_LINES = CreditLine.objects.select_related("product", "member", "household__head").order_by(
    "-valid_until", "-id"
)


@extend_schema(
    tags=["lending"],
    parameters=[
        OpenApiParameter("household", str, description="农户编号"),
        OpenApiParameter("status", str, enum=LineStatus.values),
    ],
)
class CreditLineListView(TenantScopedMixin, generics.ListAPIView):
    """Credit lines the user may see (account managers: their villages' households), newest
    validity first; ``available`` is what can be drawn now on the line itself."""

    queryset = _LINES
    serializer_class = CreditLineSerializer
    permission_classes = [IsAuthenticated, MayViewLines, BankDataWritable]
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    def filter_queryset(self, queryset):
        filters = LineFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return queryset.filter(**filters.validated_data)


@extend_schema(tags=["lending"])
class CreditLineDetailView(TenantScopedMixin, generics.RetrieveAPIView):
    queryset = _LINES
    serializer_class = CreditLineSerializer
    permission_classes = [IsAuthenticated, MayViewLines, BankDataWritable]
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"
