"""Derived features (衍生特征): a number a bank or the federation defines as an expression over
other features, e.g. ``debt_to_income = credit_outstanding_debt / (net_income + 1)``.

Like products, ``owner`` empty means the federation's (every bank uses it); a bank's own feature
of the same code overrides the federation's for that bank. The expression lives in immutable
``DerivedFeatureVersion`` rows; editing makes a new version and ``current_version`` moves, so a
rule set frozen on an older version keeps computing what it computed.
"""

from __future__ import annotations

from django.db import models

from common.audit import audited
from org.models import Institution, Staff
from org.tenancy import scope_for


class OwnedQuerySet(models.QuerySet):
    """Federation rows (no owner) are shared with every bank; a bank's own rows are its own."""

    def visible_to(self, user):
        scope = scope_for(user)
        if scope.sees_nothing:
            return self.none()
        if scope.all_banks:
            return self
        return self.filter(models.Q(owner__isnull=True) | models.Q(owner_id=scope.bank_id))

    def for_user(self, user):
        return self.visible_to(user)

    def applying_to_bank(self, bank_id: int | None):
        if bank_id is None:
            return self.filter(owner__isnull=True)
        return self.filter(models.Q(owner__isnull=True) | models.Q(owner_id=bank_id))


def owner_field():
    return models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="归属机构(空=省联社)",
        help_text="为空表示省联社统一定义，适用于所有行社；行社可定义同编码的自有版本覆盖之",
        limit_choices_to={"kind": "bank"},
    )


@audited(exclude=["updated_at"])
class DerivedFeature(models.Model):
    tenant_bank_field = "owner"

    owner = owner_field()
    code = models.CharField(
        "特征编码", max_length=64, help_text="英文小写字母、数字和下划线，以字母开头"
    )
    name = models.CharField("特征名称", max_length=100)
    expression = models.TextField(
        "计算表达式", help_text="例如 credit_outstanding_debt / (net_income + 1)"
    )
    enabled = models.BooleanField("启用", default=True)
    version = models.PositiveIntegerField("当前版本号", default=1)
    current_version = models.ForeignKey(
        "risk.DerivedFeatureVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="当前版本",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "衍生特征"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "code"],
                name="derived_feature_owner_code",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DerivedFeatureVersion(models.Model):
    """One immutable version of a derived feature's definition."""

    tenant_bank_field = "feature__owner"

    feature = models.ForeignKey(
        DerivedFeature, on_delete=models.CASCADE, related_name="versions", verbose_name="衍生特征"
    )
    version = models.PositiveIntegerField("版本号")
    code = models.CharField("特征编码", max_length=64)
    name = models.CharField("特征名称", max_length=100)
    expression = models.TextField("计算表达式")
    depends_on = models.JSONField("引用的特征", default=list)
    created_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="创建人",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        app_label = "risk"
        verbose_name = verbose_name_plural = "衍生特征版本"
        ordering = ["feature", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["feature", "version"], name="derived_feature_version")
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"
