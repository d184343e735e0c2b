"""Applications over the API: input serializers that validate shapes, output serializers that
shape (labels in Chinese, names rather than ID numbers)."""

from __future__ import annotations

from rest_framework import serializers

from lending.applications.models import (
    Application,
    ApplicationAttachment,
    ApplicationEvent,
    ApplicationParty,
)
from products.models import Channel, RequiredDocument
from products.schedule import RepaymentMethod


class ApplicationInput(serializers.Serializer):
    client_uuid = serializers.UUIDField(help_text="PAD或自助渠道生成的申请编号，重发不重复建单")
    household = serializers.UUIDField()
    applicant = serializers.UUIDField(help_text="申请人(该户成员)")
    product = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    term_months = serializers.IntegerField(min_value=1, max_value=600)
    repayment_method = serializers.ChoiceField(choices=RepaymentMethod.choices)
    purpose = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices)
    co_borrowers = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=5
    )
    guarantors = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=5
    )
    line = serializers.IntegerField(required=False, allow_null=True)
    device_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class AttachmentInput(serializers.Serializer):
    client_uuid = serializers.UUIDField(help_text="PAD生成的资料编号，重发不重复保存")
    kind = serializers.ChoiceField(choices=RequiredDocument.choices)
    file = serializers.FileField(help_text="JPEG、PNG 图片或 PDF，不超过 10 MB")


class InvestigationInput(serializers.Serializer):
    visit = serializers.UUIDField(help_text="贷前调查走访的编号(须有定位与照片)")
    comment = serializers.CharField(max_length=300, required=False, allow_blank=True)


class ResubmitInput(serializers.Serializer):
    comment = serializers.CharField(max_length=300, help_text="补充了哪些资料")


class AttachmentSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")

    class Meta:
        model = ApplicationAttachment
        fields = [
            "client_uuid",
            "kind",
            "kind_label",
            "content_type",
            "size_bytes",
            "sha256",
            "created_at",
        ]


class WithdrawInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class ApplicationFilter(serializers.Serializer):
    household = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(
        choices=Application._meta.get_field("status").choices, required=False
    )


class PartySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="member.name")
    role_label = serializers.CharField(source="get_role_display")

    class Meta:
        model = ApplicationParty
        fields = ["member", "name", "role", "role_label", "consented_at"]


class EventSerializer(serializers.ModelSerializer):
    from_label = serializers.CharField(source="get_from_status_display")
    to_label = serializers.CharField(source="get_to_status_display")
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = ApplicationEvent
        fields = [
            "at",
            "from_status",
            "from_label",
            "to_status",
            "to_label",
            "actor_name",
            "comment",
        ]

    def get_actor_name(self, obj) -> str:
        return obj.actor.full_name if obj.actor else ""


class ApplicationSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    applicant_name = serializers.CharField(source="applicant.name")
    product_name = serializers.CharField(source="product.name")

    class Meta:
        model = Application
        fields = [
            "id",
            "client_uuid",
            "channel",
            "household",
            "applicant",
            "applicant_name",
            "product",
            "product_name",
            "product_version",
            "line",
            "amount",
            "term_months",
            "repayment_method",
            "purpose",
            "status",
            "status_label",
            "decision",
            "approval_levels",
            "approved_amount",
            "approved_rate",
            "reject_reason",
            "submitted_at",
            "created_at",
        ]


class ApplicationDetailSerializer(ApplicationSerializer):
    parties = PartySerializer(many=True, read_only=True)
    timeline = EventSerializer(source="events", many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    reject_reason_label = serializers.CharField(source="get_reject_reason_display")

    class Meta(ApplicationSerializer.Meta):
        fields = [
            *ApplicationSerializer.Meta.fields,
            "reject_reason_label",
            "parties",
            "timeline",
            "attachments",
        ]
