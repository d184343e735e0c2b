"""Shapes of the grading API. Serializers validate and shape; ``risk.services`` writes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from risk.models import HouseholdScore, ScoringJob


class ReasonSerializer(serializers.Serializer):
    feature = serializers.CharField(help_text="特征代码")
    label = serializers.CharField(help_text="特征名称")
    text = serializers.CharField(help_text="原因说明(中文)")
    points = serializers.FloatField(help_text="得分")
    shortfall = serializers.FloatField(help_text="比该项最高分少的分数")
    missing = serializers.BooleanField(help_text="是否按缺失计分")


class HouseholdScoreSerializer(serializers.ModelSerializer):
    """A score as the account manager reads it on the PAD: grade, score, PD and
    the reasons that cost the most points, in Chinese."""

    household = serializers.UUIDField(source="household_id")
    scorecard = serializers.CharField(source="scorecard.name")
    role_label = serializers.CharField(source="get_role_display")
    reasons = serializers.SerializerMethodField()

    class Meta:
        model = HouseholdScore
        fields = [
            "id",
            "household",
            "grade",
            "score",
            "probability_of_default",
            "scorecard",
            "role",
            "role_label",
            "scored_at",
            "reasons",
        ]

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, score: HouseholdScore) -> list[dict]:
        return ReasonSerializer(score.reasons(), many=True).data


class ScoringJobIn(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=ScoringJob.Scope.choices,
        error_messages={"invalid_choice": "评分范围须为 village、campaign、bank 或 province"},
    )
    scope_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="行政村、整村授信活动或法人行社的编号；全行可留空(本行)，全省留空",
    )


class ScoringJobSerializer(serializers.ModelSerializer):
    scope_label = serializers.CharField(source="get_scope_display")
    scope_name = serializers.CharField(help_text="范围对象名称")
    status_label = serializers.CharField(source="get_status_display")
    progress_percent = serializers.IntegerField()

    class Meta:
        model = ScoringJob
        fields = [
            "id",
            "scope",
            "scope_label",
            "scope_id",
            "scope_name",
            "status",
            "status_label",
            "total_households",
            "scored_households",
            "progress_percent",
            "error",
            "created_at",
            "finished_at",
        ]
