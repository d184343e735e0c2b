"""Grading from the back office: actions on the household, village and campaign pages.

``villages`` sits below ``risk`` and may not import it, so the actions are added from here: the
registered household, village and campaign admins are re-registered as subclasses carrying them
(whatever else those admins gain later is inherited). Every action calls ``risk.services``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from common.errors import describe_error
from risk.models import HouseholdScore, ScoringJob
from risk.services import BATCH_PERMISSION, SCORE_PERMISSION, household_score, scoring_job_start
from villages.models import Campaign, Household, Village

# Scoring one household at a time is for the households just visited; a whole village goes
# through a batch job, which runs in the background and shows its progress.
MAX_HOUSEHOLDS_SCORED_DIRECTLY = 200
NAMED_IN_MESSAGE = 10


def _household_label(household: Household) -> str:
    head = household.head.name if household.head_id and household.head else "(无户主)"
    return f"{household.village.name} {head}"


class HouseholdGradingMixin:
    def has_grade_permission(self, request) -> bool:
        return request.user.has_perm(SCORE_PERMISSION)

    @admin.action(description="立即评分(评级)", permissions=["grade"])
    def grade_households(self, request, queryset):
        if queryset.count() > MAX_HOUSEHOLDS_SCORED_DIRECTLY:
            self.message_user(
                request,
                f"一次最多直接评分 {MAX_HOUSEHOLDS_SCORED_DIRECTLY} 户；整村请在“行政村”或"
                "“整村授信活动”列表中选择“批量评分”，在后台分块运行并显示进度",
                messages.ERROR,
            )
            return
        graded = []
        for household in queryset.select_related("head", "village"):
            try:
                score = household_score(household=household, actor=request.user)
            except ValidationError as exc:
                reason = describe_error(exc, model=HouseholdScore)
                self.message_user(
                    request, f"{_household_label(household)}：{reason}", messages.ERROR
                )
            except PermissionDenied as exc:
                self.message_user(request, f"{_household_label(household)}：{exc}", messages.ERROR)
            else:
                graded.append(f"{_household_label(household)} {score.grade}({score.score}分)")
        if graded:
            named = "、".join(graded[:NAMED_IN_MESSAGE])
            more = f" 等 {len(graded)} 户" if len(graded) > NAMED_IN_MESSAGE else ""
            self.message_user(request, f"已评分：{named}{more}", messages.SUCCESS)


def _start_jobs(modeladmin, request, queryset, scope: str):
    """One job per selected row; a single job opens its page (progress), several are linked."""
    jobs = []
    for row in queryset:
        try:
            jobs.append((scoring_job_start(scope=scope, scope_id=row.pk, actor=request.user), row))
        except ValidationError as exc:
            reason = describe_error(exc, model=ScoringJob)
            modeladmin.message_user(request, f"{row}：{reason}", messages.ERROR)
        except PermissionDenied as exc:
            modeladmin.message_user(request, f"{row}：{exc}", messages.ERROR)
    if not jobs:
        return None
    links = format_html_join(
        "、",
        '<a href="{}">{}</a>',
        ((reverse("admin:risk_scoringjob_change", args=[job.pk]), row) for job, row in jobs),
    )
    modeladmin.message_user(
        request,
        format_html(
            "已发起批量评分 {} 个：{}。任务在后台分块运行，进度见任务页面", len(jobs), links
        ),
        messages.SUCCESS,
    )
    if len(jobs) == 1:
        return HttpResponseRedirect(reverse("admin:risk_scoringjob_change", args=[jobs[0][0].pk]))
    return None


class BatchGradingMixin:
    def has_batch_grade_permission(self, request) -> bool:
        return request.user.has_perm(BATCH_PERMISSION)


class VillageGradingMixin(BatchGradingMixin):
    @admin.action(description="批量评分(所选行政村的全部农户)", permissions=["batch_grade"])
    def grade_villages(self, request, queryset):
        return _start_jobs(self, request, queryset, ScoringJob.Scope.VILLAGE)


class CampaignGradingMixin(BatchGradingMixin):
    @admin.action(description="批量评分(所选活动所在村的全部农户)", permissions=["batch_grade"])
    def grade_campaigns(self, request, queryset):
        return _start_jobs(self, request, queryset, ScoringJob.Scope.CAMPAIGN)


def _with_actions(model, mixin, *actions: str) -> None:
    """Re-register ``model``'s admin as a subclass with ``mixin`` and its ``actions`` added."""
    base = type(admin.site.get_model_admin(model))
    extended = type(
        base.__name__,
        (mixin, base),
        {
            "__module__": base.__module__,
            "actions": [*(base.actions or []), *actions],
        },
    )
    admin.site.unregister(model)
    admin.site.register(model, extended)


def register() -> None:
    _with_actions(Household, HouseholdGradingMixin, "grade_households")
    _with_actions(Village, VillageGradingMixin, "grade_villages")
    _with_actions(Campaign, CampaignGradingMixin, "grade_campaigns")
