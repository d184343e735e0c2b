from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.db import models
from knox.models import AbstractAuthToken

from common.audit import audited
from org.tenancy import TenantQuerySet


class InstitutionQuerySet(TenantQuerySet):
    def banks(self) -> InstitutionQuerySet:
        return self.filter(kind=Institution.Kind.BANK)

    def branches(self) -> InstitutionQuerySet:
        return self.filter(kind=Institution.Kind.BRANCH)


@audited()
class Institution(models.Model):
    """A node of the federation → bank → branch tree (plus a bank's review/approval centres).

    ``bank`` is the legal-entity bank the node belongs to (itself for a bank, empty for the
    federation). It is the tenancy key: every bank-owned row reaches it in one join.
    """

    class Kind(models.TextChoices):
        FEDERATION = "federation", "省联社"
        BANK = "bank", "法人行社"
        BRANCH = "branch", "支行(网点)"
        REVIEW_CENTRE = "review_centre", "集中审查中心"
        APPROVAL_CENTRE = "approval_centre", "授信审批中心"

    tenant_bank_field = "bank"

    code = models.CharField("机构代码", max_length=32, unique=True)
    name = models.CharField("机构名称", max_length=100)
    kind = models.CharField("机构类型", max_length=20, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name="上级机构",
    )
    bank = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="所属法人行社",
    )
    address = models.CharField("地址", max_length=200, blank=True)
    phone = models.CharField("联系电话", max_length=20, blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = InstitutionQuerySet.as_manager()

    class Meta:
        verbose_name = "机构"
        verbose_name_plural = "机构"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="federation", parent__isnull=True, bank__isnull=True)
                    | (~models.Q(kind="federation") & models.Q(parent__isnull=False))
                ),
                name="institution_federation_is_root_others_have_parent",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_federation(self) -> bool:
        return self.kind == self.Kind.FEDERATION


class StaffQuerySet(TenantQuerySet):
    def with_institution(self) -> StaffQuerySet:
        return self.select_related("user", "institution", "bank")


@audited(exclude=["last_seen_at"])
class Staff(models.Model):
    """A bank's (or the federation's) employee. Roles are Django groups on the user."""

    tenant_bank_field = "bank"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff",
        verbose_name="账号",
    )
    full_name = models.CharField("姓名", max_length=50)
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="staff", verbose_name="所属机构"
    )
    # Copied from institution.bank by the services so tenancy filters need no join.
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="所属法人行社",
        editable=False,
    )
    employee_no = models.CharField("工号", max_length=32)
    phone = models.CharField("手机号", max_length=20, blank=True)
    is_active = models.BooleanField("在职", default=True)
    # Set when an administrator chose the password (a new account, a reset): whoever else knows
    # it must not keep using it. Cleared by the holder's own change (org.services).
    must_change_password = models.BooleanField("须修改密码", default=False)
    last_seen_at = models.DateTimeField("最近访问", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = StaffQuerySet.as_manager()

    class Meta:
        verbose_name = "员工"
        verbose_name_plural = "员工"
        ordering = ["institution__code", "employee_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "employee_no"], name="staff_unique_employee_no"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.employee_no})"


class DeviceToken(AbstractAuthToken):
    """A knox API token bound to one tablet: logging in again from a device replaces its token."""

    device_id = models.CharField("设备标识", max_length=64)
    device_name = models.CharField("设备名称", max_length=100, blank=True)

    class Meta:
        verbose_name = "设备令牌"
        verbose_name_plural = "设备令牌"
        indexes = [models.Index(fields=["user", "device_id"], name="devicetoken_user_device")]


class LoginLockout(AccessAttempt):
    """django-axes' failed-login counts (per account and address), shown in the admin as 登录锁定
    so that an administrator can see who is locked out and lift the lock."""

    class Meta:
        proxy = True
        verbose_name = "登录锁定"
        verbose_name_plural = "登录锁定"
