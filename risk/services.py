"""Writes of the risk app, one import for admin, API, tasks and other apps.

Grading as staff reach it lives here: one household scored now (the account manager on the PAD
after a visit, or the household page in the admin), a batch job over a village, a campaign or a
bank, and the nightly re-rating of households whose archive changed since their last score. All
three set ``Household.credit_grade`` from the champion grade, as batch chunks do.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from common.audit import audit_context
from org.tenancy import can_write_bank_data, scope_for
from risk.batch import credit_grades_feed, scoring_job_create
from risk.bulk_scoring import score_rows, scores_write
from risk.features import features_frame
from risk.grading_selectors import households_archive_changed_since_scored
from risk.models import HouseholdScore, ScoringJob
from risk.registry import (
    scorecard_promote,
    scorecard_register_from_training,
    scorecard_retire,
    scorecard_set_grade_cutoffs,
    scorecard_submit,
    scorecard_training_create,
    scorecard_training_request,
    scorecard_training_run,
)
from risk.scoring import score_household
from villages.models import Household

logger = logging.getLogger(__name__)

SCORE_PERMISSION = "risk.add_householdscore"
BATCH_PERMISSION = "risk.add_scoringjob"
# Scope choices staff may start from the admin or the API (the province is the federation's).
BATCH_SCOPES = (
    ScoringJob.Scope.VILLAGE,
    ScoringJob.Scope.CAMPAIGN,
    ScoringJob.Scope.BANK,
    ScoringJob.Scope.PROVINCE,
)
NIGHTLY_PAGE_SIZE = 5_000


def household_score(*, household: Household, actor) -> HouseholdScore:
    """Score ``household`` now with its bank's champion (and a shadow challenger when assigned),
    and set its credit grade; returns the champion score.

    Refused (``PermissionDenied``) for a user without the scoring permission, for federation
    staff (who read bank data but never change it) and for another bank's household; a household
    without a champion scorecard for its segment is a ``ValidationError`` naming the scorecard.
    Callers find the household through the user's tenancy first, so a foreign id is a 404 there.
    """
    if not actor.has_perm(SCORE_PERMISSION):
        raise PermissionDenied("没有为农户评分的权限")
    if not can_write_bank_data(actor, household.bank_id):
        raise PermissionDenied("只能为本行社的农户评分")
    with (
        audit_context(action="risk.household_score", household=str(household.pk)),
        transaction.atomic(),
    ):
        score = score_household(household=household)
        # The grade the lists and the PAD show; the household's ``updated_at`` moves with it so a
        # tablet's delta sync picks the new grade up, as after a batch.
        Household.objects.filter(pk=household.pk).exclude(credit_grade=score.grade).update(
            credit_grade=score.grade, updated_at=timezone.now()
        )
    household.credit_grade = score.grade
    return score


def scoring_job_start(*, scope: str, scope_id: str | int = "", actor) -> ScoringJob:
    """Start a batch scoring job for a village, a campaign, a bank (or, for the federation, the
    whole province) on behalf of ``actor``; the chunks are enqueued once this commits.

    The permission is checked before anything is looked up; the scope's object must be one the
    actor sees (``risk.batch.scoring_job_create`` reports any other as not found).
    """
    if not actor.has_perm(BATCH_PERMISSION):
        raise PermissionDenied("没有发起批量评分的权限")
    if scope not in BATCH_SCOPES:
        raise ValidationError({"scope": f"未知的评分范围：{scope}"})
    staff = getattr(actor, "staff", None)
    if staff is None and not actor.is_superuser:
        raise PermissionDenied("只有行社或省联社员工可以发起批量评分")
    if scope_for(actor).sees_nothing:
        raise PermissionDenied("没有发起批量评分的权限")
    if scope == ScoringJob.Scope.BANK and not scope_id and staff is not None:
        scope_id = staff.bank_id or ""  # "the whole bank" from a bank's staff means their own
    with audit_context(action="risk.scoring_job_start", scope=scope, scope_id=str(scope_id)):
        return scoring_job_create(scope=scope, scope_id=scope_id, created_by=staff)


def household_scores_refresh(*, page_size: int = NIGHTLY_PAGE_SIZE) -> int:
    """Re-rate every household whose archive changed after its latest champion score (or that has
    an archive and was never scored); returns the households scored. The nightly schedule runs it.

    Set-based, ``page_size`` households per transaction, in id order: features computed for the
    page at once (the same rows the one-household path computes), scored with the batch's points
    tables, written by COPY without a job, and the changed grades fed to the households. A page
    that fails rolls back alone; the next run selects its households again.
    """
    scored = 0
    after = None
    with audit_context(task="risk.household_scores_refresh"):
        while True:
            changed = households_archive_changed_since_scored()
            if after is not None:
                changed = changed.filter(pk__gt=after)
            ids = list(changed.values_list("pk", flat=True)[:page_size])
            if not ids:
                return scored
            with transaction.atomic():
                frame = features_frame(ids).reset_index()
                results = score_rows(frame)
                scores_write(
                    job_id=None, results=results, scored_at=timezone.now(), first_write=True
                )
                credit_grades_feed(results=results)
            scored += sum(len(r) for r in results if r.role == HouseholdScore.Role.CHAMPION)
            after = ids[-1]
            logger.info("nightly re-rating: %d households scored so far", scored)


__all__ = [
    "household_score",
    "household_scores_refresh",
    "score_household",
    "scorecard_promote",
    "scorecard_register_from_training",
    "scorecard_retire",
    "scorecard_set_grade_cutoffs",
    "scorecard_submit",
    "scorecard_training_create",
    "scorecard_training_request",
    "scorecard_training_run",
    "scoring_job_start",
]
