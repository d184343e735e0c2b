"""Decisions over the API: small input serializers that validate, an output serializer that
shapes (reasons and levels in Chinese, the versions used). No personal data beyond names."""

from __future__ import annotations

from rest_framework import serializers

from risk.decisions.models import Decision
from risk.decisions.reasons import reason_text, source_label
from risk.decisions.selectors import approval_level_label, decision_rule_texts


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


class DecisionSerializer(serializers.ModelSerializer):
    outcome_label = serializers.CharField(source="get_outcome_display")
    kind_label = serializers.CharField(source="get_kind_display")
    reasons = serializers.SerializerMethodField()
    approval_level_labels = serializers.SerializerMethodField()
    strategy = serializers.CharField(source="strategy_version.__str__")

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
