"""Loans for the PAD and self-service: draw on a line (idempotent by ``client_uuid`` and
``Idempotency-Key``), list my loans, read one with its schedule, transactions and history."""

from __future__ import annotations

from contextlib import contextmanager

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.idempotency import idempotent
from lending.corebank.gateway import CoreUnavailable
from lending.lines.models import CreditLine
from lending.loans import services
from lending.loans.api import serializers as s
from lending.loans.models import Loan, LoanEvent, LoanStatus
from org.api.mixins import BankDataWritable, TenantScopedMixin
from org.tenancy import scope_queryset
from villages.models import Member


class LoanConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "贷款状态已变化，请刷新后重试"


class CoreUnavailableError(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "core_unavailable"
    default_detail = "核心系统暂时无法扣款，请稍后用同一幂等键重试"


@contextmanager
def _loan_errors():
    """A loan in another state or held by the close of business: 409 (with ``Retry-After``
    when waiting helps); the core not answering: 503, retry with the same key."""
    with service_errors():
        try:
            yield
        except services.LoanBusy as busy:
            error = LoanConflictError("；".join(busy.messages), code="loan_busy")
            error.wait = busy.retry_after
            raise error from busy
        except services.LoanConflict as conflict:
            raise LoanConflictError("；".join(conflict.messages)) from conflict
        except CoreUnavailable as down:
            error = CoreUnavailableError()
            error.wait = 10
            raise error from down


class MayRepay(BasePermission):
    message = "没有办理还款的权限"

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return request.user.has_perm("lending.view_loan")
        return request.user.has_perm("lending.repay_loan")


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


def _visible_loan(request, pk: int) -> Loan:
    return get_object_or_404(
        scope_queryset(Loan.objects.select_related("bank"), request.user), pk=pk
    )


@extend_schema(tags=["lending"], responses=s.RepaymentQuoteSerializer)
class RepaymentQuoteView(APIView):
    """今日应还与提前结清金额: what is due today and what pays the loan off, as if the close of
    business had already reached the loan (nothing is written)."""

    permission_classes = [IsAuthenticated, MayRepay]

    def get(self, request, pk):
        loan = _visible_loan(request, pk)
        with _loan_errors():
            quote = services.loan_quote(loan=loan)
        return Response(s.RepaymentQuoteSerializer(quote.as_dict()).data)


@extend_schema(tags=["lending"])
class RepaymentView(APIView):
    """还款 / 提前还款 / 提前结清, from the borrower's deposit account through the core (or cash
    at the counter). ``Idempotency-Key`` is required: resent with the same key and body it
    answers the first result and moves no money; with another body, 422."""

    permission_classes = [IsAuthenticated, MayRepay, BankDataWritable]

    @extend_schema(
        request=s.RepaymentInput,
        responses={201: s.LoanTransactionSerializer, 200: s.LoanTransactionSerializer},
    )
    @idempotent(required=True)
    def post(self, request, pk):
        data = s.RepaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        loan = _visible_loan(request, pk)
        with _loan_errors():
            txn, created = services.loan_repay(
                loan=loan,
                amount=v["amount"],
                key=request.headers["Idempotency-Key"],
                actor=request.user,
                kind=v["kind"],
                channel=v["channel"],
                reschedule=v.get("reschedule"),
                value_date=v.get("value_date"),
            )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.LoanTransactionSerializer(txn).data, status=code)
