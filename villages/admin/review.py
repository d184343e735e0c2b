"""Peer review rounds: results of closed rounds only, never single votes."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError

from org.admin_mixins import AuditHistoryMixin, TenantAdminMixin
from villages.admin.base import acting_staff, report_errors
from villages.models import (
    PeerReviewEvaluator,
    PeerReviewResult,
    PeerReviewRound,
)
from villages.services import (
    peer_review_round_close,
)


class EvaluatorInline(admin.TabularInline):
    model = PeerReviewEvaluator
    fields = ["name", "kind", "user", "votes_cast"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="已投票数")
    def votes_cast(self, evaluator):
        return evaluator.votes.count()


class ResultInline(admin.TabularInline):
    """Results exist only once a round is closed, so votes stay hidden while it is open."""

    model = PeerReviewResult
    fields = [
        "household",
        "colour",
        "black_votes",
        "grey_votes",
        "green_votes",
        "white_votes",
        "suggested_amount",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("household__head")


@admin.register(PeerReviewRound)
class PeerReviewRoundAdmin(AuditHistoryMixin, TenantAdminMixin, admin.ModelAdmin):
    list_display = ["title", "village", "status", "black_veto_count", "opened_at", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["village"]
    fields = [
        "title",
        "village",
        "status",
        "black_veto_count",
        "opened_by",
        "opened_at",
        "closed_by",
        "closed_at",
    ]
    readonly_fields = fields
    inlines = [EvaluatorInline, ResultInline]
    actions = ["close_rounds"]

    def has_add_permission(self, request, *args):
        return False

    @admin.action(description="结束评议并汇总结果")
    def close_rounds(self, request, queryset):
        for round in queryset.filter(status=PeerReviewRound.Status.OPEN):
            try:
                count = peer_review_round_close(round=round, closed_by=acting_staff(request))
            except ValidationError as exc:
                report_errors(request, exc, model=PeerReviewRound, subject=round.title)
            else:
                self.message_user(request, f"{round.title}：已汇总 {count} 户评议结果")
