from __future__ import annotations

from django.db import models

from org.models import Institution
from org.tenancy import TenantQuerySet
from villages.models import Household


class HouseholdFeaturesQuerySet(TenantQuerySet):
    pass


class HouseholdFeatures(models.Model):
    """The feature row of a household, materialised for batch scoring and monitoring.

    One wide row of doubles per household (NULL = missing), rebuilt set-based from archives,
    members, peer review and repayment history by ``risk.features``. Column names are the
    feature catalogue's names (``risk.features.CATALOGUE``); a test holds the two in step.
    """

    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    household = models.OneToOneField(
        Household,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="features",
        verbose_name="农户",
    )
    bank = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="+", verbose_name="法人行社"
    )
    segment = models.CharField("客群", max_length=32, db_index=True)
    computed_at = models.DateTimeField("计算时间")

    head_age = models.FloatField("户主年龄", null=True)
    family_size = models.FloatField("家庭人口", null=True)
    labour_count = models.FloatField("劳动力人数", null=True)
    dependants_ratio = models.FloatField("抚养比", null=True)
    head_education_level = models.FloatField("户主文化程度(0-5)", null=True)
    land_mu = models.FloatField("经营土地(亩)", null=True)
    livestock_heads = models.FloatField("存栏(头/只)", null=True)
    net_income = models.FloatField("家庭净收入(元/年)", null=True)
    income_per_capita = models.FloatField("人均净收入(元/年)", null=True)
    wage_income_share = models.FloatField("务工收入占比", null=True)
    total_assets = models.FloatField("总资产(元)", null=True)
    deposits = models.FloatField("存款(元)", null=True)
    debt_ratio = models.FloatField("资产负债率", null=True)
    debts = models.FloatField("负债合计(元)", null=True)
    has_business = models.FloatField("个体工商户(0/1)", null=True)
    has_social_security = models.FloatField("参加社保(0/1)", null=True)
    years_since_survey = models.FloatField("档案距今(年)", null=True)
    peer_colour_rank = models.FloatField("评议名单(黑0灰1绿2白3)", null=True)
    peer_black_votes = models.FloatField("评议黑名单票数", null=True)
    peer_suggested_amount = models.FloatField("评议建议额度(元)", null=True)
    repaid_loans = models.FloatField("本行已结清贷款笔数", null=True)
    max_days_overdue = models.FloatField("本行历史最长逾期天数", null=True)

    objects = HouseholdFeaturesQuerySet.as_manager()

    class Meta:
        verbose_name = "农户特征"
        verbose_name_plural = "农户特征"

    def __str__(self) -> str:
        return f"{self.household_id} features"
