from __future__ import annotations

from django.contrib.auth import authenticate
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from knox.views import LogoutAllView, LogoutView
from rest_framework import generics
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from org.api.mixins import BankDataWritable, TenantScopedMixin
from org.api.serializers import (
    InstitutionSerializer,
    LoginResponseSerializer,
    LoginSerializer,
    MeSerializer,
    StaffListSerializer,
)
from org.models import Institution, Staff
from org.services import device_token_issue


class LoginThrottle(AnonRateThrottle):
    rate = "20/min"


class LoginView(APIView):
    """A tablet logs in: username + password + its device id → a token for that device."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    def get_authenticate_header(self, request):
        # No authentication runs here (a stale token must not block logging in), yet a wrong
        # password is still a 401 with the scheme to use, not DRF's fallback 403.
        return "Token"

    @extend_schema(request=LoginSerializer, responses=LoginResponseSerializer, tags=["auth"])
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active or not hasattr(user, "staff"):
            raise AuthenticationFailed("登录名或密码错误")
        instance, token = device_token_issue(
            user=user, device_id=data["device_id"], device_name=data["device_name"]
        )
        body = {"token": token, "expiry": instance.expiry, "me": user.staff}
        return Response(LoginResponseSerializer(body).data)


class DeviceLogoutView(LogoutView):
    """Revoke the token of this tablet."""

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request, format=None):
        return super().post(request, format)


class DeviceLogoutAllView(LogoutAllView):
    """Revoke every tablet token of this user (lost tablet, staff leaving)."""

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request, format=None):
        return super().post(request, format)


class MeView(APIView):
    @extend_schema(responses=MeSerializer, tags=["org"])
    def get(self, request):
        staff = (
            Staff.objects.select_related("institution", "bank", "user")
            .prefetch_related("user__groups")
            .filter(user=request.user)
            .first()
        )
        if staff is None:
            raise NotFound("当前账号未关联员工档案")
        return Response(MeSerializer(staff).data)


@extend_schema(tags=["org"])
class InstitutionListView(TenantScopedMixin, generics.ListAPIView):
    queryset = Institution.objects.select_related("parent").order_by("code")
    serializer_class = InstitutionSerializer
    permission_classes = [BankDataWritable]
    filterset_fields = ["kind", "parent"]


@extend_schema(tags=["org"])
class InstitutionDetailView(TenantScopedMixin, generics.RetrieveAPIView):
    queryset = Institution.objects.all()
    serializer_class = InstitutionSerializer
    permission_classes = [BankDataWritable]


class StaffFilter(filters.FilterSet):
    # django-filter's boolean filter reads anything but true/false as "no filter" and answers
    # with everyone; a client that misspells the value should hear so instead.
    is_active = filters.TypedChoiceFilter(
        choices=[("true", "在职"), ("false", "停用")],
        coerce=lambda value: value == "true",
        label="是否在职(true/false)",
    )

    class Meta:
        model = Staff
        fields = ["institution", "is_active"]


@extend_schema(tags=["org"])
class StaffListView(TenantScopedMixin, generics.ListAPIView):
    queryset = (
        Staff.objects.select_related("institution", "user")
        .prefetch_related("user__groups")
        .order_by("institution__code", "employee_no")
    )
    serializer_class = StaffListSerializer
    permission_classes = [BankDataWritable]
    filterset_class = StaffFilter


@extend_schema(tags=["org"])
class StaffDetailView(TenantScopedMixin, generics.RetrieveAPIView):
    queryset = Staff.objects.select_related("institution", "user").prefetch_related("user__groups")
    serializer_class = StaffListSerializer
    permission_classes = [BankDataWritable]
