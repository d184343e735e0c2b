"""Grading over the API: the account manager scores a household after a visit; a bank's
administrator or risk officer starts a batch over a village, a campaign or the bank and follows
its progress. One view per use case; writes go through ``risk.services``.

Permission is checked before anything is looked up or validated (a role that may not score is
told so, not asked to fix its input first); then another bank's household or job is a 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import service_errors
from common.idempotency import idempotent
from org.api.mixins import BankDataWritable
from org.tenancy import scope_queryset
from risk.api import serializers as s
from risk.grading_selectors import scoring_jobs_with_scope_names
from risk.models import HouseholdScore, ScoringJob
from risk.services import (
    BATCH_PERMISSION,
    SCORE_PERMISSION,
    household_score,
    scoring_job_start,
)
from villages.models import Household


class _HasPermission(BasePermission):
    permission = ""

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(self.permission)


class MayScoreHouseholds(_HasPermission):
    permission = SCORE_PERMISSION
    message = "没有为农户评分的权限"


class MayStartScoringJobs(_HasPermission):
    permission = BATCH_PERMISSION
    message = "没有发起批量评分的权限"


class MayViewScoringJobs(_HasPermission):
    permission = "risk.view_scoringjob"
    message = "没有查看批量评分任务的权限"


def _refusal(exc: DjangoPermissionDenied) -> PermissionDenied:
    return PermissionDenied(str(exc) or None)


@extend_schema(tags=["risk"])
class HouseholdScoreView(APIView):
    """Score one household now with its bank's champion scorecard and set its credit grade.

    Send an ``Idempotency-Key`` from the PAD: a resend after a lost answer returns the first
    score instead of scoring again.
    """

    permission_classes = [IsAuthenticated, MayScoreHouseholds, BankDataWritable]

    @extend_schema(request=None, responses={201: s.HouseholdScoreSerializer})
    @idempotent(required=False)
    def post(self, request, pk):
        household = get_object_or_404(scope_queryset(Household.objects.all(), request.user), pk=pk)
        try:
            with service_errors():
                score = household_score(household=household, actor=request.user)
        except DjangoPermissionDenied as exc:
            raise _refusal(exc) from None
        score = HouseholdScore.objects.select_related("scorecard").get(pk=score.pk)
        return Response(s.HouseholdScoreSerializer(score).data, status=status.HTTP_201_CREATED)


def _job_with_names(request, pk) -> ScoringJob:
    jobs = scoring_jobs_with_scope_names(scope_queryset(ScoringJob.objects.all(), request.user))
    return get_object_or_404(jobs, pk=pk)


@extend_schema(tags=["risk"])
class ScoringJobListView(APIView):
    """Start a batch scoring job over a village, a campaign or a bank (the federation: also the
    whole province). The job is split into chunks that score in the background; follow it at
    ``/risk/scoring-jobs/<id>/``."""

    permission_classes = [IsAuthenticated, MayStartScoringJobs]

    @extend_schema(request=s.ScoringJobIn, responses={201: s.ScoringJobSerializer})
    @idempotent(required=False)
    def post(self, request):
        body = s.ScoringJobIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            with service_errors():
                job = scoring_job_start(actor=request.user, **body.validated_data)
        except DjangoPermissionDenied as exc:
            raise _refusal(exc) from None
        return Response(
            s.ScoringJobSerializer(_job_with_names(request, job.pk)).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["risk"])
class ScoringJobView(APIView):
    """A batch scoring job's status and progress."""

    permission_classes = [IsAuthenticated, MayViewScoringJobs]

    @extend_schema(responses=s.ScoringJobSerializer)
    def get(self, request, pk):
        return Response(s.ScoringJobSerializer(_job_with_names(request, pk)).data)
