from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models

from common.audit import audited
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from villages.models.households import Household


def money(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=2, default=Decimal("0"))


def area(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=10, decimal_places=2, default=Decimal("0"))


class ArchiveQuerySet(TenantQuerySet):
    def latest_per_household(self) -> ArchiveQuerySet:
        """The newest archive of each household (PostgreSQL DISTINCT ON)."""
        return self.order_by("household_id", "-survey_date", "-created_at").distinct("household_id")


@audited(exclude=["updated_at"])
class EconomicArchive(models.Model):
    """A household's economic archive (经济档案) as surveyed on one date.

    A new survey is a new row: risk features and decisions keep pointing at the archive they were
    computed from. Totals are stored as columns (one per income source, asset class) so features
    can be built set-based; breakdowns (by crop, livestock kind, lender) sit in JSON lists.
    Derived figures — net income, total assets, debt ratio — are defined once, in
    ``villages.figures``.
    """

    class HousingStructure(models.TextChoices):
        BRICK_CONCRETE = "brick_concrete", "砖混"
        FRAME = "frame", "框架"
        BRICK_WOOD = "brick_wood", "砖木"
        EARTH_WOOD = "earth_wood", "土木"
        OTHER = "other", "其他"

    class Industry(models.TextChoices):
        """The IPC micro-credit template's list of small-business industries."""

        RETAIL = "retail", "零售商店"
        CATERING = "catering", "餐饮"
        AGRI_PROCESSING = "agri_processing", "农产品加工"
        AGRI_TRADING = "agri_trading", "农产品购销"
        FARM_SUPPLIES = "farm_supplies", "农资经营"
        TRANSPORT = "transport", "运输"
        REPAIR = "repair", "修理"
        CONSTRUCTION = "construction", "建筑装修"
        RURAL_TOURISM = "rural_tourism", "农家乐/乡村旅游"
        ECOMMERCE = "ecommerce", "电商"
        OTHER = "other", "其他"

    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    household = models.ForeignKey(
        Household,
        on_delete=models.CASCADE,
        related_name="archives",
        verbose_name="农户",
        db_index=False,  # archive_one_per_household_survey_date leads with it
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
    )
    survey_date = models.DateField("调查日期")
    surveyed_by = models.ForeignKey(
        Staff,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="调查人",
    )

    # Land (承包地 / 流转地), mu; crops: [{"crop": "小麦", "mu": "12.5"}]
    land_contracted_mu = area("承包地(亩)")
    land_leased_mu = area("流转土地(亩)")
    crops = models.JSONField("种植明细", default=list, blank=True)
    # Livestock: [{"kind": "生猪", "heads": 40}]
    livestock = models.JSONField("养殖明细", default=list, blank=True)
    livestock_heads = models.PositiveIntegerField("存栏合计(头/只)", default=0)
    livestock_value = money("养殖估值(元)")
    machinery = models.JSONField("农机明细", default=list, blank=True)
    machinery_value = money("农机估值(元)")
    housing_structure = models.CharField(
        "房屋结构", max_length=20, choices=HousingStructure.choices, blank=True
    )
    housing_area_m2 = area("房屋面积(㎡)")
    housing_value = money("房屋估值(元)")
    vehicle_value = money("车辆估值(元)")
    deposits = money("存款(元)")

    income_crops = money("种植收入(元/年)")
    income_livestock = money("养殖收入(元/年)")
    income_wages = money("务工收入(元/年)")
    income_business = money("经营收入(元/年)")
    income_subsidies = money("补贴收入(元/年)")
    income_other = money("其他收入(元/年)")
    annual_expenses = money("家庭支出(元/年)")

    # Debts: [{"lender": "邮储银行", "balance": "30000.00"}]
    debts = models.JSONField("负债明细", default=list, blank=True)
    debt_total = money("负债合计(元)")

    # Government data (政务数据)
    subsidies_annual = money("政府补贴(元/年)")
    has_social_security = models.BooleanField("参加社保", default=False)
    has_rural_medical_insurance = models.BooleanField("参加新农合", default=False)

    # Individual business section (个体工商户)
    has_business = models.BooleanField("个体工商户", default=False)
    business_industry = models.CharField(
        "经营行业", max_length=20, choices=Industry.choices, blank=True
    )
    business_revenue = money("经营流水(元/年)")
    business_premises = models.CharField("经营场所", max_length=200, blank=True)
    business_employees = models.PositiveIntegerField("雇工人数", default=0)

    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = ArchiveQuerySet.as_manager()

    class Meta:
        verbose_name = "经济档案"
        verbose_name_plural = "经济档案"
        ordering = ["household", "-survey_date"]
        # The unique index also finds a household's latest archive (read backwards); a second
        # index on the same columns would only cost every import.
        constraints = [
            models.UniqueConstraint(
                fields=["household", "survey_date"], name="archive_one_per_household_survey_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household} · {self.survey_date:%Y-%m-%d}"
