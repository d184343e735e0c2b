"""Back-to-back peer review over the API: staff open rounds and seat villagers; villagers sign in
on a phone and vote.

Two kinds of caller, kept apart:

- **staff** (a bank or a branch): ``POST peer-review/rounds/`` opens a round for a village they
  may see, ``…/<id>/evaluators/`` lists and seats evaluators, ``…/<id>/close/`` closes by hand.
  Tenancy applies as everywhere: another bank's round is a 404;
- **evaluators** (villagers with the peer-evaluator role only): sign in with the password set for
  them (``auth/login/``) or with a code texted to their phone (``peer-review/login/code/`` then
  ``peer-review/login/``); they list the rounds they sit on, the village's households with their
  own vote, and vote. Anything else — another round, another village's household, a staff
  endpoint — answers 404 or 403. Other evaluators' votes are never shown to anyone while a round
  is open; staff see results once it is closed.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.masking import mask_phone
from org.api.mixins import BankDataWritable
from org.api.views import LoginAnswerSerializer, LoginThrottle, login_answer, login_locked_error
from org.tenancy import scope_queryset
from villages.api import serializers as s
from villages.auth import code_login_name
from villages.models import (
    Household,
    ListColour,
    PeerReviewEvaluator,
    PeerReviewRound,
    PeerReviewVote,
    Village,
)
from villages.services.peer_review import (
    evaluator_login_code_send,
    peer_review_evaluator_add,
    peer_review_round_close,
    peer_review_round_open,
    peer_review_vote_cast,
)

# --- Serializers --------------------------------------------------------------------------------


class RoundSerializer(serializers.ModelSerializer):
    village_id = serializers.IntegerField()
    village = serializers.CharField(source="village.name")
    status_display = serializers.CharField(source="get_status_display")
    close_reason_display = serializers.CharField(source="get_close_reason_display")

    class Meta:
        model = PeerReviewRound
        fields = [
            "id",
            "title",
            "village_id",
            "village",
            "status",
            "status_display",
            "closes_on",
            "close_when_all_voted",
            "black_veto_count",
            "opened_at",
            "closed_at",
            "close_reason",
            "close_reason_display",
        ]


class RoundOpenIn(serializers.Serializer):
    village = serializers.IntegerField(label="行政村")
    title = serializers.CharField(label="评议名称", max_length=100)
    closes_on = serializers.DateField(label="截止日期", required=False, allow_null=True)
    close_when_all_voted = serializers.BooleanField(label="评完即结束", default=True)
    black_veto_count = serializers.IntegerField(label="黑名单一票否决票数", default=2, min_value=1)


class EvaluatorSerializer(serializers.ModelSerializer):
    """An evaluator as staff see them: the phone masked, the number of votes cast (never the
    votes themselves)."""

    kind_display = serializers.CharField(source="get_kind_display")
    phone = serializers.SerializerMethodField(help_text="手机号(脱敏)")
    username = serializers.CharField(source="user.username")
    votes_cast = serializers.IntegerField(source="n_votes", default=0)

    class Meta:
        model = PeerReviewEvaluator
        fields = ["id", "name", "kind", "kind_display", "phone", "username", "votes_cast"]

    def get_phone(self, evaluator) -> str:
        return mask_phone(evaluator.phone)


class EvaluatorIn(serializers.Serializer):
    name = serializers.CharField(label="姓名", max_length=50)
    kind = serializers.ChoiceField(label="身份", choices=PeerReviewEvaluator.Kind.choices)
    phone = serializers.CharField(label="手机号", max_length=30, required=False, default="")
    username = serializers.CharField(label="登录名", max_length=150, required=False)
    password = serializers.CharField(
        label="登录密码", required=False, trim_whitespace=False, write_only=True
    )

    def validate(self, attrs):
        if not attrs.get("phone", "").strip() and not attrs.get("password"):
            raise serializers.ValidationError(
                {"phone": ["请填写手机号(接收验证码)或设置登录密码，评议员才能登录"]}
            )
        return attrs


class CloseAnswer(serializers.Serializer):
    round = RoundSerializer()
    households_with_result = serializers.IntegerField()


class CodeRequestIn(serializers.Serializer):
    phone = serializers.CharField(label="手机号", max_length=30)


class CodeRequestAnswer(serializers.Serializer):
    message = serializers.CharField()


class CodeLoginIn(serializers.Serializer):
    phone = serializers.CharField(label="手机号", max_length=30)
    code = serializers.CharField(label="验证码", max_length=12)
    device_id = serializers.CharField(label="设备标识", max_length=64)
    device_name = serializers.CharField(
        label="设备名称", max_length=100, required=False, default=""
    )


# --- Staff: open, seat, close -------------------------------------------------------------------


def _staff_round_or_404(request, round_pk) -> PeerReviewRound:
    return get_object_or_404(
        scope_queryset(PeerReviewRound.objects.select_related("village"), request.user),
        pk=round_pk,
    )


@extend_schema(tags=["peer-review"])
class RoundListView(generics.ListAPIView):
    """Rounds: an evaluator's own; for staff, those of the villages they may see.

    ``POST`` (staff with the right to open rounds) opens a round for a village.
    """

    serializer_class = RoundSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PeerReviewRound.objects.none()
        user = self.request.user
        rounds = PeerReviewRound.objects.select_related("village").order_by("-opened_at", "-pk")
        if hasattr(user, "staff"):
            return scope_queryset(rounds, user)
        return rounds.of_evaluator(user)

    @extend_schema(request=RoundOpenIn, responses={201: RoundSerializer})
    def post(self, request):
        # Permission first: whoever may not open a round hears so before any validation.
        may_write = BankDataWritable().has_permission(request, self)
        if not (may_write and request.user.has_perm("villages.add_peerreviewround")):
            raise PermissionDenied()
        data = RoundOpenIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        village = get_object_or_404(
            scope_queryset(Village.objects.all(), request.user), pk=values.pop("village")
        )
        with service_errors():
            round = peer_review_round_open(village=village, opened_by=request.user.staff, **values)
        round = PeerReviewRound.objects.select_related("village").get(pk=round.pk)
        return Response(RoundSerializer(round).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["peer-review"])
class RoundEvaluatorsView(APIView):
    """The panel of a round (staff): list it, or seat a villager (``POST``)."""

    permission_classes = [BankDataWritable]

    @extend_schema(responses=EvaluatorSerializer(many=True))
    def get(self, request, round_pk):
        round = _staff_round_or_404(request, round_pk)
        evaluators = (
            PeerReviewEvaluator.objects.filter(round=round)
            .select_related("user")
            .annotate(n_votes=Count("votes"))
            .order_by("pk")
        )
        return Response(EvaluatorSerializer(evaluators, many=True).data)

    @extend_schema(request=EvaluatorIn, responses={201: EvaluatorSerializer})
    def post(self, request, round_pk):
        round = _staff_round_or_404(request, round_pk)
        if not request.user.has_perm("villages.add_peerreviewevaluator"):
            raise PermissionDenied()
        data = EvaluatorIn(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            evaluator = peer_review_evaluator_add(round=round, **data.validated_data)
        evaluator.n_votes = 0
        return Response(EvaluatorSerializer(evaluator).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["peer-review"])
class RoundCloseView(APIView):
    """Close a round by hand (staff) and aggregate its votes into each household's list colour."""

    permission_classes = [BankDataWritable]

    @extend_schema(request=None, responses=CloseAnswer)
    def post(self, request, round_pk):
        round = _staff_round_or_404(request, round_pk)
        if not request.user.has_perm("villages.change_peerreviewround"):
            raise PermissionDenied()
        with service_errors():
            count = peer_review_round_close(round=round, closed_by=request.user.staff)
        round.refresh_from_db()
        return Response(CloseAnswer({"round": round, "households_with_result": count}).data)


# --- Evaluators: sign in ------------------------------------------------------------------------


@extend_schema(tags=["peer-review"])
class CodeRequestView(APIView):
    """Text a one-time sign-in code to an evaluator's phone (valid 10 minutes, once).

    The answer is the same whether or not the phone is an evaluator's, so the endpoint cannot be
    used to find out who sits on a panel.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(request=CodeRequestIn, responses={202: CodeRequestAnswer})
    def post(self, request):
        data = CodeRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            evaluator_login_code_send(phone=data.validated_data["phone"])
        message = "如该手机号是进行中评议的评议员手机号，验证码已发送，10分钟内有效"
        return Response({"message": message}, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["peer-review"])
class CodeLoginView(APIView):
    """An evaluator signs in with the phone and the code texted to it → a token for this phone.

    Wrong codes count toward the login lockout like wrong passwords (429 once locked).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    def get_authenticate_header(self, request):
        return "Token"

    @extend_schema(request=CodeLoginIn, responses=LoginAnswerSerializer)
    def post(self, request):
        data = CodeLoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = authenticate(
            request,
            username=code_login_name(values["phone"]),
            phone=values["phone"],
            login_code=values["code"],
        )
        if getattr(request, "axes_locked_out", False):
            raise login_locked_error()
        if user is None:
            raise AuthenticationFailed("手机号或验证码错误，或验证码已过期、已使用")
        return login_answer(
            request=request,
            user=user,
            device_id=values["device_id"],
            device_name=values["device_name"],
        )


# --- Evaluators: vote ---------------------------------------------------------------------------


def _evaluator_or_404(user, round_id) -> PeerReviewEvaluator:
    return get_object_or_404(
        PeerReviewEvaluator.objects.select_related("round__village"), round_id=round_id, user=user
    )


@extend_schema(tags=["peer-review"])
class ReviewHouseholdsView(APIView):
    """The households of the round's village with my own vote on each."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.ReviewHouseholdSerializer(many=True))
    def get(self, request, round_pk):
        evaluator = _evaluator_or_404(request.user, round_pk)
        mine = {
            vote.household_id: vote for vote in PeerReviewVote.objects.filter(evaluator=evaluator)
        }
        households = (
            Household.objects.filter(village_id=evaluator.round.village_id)
            .select_related("head")
            .order_by("group_name", "address")
        )
        rows = []
        for household in households:
            vote = mine.get(household.pk)
            household.my_colour = vote.colour if vote else None
            household.my_reason = vote.reason if vote else None
            household.my_suggested_amount = vote.suggested_amount if vote else None
            rows.append(household)
        return Response(s.ReviewHouseholdSerializer(rows, many=True).data)


class VoteIn(serializers.Serializer):
    colour = serializers.ChoiceField(label="评议结果", choices=ListColour.choices)
    reason = serializers.CharField(
        label="理由", max_length=200, required=False, allow_blank=True, default=""
    )
    suggested_amount = serializers.DecimalField(
        label="建议额度(元)",
        max_digits=18,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
    )


@extend_schema(tags=["peer-review"])
class ReviewVoteView(APIView):
    """Cast or change my vote on a household while the round is open. The vote that completes
    the round (every evaluator on every household, when the round says so) closes it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=VoteIn, responses=s.ReviewHouseholdSerializer)
    def put(self, request, round_pk, household_pk):
        evaluator = _evaluator_or_404(request.user, round_pk)
        household = get_object_or_404(
            Household.objects.select_related("head"),
            village_id=evaluator.round.village_id,
            pk=household_pk,
        )
        data = VoteIn(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            vote = peer_review_vote_cast(
                evaluator=evaluator, household=household, **data.validated_data
            )
        household.my_colour = vote.colour
        household.my_reason = vote.reason
        household.my_suggested_amount = vote.suggested_amount
        return Response(s.ReviewHouseholdSerializer(household).data)
