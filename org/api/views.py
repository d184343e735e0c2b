from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from knox.views import LogoutAllView, LogoutView
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed, NotFound
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
from org.auth import DeviceTokenAuthentication
from org.models import Institution, Staff
from org.roles import Role, group_name
from org.services import device_token_issue


class LoginThrottle(AnonRateThrottle):
    # Counted in the shared cache (settings.CACHES), so every server process adds to one count.
    rate = "20/min"


class LoginLocked(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "login_locked"


class PasswordChangeRequired(APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "password_change_required"
    default_detail = "该账号的密码由管理员设置，请先登录后台（/admin/）修改密码，再用新密码登录 PAD"


def is_peer_evaluator(user) -> bool:
    """A villager on a peer review panel: the evaluator role and no staff record."""
    return (
        user.is_active
        and not hasattr(user, "staff")
        and user.groups.filter(name=group_name(Role.PEER_EVALUATOR)).exists()
    )


class EvaluatorMeSerializer(serializers.Serializer):
    """The signed-in peer-review evaluator (a villager, not staff)."""

    user_id = serializers.IntegerField(source="id")
    username = serializers.CharField()
    full_name = serializers.CharField(source="first_name")


class LoginAnswerSerializer(LoginResponseSerializer):
    """Staff get ``me`` (their staff record); a peer-review evaluator gets ``evaluator``."""

    me = MeSerializer(allow_null=True)
    evaluator = EvaluatorMeSerializer(allow_null=True)


def login_answer(*, request, user, device_id: str, device_name: str) -> Response:
    """Issue the device token and answer as every login path does."""
    # As a session login would: last_login, and django-axes' record of the success.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    instance, token = device_token_issue(user=user, device_id=device_id, device_name=device_name)
    staff = getattr(user, "staff", None)
    body = {
        "token": token,
        "expiry": instance.expiry,
        "me": staff,
        "evaluator": None if staff is not None else user,
    }
    return Response(LoginAnswerSerializer(body).data)


def login_locked_error() -> APIException:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return LoginLocked(
        f"登录失败次数过多，该账号或地址已锁定 {minutes} 分钟；如需提前解锁，请联系省联社管理员"
    )


class LoginView(APIView):
    """A tablet logs in: username + password + its device id → a token for that device.

    Staff get a token for their PAD. Peer-review evaluators (villagers with the evaluator role
    and no staff record) log in here too, with the password set for them, and get a token that
    reaches only their own review rounds (or sign in with an SMS code: ``peer-review/login/``).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    def get_authenticate_header(self, request):
        # No authentication runs here (a stale token must not block logging in), yet a wrong
        # password is still a 401 with the scheme to use, not DRF's fallback 403.
        return "Token"

    @extend_schema(request=LoginSerializer, responses=LoginAnswerSerializer, tags=["auth"])
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request, username=data["username"], password=data["password"])
        # django-axes (the first authentication backend) counted a failure, or refused a locked
        # account or address before its password was even checked.
        if getattr(request, "axes_locked_out", False):
            raise login_locked_error()
        if user is None or not user.is_active:
            raise AuthenticationFailed("登录名或密码错误")
        if not hasattr(user, "staff") and not is_peer_evaluator(user):
            raise AuthenticationFailed("登录名或密码错误")
        if hasattr(user, "staff") and user.staff.must_change_password:
            # The password is one an administrator chose; no token until its holder replaces it.
            raise PasswordChangeRequired()
        return login_answer(
            request=request, user=user, device_id=data["device_id"], device_name=data["device_name"]
        )


class DeviceLogoutView(LogoutView):
    """Revoke the token of this tablet."""

    authentication_classes = [DeviceTokenAuthentication]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request, format=None):
        return super().post(request, format)


class DeviceLogoutAllView(LogoutAllView):
    """Revoke every tablet token of this user (lost tablet, staff leaving)."""

    authentication_classes = [DeviceTokenAuthentication]

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
