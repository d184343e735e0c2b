from __future__ import annotations

from rest_framework import serializers

from common.masking import mask_phone
from org.models import Institution, Staff
from org.roles import role_of_group_name


class InstitutionBriefSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Institution
        fields = ["id", "code", "name", "kind", "kind_display"]


class InstitutionSerializer(InstitutionBriefSerializer):
    class Meta(InstitutionBriefSerializer.Meta):
        fields = [
            *InstitutionBriefSerializer.Meta.fields,
            "parent_id",
            "bank_id",
            "address",
            "phone",
            "is_active",
        ]


class RoleSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


def _roles_of(user) -> list[dict[str, str]]:
    roles = []
    for group in user.groups.all():
        role = role_of_group_name(group.name)
        if role is not None:
            roles.append({"code": role.value, "name": role.label})
    return sorted(roles, key=lambda r: r["code"])


class StaffListSerializer(serializers.ModelSerializer):
    institution = InstitutionBriefSerializer()
    phone = serializers.SerializerMethodField(help_text="手机号(脱敏)")
    roles = serializers.SerializerMethodField()

    class Meta:
        model = Staff
        fields = [
            "id",
            "full_name",
            "employee_no",
            "phone",
            "institution",
            "bank_id",
            "roles",
            "is_active",
        ]

    def get_phone(self, staff: Staff) -> str:
        return mask_phone(staff.phone)

    def get_roles(self, staff: Staff) -> list[dict[str, str]]:
        return _roles_of(staff.user)


class MeSerializer(serializers.Serializer):
    """The logged-in staff member; their own phone is shown in full."""

    user_id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")
    full_name = serializers.CharField()
    employee_no = serializers.CharField()
    phone = serializers.CharField()
    institution = InstitutionBriefSerializer()
    bank = InstitutionBriefSerializer(allow_null=True)
    roles = serializers.SerializerMethodField()
    is_federation = serializers.SerializerMethodField()

    def get_roles(self, staff: Staff) -> list[dict[str, str]]:
        return _roles_of(staff.user)

    def get_is_federation(self, staff: Staff) -> bool:
        return staff.bank_id is None


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(label="登录名")
    password = serializers.CharField(
        label="密码", style={"input_type": "password"}, trim_whitespace=False
    )
    device_id = serializers.CharField(label="设备标识", max_length=64)
    device_name = serializers.CharField(
        label="设备名称", max_length=100, required=False, default=""
    )


class LoginResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField()
    me = MeSerializer()
