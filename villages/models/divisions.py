from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from common.audit import audited
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet


class Division(models.Model):
    """A node of the administrative division tree with its 12-digit statistical code (统计用区划代码).

    Code layout: PP CC DD TTT VVV — province, city, county, township, village. A child's code
    starts with its parent's significant digits.
    """

    class Level(models.IntegerChoices):
        PROVINCE = 1, "省"
        CITY = 2, "市"
        COUNTY = 3, "县(区)"
        TOWNSHIP = 4, "乡(镇)"
        VILLAGE = 5, "村(社区)"

    # Number of leading digits that identify a division at each level.
    SIGNIFICANT_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}

    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=100)
    level = models.PositiveSmallIntegerField("层级", choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name="上级区划",
    )

    class Meta:
        verbose_name = "行政区划"
        verbose_name_plural = "行政区划"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[0-9]{12}$"), name="division_code_12_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @classmethod
    def code_errors(cls, code: str, level: int, parent: Division | None) -> list[str]:
        """Why ``code`` cannot be a division at ``level`` under ``parent`` (empty when it can)."""
        errors = []
        if len(code) != 12 or not code.isascii() or not code.isdigit():
            return [f"区划代码须为12位数字，收到 {code!r}"]
        keep = cls.SIGNIFICANT_DIGITS[level]
        if code[keep:].strip("0"):
            errors.append(f"{cls.Level(level).label}级区划代码第{keep + 1}位之后应全为0")
        if level > 1:
            if parent is None:
                errors.append("请选择上级区划")
            else:
                if parent.level != level - 1:
                    errors.append(f"上级区划应为{cls.Level(level - 1).label}级")
                prefix = parent.code[: cls.SIGNIFICANT_DIGITS[parent.level]]
                if not code.startswith(prefix):
                    errors.append(f"区划代码应以上级区划代码 {prefix} 开头")
        elif parent is not None:
            errors.append("省级区划没有上级")
        return errors

    def clean(self) -> None:
        errors = self.code_errors(self.code or "", self.level, self.parent)
        if errors:
            raise ValidationError({"code": errors})


class VillageQuerySet(TenantQuerySet):
    def with_places(self) -> VillageQuerySet:
        return self.select_related("division__parent__parent", "branch")


@audited()
class Village(models.Model):
    """A village a branch serves: the unit of a whole-village credit campaign."""

    tenant_bank_field = "bank"
    tenant_village_field = "id"

    division = models.ForeignKey(
        Division,
        on_delete=models.PROTECT,
        related_name="villages",
        verbose_name="行政区划",
        limit_choices_to={"level": Division.Level.VILLAGE},
    )
    name = models.CharField("村名", max_length=100)
    branch = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="villages",
        verbose_name="管辖支行",
        limit_choices_to={"kind": Institution.Kind.BRANCH},
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
    )
    is_credit_village = models.BooleanField("信用村", default=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = VillageQuerySet.as_manager()

    class Meta:
        verbose_name = "行政村"
        verbose_name_plural = "行政村"
        ordering = ["division__code"]
        constraints = [
            models.UniqueConstraint(fields=["bank", "division"], name="village_unique_per_bank"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def code(self) -> str:
        return self.division.code


class VillageAssignmentQuerySet(TenantQuerySet):
    def current(self) -> VillageAssignmentQuerySet:
        return self.filter(ended_at__isnull=True)


class VillageAssignment(models.Model):
    """Which account manager serves which village, from when to when (history kept)."""

    tenant_bank_field = "village__bank"
    tenant_village_field = "village"

    village = models.ForeignKey(
        Village, on_delete=models.CASCADE, related_name="assignments", verbose_name="行政村"
    )
    account_manager = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="village_assignments", verbose_name="客户经理"
    )
    started_at = models.DateTimeField("开始时间")
    ended_at = models.DateTimeField("结束时间", null=True, blank=True)
    assigned_by = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="+", null=True, verbose_name="指派人"
    )

    objects = VillageAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = "包村客户经理"
        verbose_name_plural = "包村客户经理"
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["village", "account_manager"],
                condition=models.Q(ended_at__isnull=True),
                name="assignment_one_current_per_manager_village",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_manager} → {self.village}"
