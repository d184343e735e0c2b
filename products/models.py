"""Product factory (产品工厂): products, their immutable versions, LPR and pinned terms.

Rates are stored as **percent a year** (``Decimal("3.45")`` is 3.45%), the unit in which the LPR
is published and loan officers talk; spreads are percentage points (``0.80`` = +80 bp). The
schedule calculator takes fractions, so callers divide by 100 at that boundary only.

Parameters live on :class:`ProductVersion`. On a bank's sub-product a parameter left empty
(``None``) is inherited from the parent product's effective version; on a root product every
required parameter must be set before the version can be submitted (see ``products.parameters``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, transition

from common.audit import audited
from products.schedule import (
    AllocationOrder,
    InterestSettlement,
    RepaymentFrequency,
    RepaymentMethod,
)


class ProductSeries(models.TextChoices):
    CREDIT = "credit", "信用贷"
    PLEDGE = "pledge", "质押贷"
    GUARANTEE = "guarantee", "保证贷"
    MORTGAGE = "mortgage", "抵押贷"
    QUICK = "quick", "快捷贷"
    COOPERATIVE = "cooperative", "合作贷"
    SUPPLY_CHAIN = "supply_chain", "产业链金融"


class PurposeCategory(models.TextChoices):
    FARM_BUSINESS = "farm_business", "农户经营类"
    FARM_CONSUMPTION = "farm_consumption", "农户消费类"
    SALARIED = "salaried", "公职工薪类"
    INDIVIDUAL_BUSINESS = "individual_business", "个体工商户经营类"
    SMALL_ENTERPRISE = "small_enterprise", "小微企业类"


class CustomerSegment(models.TextChoices):
    FARMER = "farmer", "普通农户"
    NEW_AGRI_ENTITY = "new_agri_entity", "新型农业经营主体(种养大户/家庭农场)"
    INDIVIDUAL_BUSINESS = "individual_business", "个体工商户"
    SALARIED = "salaried", "工薪阶层"
    PUBLIC_SERVANT = "public_servant", "公职人员"
    SMALL_ENTERPRISE_OWNER = "small_enterprise_owner", "小微企业主"


class Channel(models.TextChoices):
    PAD = "pad", "PAD移动终端"
    MOBILE_BANKING = "mobile_banking", "手机银行"
    WECHAT = "wechat", "微信小程序"
    COUNTER = "counter", "柜面"
    PARTNER = "partner", "合作平台"


class ProductStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    ACTIVE = "active", "在售"
    SUSPENDED = "suspended", "暂停"
    RETIRED = "retired", "已下架"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PENDING = "pending", "待复核"
    ACTIVE = "active", "生效"
    SUPERSEDED = "superseded", "已被新版本取代"


class BaseRate(models.TextChoices):
    LPR_1Y = "lpr_1y", "1年期LPR"
    LPR_5Y = "lpr_5y", "5年期以上LPR"


class GuaranteeType(models.TextChoices):
    NONE = "none", "无担保(信用)"
    GUARANTOR = "guarantor", "保证人担保"
    PLEDGE = "pledge", "质押"
    MORTGAGE = "mortgage", "抵押"


class RequiredDocument(models.TextChoices):
    ID_CARD = "id_card", "身份证"
    HOUSEHOLD_REGISTER = "household_register", "户口簿"
    MARRIAGE_CERTIFICATE = "marriage_certificate", "婚姻证明"
    INCOME_PROOF = "income_proof", "收入证明"
    LAND_CONTRACT = "land_contract", "土地承包经营权证"
    BUSINESS_LICENCE = "business_licence", "营业执照"
    PROPERTY_CERTIFICATE = "property_certificate", "不动产权证"
    DEPOSIT_CERTIFICATE = "deposit_certificate", "存单"
    PURCHASE_CONTRACT = "purchase_contract", "购销合同"


class ApprovalLevel(models.TextChoices):
    BRANCH = "branch", "支行审查"
    CENTRAL_REVIEW = "central_review", "集中审查中心"
    APPROVAL_CENTRE = "approval_centre", "授信审批中心"


# Rating grades produced by the risk layer (scorecard + peer review); products only key spreads
# by them, so the list lives here, below risk.
CREDIT_GRADES = ("AAA", "AA", "A", "B", "C")


class ProductQuerySet(models.QuerySet):
    def visible_to(self, user) -> ProductQuerySet:
        """Federation products (no owner) are shared with every bank; a bank's own products are
        seen by that bank only. Federation staff and superusers see the whole catalogue."""
        from org.tenancy import scope_for

        scope = scope_for(user)
        if scope.sees_nothing:
            return self.none()
        if scope.all_banks:
            return self
        return self.filter(Q(owner__isnull=True) | Q(owner_id=scope.bank_id))

    def visible_to_bank(self, bank_id: int) -> ProductQuerySet:
        return self.filter(Q(owner__isnull=True) | Q(owner_id=bank_id))

    def for_list(self) -> ProductQuerySet:
        return self.select_related("owner", "parent")


@audited()
class Product(models.Model):
    """A loan product: what it is called, who may sell it, to whom and through which channels.

    The terms (amounts, rates, repayment…) are on its versions. ``owner`` empty means the
    federation owns it and every member bank may sell it; a bank-owned product may have a
    federation ``parent`` whose parameters it inherits unless it overrides them.
    """

    tenant_bank_field = "owner"

    code = models.CharField("产品代码", max_length=40, unique=True)
    name = models.CharField("产品名称", max_length=100)
    series = models.CharField("产品系列", max_length=20, choices=ProductSeries.choices)
    purpose = models.CharField("贷款用途类别", max_length=24, choices=PurposeCategory.choices)
    segments = ArrayField(
        models.CharField(max_length=32, choices=CustomerSegment.choices),
        verbose_name="适用客群",
        default=list,
    )
    channels = ArrayField(
        models.CharField(max_length=20, choices=Channel.choices),
        verbose_name="申请渠道",
        default=list,
    )
    owner = models.ForeignKey(
        "org.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
        verbose_name="归属机构(空=省联社)",
        limit_choices_to={"kind": "bank"},
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sub_products",
        verbose_name="上级产品",
    )
    status = FSMField("产品状态", max_length=12, choices=ProductStatus.choices, default="draft")
    description = models.TextField("产品说明", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="创建人"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = "贷款产品"
        verbose_name_plural = "贷款产品"
        ordering = ["series", "code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="product_not_own_parent"
            ),
        ]
        indexes = [models.Index(fields=["owner", "status"], name="product_owner_status")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_federation_owned(self) -> bool:
        return self.owner_id is None

    # Transitions are called by products.services only, with the row locked.
    @transition(field=status, source=ProductStatus.DRAFT, target=ProductStatus.ACTIVE)
    def launch(self) -> None:
        pass

    @transition(field=status, source=ProductStatus.ACTIVE, target=ProductStatus.SUSPENDED)
    def suspend(self) -> None:
        pass

    @transition(field=status, source=ProductStatus.SUSPENDED, target=ProductStatus.ACTIVE)
    def resume(self) -> None:
        pass

    @transition(
        field=status,
        source=[ProductStatus.DRAFT, ProductStatus.ACTIVE, ProductStatus.SUSPENDED],
        target=ProductStatus.RETIRED,
    )
    def retire(self) -> None:
        pass


class ProductVersionQuerySet(models.QuerySet):
    def activated(self) -> ProductVersionQuerySet:
        """Versions that were ever put into force (the active one and those it superseded)."""
        return self.filter(status__in=[VersionStatus.ACTIVE, VersionStatus.SUPERSEDED])

    def effective_on(self, on_date) -> ProductVersionQuerySet:
        """Per product, the activated version in force on ``on_date`` (PostgreSQL DISTINCT ON)."""
        return (
            self.activated()
            .filter(effective_from__lte=on_date)
            .order_by("product_id", "-effective_from", "-number")
            .distinct("product_id")
        )


def _money(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=2, null=True, blank=True)


def _rate(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=9, decimal_places=6, null=True, blank=True)


@audited()
class ProductVersion(models.Model):
    """One immutable set of parameters of a product. Only a draft can be edited; activation
    needs a second person (maker-checker) and supersedes the previous version."""

    tenant_bank_field = "product__owner"

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="versions", verbose_name="产品"
    )
    number = models.PositiveIntegerField("版本号")
    status = FSMField("版本状态", max_length=12, choices=VersionStatus.choices, default="draft")
    effective_from = models.DateField("生效日期", null=True, blank=True)
    change_note = models.CharField("变更说明", max_length=300, blank=True)
    locked_parameters = ArrayField(
        models.CharField(max_length=40),
        verbose_name="锁定参数(子产品不得覆盖)",
        default=list,
        blank=True,
    )

    # --- Parameters (None on a sub-product = inherited from the parent) ---------------------
    amount_min = _money("金额下限(元)")
    amount_max = _money("金额上限(元)")
    term_min_months = models.PositiveSmallIntegerField("期限下限(月)", null=True, blank=True)
    term_max_months = models.PositiveSmallIntegerField("期限上限(月)", null=True, blank=True)
    repayment_methods = ArrayField(
        models.CharField(max_length=24, choices=RepaymentMethod.choices),
        verbose_name="还款方式",
        null=True,
        blank=True,
    )
    repayment_frequency = models.CharField(
        "还款频率", max_length=12, choices=RepaymentFrequency.choices, null=True, blank=True
    )
    interest_settlement = models.CharField(
        "结息方式", max_length=16, choices=InterestSettlement.choices, null=True, blank=True
    )
    base_rate = models.CharField(
        "定价基准", max_length=8, choices=BaseRate.choices, null=True, blank=True
    )
    spread_min = _rate("加点下限(百分点)")
    spread_max = _rate("加点上限(百分点)")
    spread_by_grade = models.JSONField(
        "按评级加点(百分点)", null=True, blank=True, help_text='如 {"AAA": "0.30", "AA": "0.60"}'
    )
    rate_floor = _rate("执行利率下限(年%)")
    rate_cap = _rate("执行利率上限(年%)")
    penalty_markup_pct = _rate("罚息上浮比例(%)")
    compound_interest = models.BooleanField("逾期利息计收复利", null=True, blank=True)
    grace_days = models.PositiveSmallIntegerField("宽限期(天)", null=True, blank=True)
    guarantee_type = models.CharField(
        "担保方式", max_length=12, choices=GuaranteeType.choices, null=True, blank=True
    )
    guarantors_min = models.PositiveSmallIntegerField("保证人最少人数", null=True, blank=True)
    spouse_co_borrower_required = models.BooleanField("配偶须为共同借款人", null=True, blank=True)
    required_documents = ArrayField(
        models.CharField(max_length=32, choices=RequiredDocument.choices),
        verbose_name="必备资料",
        null=True,
        blank=True,
    )
    age_min = models.PositiveSmallIntegerField("借款人年龄下限", null=True, blank=True)
    age_max = models.PositiveSmallIntegerField("借款人年龄上限", null=True, blank=True)
    line_validity_months = models.PositiveSmallIntegerField(
        "循环额度有效期(月)", null=True, blank=True
    )
    approval_bands = models.JSONField(
        "审批权限(金额分档)",
        null=True,
        blank=True,
        help_text='按金额升序，如 [{"up_to": "100000", "levels": ["branch"]}, '
        '{"up_to": "300000", "levels": ["branch", "central_review"]}]',
    )
    auto_approve_limit = _money("纯线上自动审批上限(元，0=不允许)")
    contract_template_code = models.CharField("合同模板编号", max_length=60, null=True, blank=True)
    repayment_allocation = models.CharField(
        "还款冲销顺序", max_length=32, choices=AllocationOrder.choices, null=True, blank=True
    )
    overpayment_to_suspense = models.BooleanField("超额还款挂账(否则拒绝)", null=True, blank=True)

    # --- Who and when (maker-checker) ---------------------------------------------------------
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="制作人"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="最后修改人",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="提交人",
    )
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="复核人",
    )
    activated_at = models.DateTimeField("生效操作时间", null=True, blank=True)
    superseded_at = models.DateTimeField("被取代时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = ProductVersionQuerySet.as_manager()

    class Meta:
        verbose_name = "产品版本"
        verbose_name_plural = "产品版本"
        ordering = ["product_id", "-number"]
        permissions = [("activate_productversion", "可复核生效产品版本")]
        constraints = [
            models.UniqueConstraint(fields=["product", "number"], name="productversion_unique_no"),
            # One version in preparation at a time: two parallel drafts would each be diffed
            # against the same active version and the second activation would silently drop
            # the first one's changes.
            models.UniqueConstraint(
                fields=["product"],
                condition=Q(status__in=["draft", "pending"]),
                name="productversion_one_open_per_product",
                violation_error_message="该产品已有未生效的版本(草稿或待复核)",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "pending"]) | Q(effective_from__isnull=False),
                name="productversion_activated_has_date",
                violation_error_message="已生效的版本必须有生效日期",
            ),
            models.CheckConstraint(
                condition=Q(amount_min__isnull=True)
                | Q(amount_max__isnull=True)
                | Q(amount_min__lte=models.F("amount_max")),
                name="productversion_amount_range",
                violation_error_message="金额下限不能大于金额上限",
            ),
            models.CheckConstraint(
                condition=Q(term_min_months__isnull=True)
                | Q(term_max_months__isnull=True)
                | Q(term_min_months__lte=models.F("term_max_months")),
                name="productversion_term_range",
                violation_error_message="期限下限不能大于期限上限",
            ),
            models.CheckConstraint(
                condition=Q(age_min__isnull=True)
                | Q(age_max__isnull=True)
                | Q(age_min__lte=models.F("age_max")),
                name="productversion_age_range",
                violation_error_message="年龄下限不能大于年龄上限",
            ),
            models.CheckConstraint(
                condition=Q(rate_floor__isnull=True)
                | Q(rate_cap__isnull=True)
                | Q(rate_floor__lte=models.F("rate_cap")),
                name="productversion_rate_range",
                violation_error_message="利率下限不能高于利率上限",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} v{self.number}"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT

    @transition(field=status, source=VersionStatus.DRAFT, target=VersionStatus.PENDING)
    def submit(self) -> None:
        pass

    @transition(field=status, source=VersionStatus.PENDING, target=VersionStatus.DRAFT)
    def send_back(self) -> None:
        pass

    @transition(field=status, source=VersionStatus.PENDING, target=VersionStatus.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(field=status, source=VersionStatus.ACTIVE, target=VersionStatus.SUPERSEDED)
    def supersede(self) -> None:
        pass


# What ProductStatusChange.action records (products.services), as staff read it.
STATUS_CHANGE_ACTIONS = {
    "create": "创建产品",
    "clone": "复制/派生产品",
    "launch": "上架",
    "suspend": "暂停销售",
    "resume": "恢复销售",
    "retire": "下架",
    "version_create": "新建版本",
    "submit": "提交复核",
    "send_back": "退回修改",
    "activate": "复核生效",
    "supersede": "被新版本取代",
}


class ProductStatusChange(models.Model):
    """Who moved a product or one of its versions from which status to which, and why.

    Written by the services in the same transaction as the change; pghistory keeps the raw
    row history too, this is the business-readable log the approval screens show.
    """

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="status_changes", verbose_name="产品"
    )
    version = models.ForeignKey(
        ProductVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="status_changes",
        verbose_name="版本",
    )
    action = models.CharField("操作", max_length=20)
    from_status = models.CharField("原状态", max_length=12)
    to_status = models.CharField("新状态", max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="操作人"
    )
    reason = models.CharField("原因/意见", max_length=300, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    tenant_bank_field = "product__owner"

    class Meta:
        verbose_name = "产品状态变更记录"
        verbose_name_plural = "产品状态变更记录"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        # Shown above each row of the product's log: the action as staff read it, not its code.
        action = STATUS_CHANGE_ACTIONS.get(self.action, self.action)
        if self.at is None:
            return action
        return f"{action}（{timezone.localtime(self.at):%Y-%m-%d %H:%M}）"


@audited()
class LoanPrimeRate(models.Model):
    """A published LPR (贷款市场报价利率), in force from ``effective_date`` until the next row."""

    effective_date = models.DateField("发布(生效)日期", unique=True)
    lpr_1y = models.DecimalField("1年期LPR(年%)", max_digits=9, decimal_places=6)
    lpr_5y_plus = models.DecimalField("5年期以上LPR(年%)", max_digits=9, decimal_places=6)
    created_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        verbose_name = "LPR报价"
        verbose_name_plural = "LPR报价"
        ordering = ["-effective_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(lpr_1y__gt=0, lpr_1y__lt=100, lpr_5y_plus__gt=0, lpr_5y_plus__lt=100),
                name="lpr_rates_are_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.effective_date}: 1Y {self.lpr_1y}% / 5Y+ {self.lpr_5y_plus}%"

    def rate_for(self, base_rate: str):
        return self.lpr_1y if base_rate == BaseRate.LPR_1Y else self.lpr_5y_plus


class ProductPin(models.Model):
    """The exact terms an application, credit line or loan was approved under.

    A pin names the chain of versions it was resolved from (root → sub-product) and keeps the
    resolved parameters, so later versions of either the sub-product or its federation parent
    never change it. One row per distinct chain: pinning the same versions twice reuses it.
    """

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="pins", verbose_name="产品"
    )
    version = models.ForeignKey(
        ProductVersion, on_delete=models.PROTECT, related_name="pins", verbose_name="产品版本"
    )
    chain_key = models.CharField("版本链", max_length=100, unique=True)
    parameters = models.JSONField("锁定参数快照")
    created_at = models.DateTimeField("锁定时间", auto_now_add=True)

    tenant_bank_field = "product__owner"

    class Meta:
        verbose_name = "产品参数锁定"
        verbose_name_plural = "产品参数锁定"

    def __str__(self) -> str:
        return f"{self.product_id}@{self.chain_key}"

    @property
    def terms(self):
        from products.parameters import ProductTerms

        return ProductTerms.from_snapshot(self.parameters)
