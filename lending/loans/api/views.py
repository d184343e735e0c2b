"""Loans for the PAD and self-service: draw on a line (idempotent by ``client_uuid`` and
``Idempotency-Key``), list my loans, read one with its schedule, transactions and history."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.idempotency import idempotent
from lending.lines.models import CreditLine
from lending.loans import services
from lending.loans.api import serializers as s
from lending.loans.models import Loan, LoanEvent, LoanStatus
from org.api.mixins import BankDataWritable, TenantScopedMixin
from org.tenancy import scope_queryset
from villages.models import Member


class MayBorrow(BasePermission):
    """Reading needs 查看贷款; drawing on a line 新增贷款 (用信)."""

    message = "没有办理用信的权限"

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return request.user.has_perm("lending.view_loan")
        return request.user.has_perm("lending.add_loan")


_LOANS = Loan.objects.select_related("borrower", "product").order_by("-id")
# The schedule, transactions and history in three queries, whatever their number.
_LOAN_DETAIL = _LOANS.prefetch_related(
    "instalments",
    "transactions",
    Prefetch("events", queryset=LoanEvent.objects.select_related("actor")),
)


@extend_schema(tags=["lending"])
class DrawdownView(APIView):
    """用信: draw on an active line. The loan answers 201 待放款 (the money is asked of the
    core after commit) or, resent with the same ``client_uuid``, 200 as it stands now."""

    permission_classes = [IsAuthenticated, MayBorrow, BankDataWritable]

    @extend_schema(
        request=s.DrawdownInput,
        responses={201: s.LoanDetailSerializer, 200: s.LoanDetailSerializer},
    )
    @idempotent(required=False)
    def post(self, request, pk):
        data = s.DrawdownInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        line = get_object_or_404(
            scope_queryset(
                CreditLine.objects.select_related("household__head", "member", "product_version"),
                request.user,
            ),
            pk=pk,
        )
        borrower = None
        if v.get("borrower"):
            borrower = Member.objects.filter(
                pk=v["borrower"], household_id=line.household_id
            ).first()
            if borrower is None:
                raise ValidationError({"borrower": "借款人须是该授信农户的成员"})
        with service_errors():
            loan, created = services.loan_drawdown(
                line=line,
                amount=v["amount"],
                term_months=v["term_months"],
                method=v["method"],
                deposit_account=v["deposit_account"],
                client_uuid=v["client_uuid"],
                actor=request.user,
                channel=v["channel"],
                purpose=v.get("purpose", ""),
                borrower=borrower,
            )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(_detail(loan.pk), status=code)


def _detail(pk: int) -> dict:
    return s.LoanDetailSerializer(_LOAN_DETAIL.get(pk=pk)).data


@extend_schema(
    tags=["lending"],
    parameters=[OpenApiParameter("status", str, enum=LoanStatus.values)],
)
class LoanListView(TenantScopedMixin, generics.ListAPIView):
    """Loans the user may see (account managers: their villages'), newest first."""

    queryset = _LOANS
    serializer_class = s.LoanSerializer
    permission_classes = [IsAuthenticated, MayBorrow, BankDataWritable]
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    def filter_queryset(self, queryset):
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in LoanStatus.values:
                raise ValidationError({"status": f"未知状态 {wanted}"})
            queryset = queryset.filter(status=wanted)
        return queryset


@extend_schema(tags=["lending"])
class LoanDetailView(TenantScopedMixin, generics.RetrieveAPIView):
    queryset = _LOAN_DETAIL
    serializer_class = s.LoanDetailSerializer
    permission_classes = [IsAuthenticated, MayBorrow, BankDataWritable]
    tenant_bank_field = "bank"
    tenant_village_field = "household__village"
