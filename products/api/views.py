"""Product API: the catalogue, what a household may apply for, effective terms, schedule
preview, the LPR, and cloning. One view per use case; writes go through products.services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.clock import business_today
from common.idempotency import idempotent
from org.models import Institution
from org.tenancy import scope_for, scope_queryset
from products import policy
from products.api import serializers as s
from products.models import Product, ProductVersion
from products.preview import schedule_preview
from products.selectors import (
    household_applicant,
    lpr_on,
    product_terms_effective,
    products_available,
    products_for_list,
)
from products.services import product_clone
from villages.models import Household


def _query(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(
    tags=["products"],
    parameters=[OpenApiParameter("owner", str, description="federation 或 行社ID")],
)
class ProductListView(generics.ListAPIView):
    """Products the user may see: the federation's shared catalogue and their bank's own."""

    serializer_class = s.ProductListSerializer
    filterset_fields = ["series", "status", "purpose"]

    def get_queryset(self):
        queryset = products_for_list(self.request.user)
        owner = self.request.query_params.get("owner")
        if owner == "federation":
            queryset = queryset.filter(owner__isnull=True)
        elif owner:
            # isdigit() alone also accepts "²" and other digits int() cannot read (a 500).
            if not (owner.isascii() and owner.isdigit()):
                raise ValidationError({"owner": "owner 须为 federation 或行社ID"})
            queryset = queryset.filter(owner_id=int(owner))
        return queryset


class ProductDetailView(APIView):
    """A product with its versions and its effective parameters on ``on`` (default today)."""

    @extend_schema(
        tags=["products"],
        parameters=[OpenApiParameter("on", str, description="日期 YYYY-MM-DD")],
        responses=s.ProductDetailSerializer,
    )
    def get(self, request, pk: int):
        product = get_object_or_404(products_for_list(request.user), pk=pk)
        on_date = _query(s.LprQuerySerializer, request).get("on") or business_today()
        terms, error = None, None
        try:
            terms = product_terms_effective(product=product, on_date=on_date)
        except DjangoValidationError as exc:
            error = exc.message_dict
        product.versions_list = list(product.versions.order_by("-number"))
        data = s.ProductDetailSerializer(
            {
                **{
                    f: getattr(product, f)
                    for f in s.ProductListSerializer.Meta.fields
                    if not f.endswith("_display")
                },
                "series_display": product.get_series_display(),
                "purpose_display": product.get_purpose_display(),
                "status_display": product.get_status_display(),
                "description": product.description,
                "versions": product.versions_list,
                "effective_on": on_date,
                "effective_terms": terms,
                "effective_terms_error": error,
            }
        ).data
        return Response(data)


class AvailableProductsView(APIView):
    """Products a household may apply for through a channel: either for a household the user
    can see (bank, segment and the head's age are read from it) or for plain inputs (segment,
    applicant age, bank)."""

    @extend_schema(
        tags=["products"],
        parameters=[s.AvailabilityQuerySerializer],
        responses=s.AvailableProductSerializer(many=True),
    )
    def get(self, request):
        query = _query(s.AvailabilityQuerySerializer, request)
        scope = scope_for(request.user)
        if scope.sees_nothing:
            raise Http404
        if "household" in query:
            household = get_object_or_404(
                scope_queryset(Household.objects.select_related("head"), request.user),
                pk=query["household"],
            )
            with service_errors():
                applicant = household_applicant(household)
            bank_id, segment, age = applicant.bank_id, applicant.segment, applicant.age
        else:
            bank_id = self._bank_id(scope, query.get("bank"))
            segment, age = query["segment"], query["age"]
        with service_errors():
            available = products_available(
                bank_id=bank_id,
                channel=query["channel"],
                segment=segment,
                age=age,
                on_date=query.get("on"),
            )
        return Response(s.AvailableProductSerializer(available, many=True).data)

    @staticmethod
    def _bank_id(scope, bank_id: int | None) -> int:
        if not scope.all_banks:
            # Bank staff ask for their own bank; another bank's id is not found.
            if bank_id is not None and bank_id != scope.bank_id:
                raise Http404
            return scope.bank_id
        if bank_id is None:
            raise ValidationError({"bank": "请指定法人行社"})
        if not Institution.objects.banks().filter(pk=bank_id).exists():
            raise ValidationError({"bank": "法人行社不存在"})
        return bank_id


class SchedulePreviewView(APIView):
    """Repayment schedule a loan under this product version would have."""

    @extend_schema(
        tags=["products"],
        parameters=[s.SchedulePreviewQuerySerializer],
        responses=s.SchedulePreviewSerializer,
    )
    def get(self, request, pk: int):
        visible = Product.objects.visible_to(request.user)
        version = get_object_or_404(
            ProductVersion.objects.select_related("product", "product__parent").filter(
                product__in=visible
            ),
            pk=pk,
        )
        query = _query(s.SchedulePreviewQuerySerializer, request)
        with service_errors():
            preview = schedule_preview(version=version, **query)
        return Response(s.SchedulePreviewSerializer(preview).data)


class LprView(APIView):
    """The LPR in force on a date (default today)."""

    @extend_schema(tags=["products"], parameters=[s.LprQuerySerializer], responses=s.LprSerializer)
    def get(self, request):
        on_date = _query(s.LprQuerySerializer, request).get("on") or business_today()
        try:
            quote = lpr_on(on_date)
        except DjangoValidationError as exc:
            # The service names its own argument (on_date); the client sent ``on``.
            raise ValidationError({"on": exc.messages}) from exc
        return Response(s.LprSerializer(quote).data)


class ProductCloneView(APIView):
    """Clone a product as a new draft: a federation product becomes the caller's bank's
    sub-product; any other product is copied within its owner."""

    @extend_schema(
        tags=["products"], request=s.CloneSerializer, responses={201: s.ProductListSerializer}
    )
    @idempotent(required=False)
    def post(self, request, pk: int):
        source = get_object_or_404(Product.objects.visible_to(request.user), pk=pk)
        bank_id = policy.actor_bank_id(request.user)
        owner = Institution.objects.get(pk=bank_id) if bank_id else None
        if source.owner_id is not None:
            owner = source.owner
        # Who may, before what: a user who may not clone is told so, not asked to fix a code
        # first and then refused anyway. The service checks the same rule again.
        try:
            policy.check_manage_owner(
                request.user, owner.pk if owner else None, perm="products.add_product"
            )
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        body = s.CloneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            with service_errors():
                product = product_clone(
                    source=source, actor=request.user, owner=owner, **body.validated_data
                )
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        product = products_for_list(request.user).get(pk=product.pk)
        return Response(s.ProductListSerializer(product).data, status=status.HTTP_201_CREATED)
