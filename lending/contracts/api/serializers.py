"""Contracts over the API: inputs that validate shapes, outputs that shape (labels in Chinese,
names and masked phones, never an ID number)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from common.masking import mask_phone
from lending.contracts.models import Contract, ContractSigner


class SignerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="member.name")
    phone = serializers.SerializerMethodField(help_text="签署验证码发送到的手机号(脱敏)")
    role_label = serializers.CharField(source="get_role_display")
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = ContractSigner
        fields = [
            "member",
            "name",
            "phone",
            "role",
            "role_label",
            "status",
            "status_label",
            "signed_at",
            "locked_until",
        ]

    def get_phone(self, obj) -> str:
        return mask_phone(obj.member.phone)


class ContractSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    title = serializers.CharField(source="template.title")
    template_version = serializers.IntegerField(source="template.version")
    is_latest = serializers.BooleanField()
    pdf_url = serializers.SerializerMethodField(help_text="合同PDF下载地址(签署完成后为银行签章版)")
    signers = SignerSerializer(many=True, read_only=True)

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "title",
            "template_version",
            "application",
            "line",
            "status",
            "status_label",
            "is_latest",
            "sha256",
            "rendered_at",
            "signed_sha256",
            "sealed_at",
            "pdf_url",
            "signers",
        ]

    def get_pdf_url(self, obj) -> str:
        return reverse("v1:contract-pdf", kwargs={"pk": obj.pk})


class SigningCodeInput(serializers.Serializer):
    member = serializers.UUIDField(help_text="签署人(借款人、共同借款人或保证人)的成员编号")


class SigningCodeSerializer(serializers.Serializer):
    member = serializers.UUIDField()
    phone = serializers.CharField(help_text="验证码已发送到的手机号(脱敏)")
    expires_at = serializers.DateTimeField()


class SignInput(serializers.Serializer):
    member = serializers.UUIDField(help_text="签署人的成员编号")
    code = serializers.CharField(max_length=12, help_text="短信收到的6位签署验证码")
    document_sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", help_text="签署人看到的合同PDF的SHA-256，须为最新合同"
    )
    signature = serializers.CharField(
        max_length=360_000,
        help_text="手写签名图片，PNG 的 base64 (可带 data:image/png;base64, 前缀)",
    )
    device_id = serializers.CharField(max_length=64, help_text="签署设备编号")
