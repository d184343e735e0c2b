"""Limit models (额度模型) and pricing models (定价模型): versioned data, maker-checker.

A model belongs to the federation (``owner`` empty, as with products and risk lists: it applies
to every bank) or to one bank. Its numbers live on versions: a draft is edited, submitted, and
put into force by a second person; an active version never changes again (decisions name it and
replay from it), so editing an active model makes a new draft (``*_version_derive``). The
version in force on a date is the activated one with the latest ``effective_from`` on or before
it. Each owner marks one model as its default (``is_default``), which a decision uses unless its
strategy names another: a bank's own default first, else the federation's.

The formula is in ``risk.pricing.limits`` / ``rates``; the tables here are JSON maps of
``code → decimal text`` checked by ``risk.pricing.parameters`` on every write.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, transition

from common.audit import audited
from org.models import Institution
from org.tenancy import scope_for
from risk.pricing.parameters import LimitParameters, PricingParameters


class ModelVersionStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PENDING = "pending", "待复核"
    ACTIVE = "active", "生效"
    SUPERSEDED = "superseded", "已被新版本取代"


ACTIVATED = (ModelVersionStatus.ACTIVE, ModelVersionStatus.SUPERSEDED)
OPEN = (ModelVersionStatus.DRAFT, ModelVersionStatus.PENDING)


class OwnedModelQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Federation models apply to every bank, so every bank sees them beside its own;
        federation staff see all. Another bank's models are never shown."""
        scope = scope_for(user)
        if scope.sees_nothing:
            return self.none()
        if scope.all_banks:
            return self
        return self.filter(
            Q(**{f"{self.owner_path}__isnull": True}) | Q(**{self.owner_path: scope.bank_id})
        )

    def for_user(self, user):
        return self.visible_to(user)

    def applying_to_bank(self, bank_id: int | None):
        owned = Q(**{f"{self.owner_path}__isnull": True})
        return self.filter(owned | Q(**{self.owner_path: bank_id}) if bank_id else owned)


class ModelQuerySet(OwnedModelQuerySet):
    owner_path = "owner_id"


class VersionQuerySet(OwnedModelQuerySet):
    owner_path = "model__owner_id"

    def activated(self):
        return self.filter(status__in=ACTIVATED)

    def in_force_on(self, on_date):
        """Per model, the activated version in force on ``on_date`` (DISTINCT ON)."""
        return (
            self.activated()
            .filter(effective_from__lte=on_date)
            .order_by("model_id", "-effective_from", "-number")
            .distinct("model_id")
        )


class PricingModelBase(models.Model):
    tenant_bank_field = "owner"

    owner = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="归属机构(空=省联社)",
        help_text="为空表示省联社模型，适用于全省所有行社；否则只适用于该行社",
        limit_choices_to={"kind": "bank"},
    )
    code = models.CharField("模型代码", max_length=40, unique=True)
    name = models.CharField("模型名称", max_length=100)
    description = models.TextField("模型说明", blank=True)
    is_default = models.BooleanField(
        "默认模型", default=True, help_text="决策流未指定模型时，使用本机构的默认模型"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    objects = ModelQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def owner_name(self) -> str:
        return self.owner.name if self.owner_id else "省联社"


def _user_fk(verbose_name: str, **kwargs) -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=verbose_name,
        **kwargs,
    )


class ModelVersionBase(models.Model):
    """Fields and transitions shared by limit and pricing versions. Transitions are called by
    ``risk.pricing.services`` only, with the model row locked."""

    tenant_bank_field = "model__owner"

    number = models.PositiveIntegerField("版本号")
    status = FSMField(
        "版本状态", max_length=12, choices=ModelVersionStatus.choices, default="draft"
    )
    effective_from = models.DateField("生效日期", null=True, blank=True, help_text="留空为复核当日")
    change_note = models.CharField("变更说明", max_length=300, blank=True)
    # Empty on the seeded federation defaults (系统预置); every other version names its people.
    created_by = _user_fk("制作人")
    updated_by = _user_fk("最后修改人")
    submitted_by = _user_fk("提交人")
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    approved_by = _user_fk("复核人")
    activated_at = models.DateTimeField("生效操作时间", null=True, blank=True)
    superseded_at = models.DateTimeField("被取代时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = VersionQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.model.name} v{self.number}"

    @property
    def is_editable(self) -> bool:
        return self.status == ModelVersionStatus.DRAFT

    @transition(field=status, source=ModelVersionStatus.DRAFT, target=ModelVersionStatus.PENDING)
    def submit(self) -> None:
        pass

    @transition(field=status, source=ModelVersionStatus.PENDING, target=ModelVersionStatus.DRAFT)
    def send_back(self) -> None:
        pass

    @transition(field=status, source=ModelVersionStatus.PENDING, target=ModelVersionStatus.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(
        field=status, source=ModelVersionStatus.ACTIVE, target=ModelVersionStatus.SUPERSEDED
    )
    def supersede(self) -> None:
        pass


def _version_constraints(prefix: str) -> list:
    return [
        models.UniqueConstraint(fields=["model", "number"], name=f"{prefix}_unique_no"),
        # One version in preparation at a time: two parallel drafts would each start from the
        # same active version and the second activation would drop the first one's changes.
        models.UniqueConstraint(
            fields=["model"],
            condition=Q(status__in=["draft", "pending"]),
            name=f"{prefix}_one_open",
            violation_error_message="该模型已有未生效的版本(草稿或待复核)",
        ),
        models.CheckConstraint(
            condition=Q(status__in=["draft", "pending"]) | Q(effective_from__isnull=False),
            name=f"{prefix}_activated_has_date",
            violation_error_message="已生效的版本必须有生效日期",
        ),
    ]


def _decimal_map(table) -> dict[str, Decimal]:
    return {key: Decimal(str(value)) for key, value in (table or {}).items()}


# --- limit models ------------------------------------------------------------------------------


@audited()
class LimitModel(PricingModelBase):
    class Meta:
        verbose_name = "额度模型"
        verbose_name_plural = "额度模型"
        ordering = ["owner_id", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(is_default=True),
                name="limitmodel_one_default_per_owner",
                nulls_distinct=False,
                violation_error_message="每个机构只能有一个默认额度模型",
            )
        ]


@audited()
class LimitModelVersion(ModelVersionBase):
    model = models.ForeignKey(
        LimitModel, on_delete=models.PROTECT, related_name="versions", verbose_name="额度模型"
    )
    income_multiples = models.JSONField(
        "收入倍数(按评级)", default=dict, help_text='如 {"AAA": "3.0", "AA": "2.5"}'
    )
    asset_shares = models.JSONField(
        "净资产比例(按评级)", default=dict, help_text='如 {"AAA": "0.5", "AA": "0.4"}'
    )
    colour_multipliers = models.JSONField(
        "评议调整系数(按评议结论)", default=dict, help_text='如 {"white": "1.2", "black": "0"}'
    )
    no_review_multiplier = models.DecimalField(
        "未评议调整系数", max_digits=8, decimal_places=4, default=Decimal("1")
    )
    cap_at_suggested_amount = models.BooleanField(
        "额度不超过评议建议额度", default=True, help_text="评议给出建议额度时，以其为上限"
    )
    max_debt_ratio = models.DecimalField(
        "负债率上限",
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="负债 ÷ 总资产超过此值不授信；留空为不检查",
    )

    class Meta:
        verbose_name = "额度模型版本"
        verbose_name_plural = "额度模型版本"
        ordering = ["model_id", "-number"]
        permissions = [("activate_limitmodelversion", "可复核生效额度模型版本")]
        constraints = _version_constraints("limitmodelversion")

    def parameters(self) -> LimitParameters:
        return self._parameters

    @cached_property
    def _parameters(self) -> LimitParameters:
        return LimitParameters(
            income_multiples=_decimal_map(self.income_multiples),
            asset_shares=_decimal_map(self.asset_shares),
            colour_multipliers=_decimal_map(self.colour_multipliers),
            no_review_multiplier=Decimal(self.no_review_multiplier),
            cap_at_suggested_amount=self.cap_at_suggested_amount,
            max_debt_ratio=None if self.max_debt_ratio is None else Decimal(self.max_debt_ratio),
        )


class LimitModelChange(models.Model):
    """Who moved a limit model version from which status to which, when and why (the
    business-readable log; pghistory keeps the raw rows)."""

    tenant_bank_field = "version__model__owner"

    version = models.ForeignKey(
        LimitModelVersion, on_delete=models.CASCADE, related_name="changes", verbose_name="版本"
    )
    action = models.CharField("操作", max_length=20)
    from_status = models.CharField("原状态", max_length=12, blank=True)
    to_status = models.CharField("新状态", max_length=12)
    actor = _user_fk("操作人")
    reason = models.CharField("原因/意见", max_length=300, blank=True)
    at = models.DateTimeField("时间", default=timezone.now)

    class Meta:
        verbose_name = "额度模型版本变更"
        verbose_name_plural = "额度模型版本变更"
        ordering = ["version", "at", "id"]

    def __str__(self) -> str:
        return f"v{self.version_id} {CHANGE_ACTIONS.get(self.action, self.action)}"


# --- pricing models ----------------------------------------------------------------------------


@audited()
class PricingModel(PricingModelBase):
    class Meta:
        verbose_name = "定价模型"
        verbose_name_plural = "定价模型"
        ordering = ["owner_id", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(is_default=True),
                name="pricingmodel_one_default_per_owner",
                nulls_distinct=False,
                violation_error_message="每个机构只能有一个默认定价模型",
            )
        ]


@audited()
class PricingModelVersion(ModelVersionBase):
    model = models.ForeignKey(
        PricingModel, on_delete=models.PROTECT, related_name="versions", verbose_name="定价模型"
    )
    spreads_by_grade = models.JSONField(
        "评级加点(百分点)",
        default=dict,
        help_text='如 {"AAA": "0.30"}；未填写的评级使用产品的按评级加点',
    )
    colour_adjustments = models.JSONField(
        "评议利率调整(百分点)", default=dict, help_text='如 {"white": "-0.10"}'
    )
    no_review_adjustment = models.DecimalField(
        "未评议利率调整(百分点)", max_digits=8, decimal_places=4, default=Decimal("0")
    )

    class Meta:
        verbose_name = "定价模型版本"
        verbose_name_plural = "定价模型版本"
        ordering = ["model_id", "-number"]
        permissions = [("activate_pricingmodelversion", "可复核生效定价模型版本")]
        constraints = _version_constraints("pricingmodelversion")

    def parameters(self) -> PricingParameters:
        return self._parameters

    @cached_property
    def _parameters(self) -> PricingParameters:
        return PricingParameters(
            spreads_by_grade=_decimal_map(self.spreads_by_grade),
            colour_adjustments=_decimal_map(self.colour_adjustments),
            no_review_adjustment=Decimal(self.no_review_adjustment),
        )


class PricingModelChange(models.Model):
    """The business-readable log of a pricing model version (as ``LimitModelChange``)."""

    tenant_bank_field = "version__model__owner"

    version = models.ForeignKey(
        PricingModelVersion, on_delete=models.CASCADE, related_name="changes", verbose_name="版本"
    )
    action = models.CharField("操作", max_length=20)
    from_status = models.CharField("原状态", max_length=12, blank=True)
    to_status = models.CharField("新状态", max_length=12)
    actor = _user_fk("操作人")
    reason = models.CharField("原因/意见", max_length=300, blank=True)
    at = models.DateTimeField("时间", default=timezone.now)

    class Meta:
        verbose_name = "定价模型版本变更"
        verbose_name_plural = "定价模型版本变更"
        ordering = ["version", "at", "id"]

    def __str__(self) -> str:
        return f"v{self.version_id} {CHANGE_ACTIONS.get(self.action, self.action)}"


CHANGE_ACTIONS = {
    "seed": "系统预置",
    "create": "新建版本",
    "submit": "提交复核",
    "send_back": "退回修改",
    "activate": "复核生效",
    "supersede": "被新版本取代",
}
