"""Decisions over the API: small input serializers that validate, an output serializer that
shapes (reasons and levels in Chinese, the versions used). No personal data beyond names."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from risk.decisions.models import Decision
from risk.decisions.reasons import reason_text, source_label
from risk.decisions.selectors import approval_level_label, decision_rule_texts, decision_trace


class DecideInput(serializers.Serializer):
    product = serializers.IntegerField(help_text="产品编号")
    member = serializers.UUIDField(required=False, allow_null=True, help_text="申请人(默认户主)")
    requested_amount = serializers.DecimalField(
        max_digits=18, decimal_places=2, required=False, allow_null=True, min_value=1
    )
    device_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class WhatIfInput(serializers.Serializer):
    product = serializers.IntegerField(help_text="产品编号")
    member = serializers.UUIDField(required=False, allow_null=True)
    requested_amount = serializers.DecimalField(
        max_digits=18, decimal_places=2, required=False, allow_null=True, min_value=1
    )


class TraceStepSerializer(serializers.Serializer):
    step = serializers.CharField(help_text="步骤，如 风险名单、规则命中、评分卡")
    result = serializers.CharField(help_text="该步骤的结果")


class DecisionSerializer(serializers.ModelSerializer):
    outcome_label = serializers.CharField(source="get_outcome_display")
    kind_label = serializers.CharField(source="get_kind_display")
    reasons = serializers.SerializerMethodField()
    approval_level_labels = serializers.SerializerMethodField()
    strategy = serializers.CharField(source="strategy_version.__str__")
    trace = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "kind",
            "kind_label",
            "household",
            "product",
            "decision_date",
            "decided_at",
            "outcome",
            "outcome_label",
            "reasons",
            "approval_levels",
            "approval_level_labels",
            "requested_amount",
            "limit_amount",
            "rate",
            "grade",
            "score",
            "probability_of_default",
            "strategy",
            "rule_set_versions",
            "lpr",
            "trace",
        ]

    def get_reasons(self, obj) -> list[dict]:
        texts = decision_rule_texts(obj)
        source = obj.reason_source
        return [
            {
                "code": code,
                "text": reason_text(code, texts),
                "primary": code == obj.primary_reason,
                "source_label": source_label(source) if code == obj.primary_reason else "",
            }
            for code in obj.reason_codes
        ]

    def get_approval_level_labels(self, obj) -> list[str]:
        return [approval_level_label(level) for level in obj.approval_levels]

    @extend_schema_field(TraceStepSerializer(many=True))
    def get_trace(self, obj) -> list[dict]:
        return [{"step": step, "result": result} for step, result in decision_trace(obj)]


class DecisionSummarySerializer(serializers.ModelSerializer):
    """One line of a household's decisions; the detail has the reasons in full and the trace.
    The primary reasons' texts come in the context (``reason_texts``: one query per page)."""

    outcome_label = serializers.CharField(source="get_outcome_display")
    kind_label = serializers.CharField(source="get_kind_display")
    product_name = serializers.CharField(source="product.name")
    primary_reason_text = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "kind",
            "kind_label",
            "product",
            "product_name",
            "decision_date",
            "decided_at",
            "outcome",
            "outcome_label",
            "primary_reason",
            "primary_reason_text",
            "requested_amount",
            "limit_amount",
            "rate",
            "grade",
        ]

    def get_primary_reason_text(self, obj) -> str:
        return (
            self.context["reason_texts"].get(obj.primary_reason, "") if obj.primary_reason else ""
        )
