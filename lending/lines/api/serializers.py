"""Credit lines over the API: shaped for the PAD and self-service (names, no ID numbers)."""

from __future__ import annotations

from rest_framework import serializers

from lending.lines.models import CreditLine


class CreditLineSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    product_name = serializers.CharField(source="product.name")
    owner_name = serializers.SerializerMethodField()
    available = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)

    class Meta:
        model = CreditLine
        fields = [
            "id",
            "household",
            "parent",
            "member",
            "owner_name",
            "product",
            "product_name",
            "product_version",
            "amount",
            "drawn",
            "available",
            "rate",
            "valid_from",
            "valid_until",
            "status",
            "status_label",
        ]

    def get_owner_name(self, obj) -> str:
        if obj.member_id:
            return obj.member.name
        head = obj.household.head
        return f"{head.name}户" if head is not None else ""
