"""The demo catalogue: the federation's shared products across every series, and two banks'
sub-products tailored from them (the Henan "series + bank sub-products" model).

Idempotent: products are looked up by code; running it twice changes nothing. Versions go
through the real maker-checker flow, so the demo needs a second federation login (created here).
"""

from __future__ import annotations

from decimal import Decimal as D

from django.contrib.auth import get_user_model

from org.demo import DEMO_PASSWORD, DemoLogin
from org.models import Institution, Staff
from org.roles import Role
from org.services import staff_create
from products.models import Product, VersionStatus
from products.services import (
    product_clone,
    product_create,
    product_version_activate,
    product_version_create,
    product_version_submit,
    product_version_update,
)

User = get_user_model()

_COMMON = {
    "repayment_frequency": "monthly",
    "interest_settlement": "quarterly_20th",
    "base_rate": "lpr_1y",
    "penalty_markup_pct": D("50"),
    "compound_interest": True,
    "grace_days": 3,
    "guarantee_type": "none",
    "guarantors_min": 0,
    "spouse_co_borrower_required": True,
    "age_min": 18,
    "age_max": 65,
    "auto_approve_limit": D("0"),
}

FEDERATION_PRODUCTS = [
    {
        "code": "SX-XYD-NH",
        "name": "农户信用贷(整村授信)",
        "series": "credit",
        "purpose": "farm_business",
        "segments": ["farmer", "new_agri_entity"],
        "channels": ["pad", "mobile_banking", "wechat", "counter"],
        "description": "整村授信预授信额度，随借随还，最高30万元，纯信用。",
        "locked": ["rate_floor", "penalty_markup_pct", "compound_interest"],
        "parameters": {
            "amount_min": D("10000"),
            "amount_max": D("300000"),
            "term_min_months": 1,
            "term_max_months": 36,
            "repayment_methods": ["revolving", "equal_instalment", "periodic_interest"],
            "line_validity_months": 36,
            "spread_min": D("0.45"),
            "spread_max": D("3.00"),
            "spread_by_grade": {"AAA": "0.45", "AA": "0.85", "A": "1.45", "B": "2.20", "C": "3.00"},
            "rate_floor": D("3.45"),
            "rate_cap": D("6.00"),
            "required_documents": ["id_card", "household_register", "marriage_certificate"],
            # Linfen's three levels: the branch decides small loans, the central review centre
            # joins above 100,000 and the credit approval centre above 200,000.
            "approval_bands": [
                {"up_to": "100000", "levels": ["branch"]},
                {"up_to": "200000", "levels": ["branch", "central_review"]},
                {"up_to": "300000", "levels": ["branch", "central_review", "approval_centre"]},
            ],
            "auto_approve_limit": D("50000"),
            "contract_template_code": "HT-XYD-2025",
        },
    },
    {
        "code": "SX-CDD",
        "name": "存单质押贷",
        "series": "pledge",
        "purpose": "farm_consumption",
        "segments": ["farmer", "salaried", "public_servant", "individual_business"],
        "channels": ["mobile_banking", "wechat", "counter"],
        "description": "以本行存单质押，线上秒批。",
        "parameters": {
            "amount_min": D("1000"),
            "amount_max": D("1000000"),
            "term_min_months": 1,
            "term_max_months": 12,
            "repayment_methods": ["bullet", "periodic_interest"],
            "spread_min": D("0.10"),
            "spread_max": D("1.00"),
            "rate_floor": D("3.10"),
            "rate_cap": D("4.50"),
            "guarantee_type": "pledge",
            "spouse_co_borrower_required": False,
            "age_max": 70,
            "required_documents": ["id_card", "deposit_certificate"],
            "approval_bands": [{"up_to": "1000000", "levels": ["branch"]}],
            "auto_approve_limit": D("500000"),
            "contract_template_code": "HT-ZYD-2025",
        },
    },
    {
        "code": "SX-LBD",
        "name": "农户联保贷",
        "series": "guarantee",
        "purpose": "farm_business",
        "segments": ["farmer", "new_agri_entity"],
        "channels": ["pad", "counter"],
        "description": "两名以上农户互相担保，用于种养殖生产经营。",
        "parameters": {
            "amount_min": D("10000"),
            "amount_max": D("200000"),
            "term_min_months": 6,
            "term_max_months": 36,
            "repayment_methods": ["equal_instalment", "equal_principal", "periodic_interest"],
            "spread_min": D("1.00"),
            "spread_max": D("4.00"),
            "rate_floor": D("4.00"),
            "rate_cap": D("7.00"),
            "guarantee_type": "guarantor",
            "guarantors_min": 2,
            "required_documents": ["id_card", "household_register", "land_contract"],
            "approval_bands": [
                {"up_to": "100000", "levels": ["branch"]},
                {"up_to": "200000", "levels": ["branch", "central_review"]},
            ],
            "contract_template_code": "HT-BZD-2025",
        },
    },
    {
        "code": "SX-NFD",
        "name": "农房抵押贷",
        "series": "mortgage",
        "purpose": "farm_business",
        "segments": ["farmer", "new_agri_entity", "individual_business"],
        "channels": ["pad", "counter"],
        "description": "以宅基地上农房办理抵押，额度高、期限长。",
        "parameters": {
            "amount_min": D("50000"),
            "amount_max": D("1000000"),
            "term_min_months": 12,
            "term_max_months": 60,
            "repayment_methods": ["equal_instalment", "equal_principal"],
            "base_rate": "lpr_5y",
            "spread_min": D("0.30"),
            "spread_max": D("2.50"),
            "rate_floor": D("3.80"),
            "rate_cap": D("6.00"),
            "guarantee_type": "mortgage",
            "required_documents": ["id_card", "household_register", "property_certificate"],
            "approval_bands": [
                {"up_to": "300000", "levels": ["branch", "central_review"]},
                {"up_to": "1000000", "levels": ["branch", "central_review", "approval_centre"]},
            ],
            "contract_template_code": "HT-DYD-2025",
        },
    },
    {
        "code": "SX-KJD",
        "name": "快捷贷",
        "series": "quick",
        "purpose": "farm_consumption",
        "segments": ["farmer", "salaried"],
        "channels": ["pad", "mobile_banking", "wechat"],
        "description": "客户经理PAD上门采集、线上审批的小额快贷。",
        "parameters": {
            "amount_min": D("1000"),
            "amount_max": D("100000"),
            "term_min_months": 1,
            "term_max_months": 12,
            "repayment_methods": ["revolving", "equal_instalment"],
            "line_validity_months": 12,
            "spread_min": D("1.00"),
            "spread_max": D("5.00"),
            "rate_floor": D("4.00"),
            "rate_cap": D("8.00"),
            "spouse_co_borrower_required": False,
            "required_documents": ["id_card"],
            "approval_bands": [{"up_to": "100000", "levels": ["branch"]}],
            "auto_approve_limit": D("100000"),
            "contract_template_code": "HT-KJD-2025",
        },
    },
    {
        "code": "SX-HZD",
        "name": "电商合作贷",
        "series": "cooperative",
        "purpose": "individual_business",
        "segments": ["individual_business", "farmer"],
        "channels": ["partner", "wechat"],
        "description": "与电商平台合作，依据平台交易流水授信。",
        "parameters": {
            "amount_min": D("5000"),
            "amount_max": D("200000"),
            "term_min_months": 3,
            "term_max_months": 12,
            "repayment_methods": ["equal_instalment", "bullet"],
            "spread_min": D("1.50"),
            "spread_max": D("5.00"),
            "rate_floor": D("4.50"),
            "rate_cap": D("8.00"),
            "spouse_co_borrower_required": False,
            "required_documents": ["id_card", "business_licence"],
            "approval_bands": [{"up_to": "200000", "levels": ["branch"]}],
            "auto_approve_limit": D("50000"),
            "contract_template_code": "HT-HZD-2025",
        },
    },
    {
        "code": "SX-CYL",
        "name": "产业链贷",
        "series": "supply_chain",
        "purpose": "small_enterprise",
        "segments": ["small_enterprise_owner", "new_agri_entity", "individual_business"],
        "channels": ["partner", "counter"],
        "description": "依托核心企业上下游交易数据，为产业链客户授信。",
        "parameters": {
            "amount_min": D("100000"),
            "amount_max": D("3000000"),
            "term_min_months": 6,
            "term_max_months": 36,
            "repayment_methods": ["periodic_interest", "equal_principal"],
            "spread_min": D("0.50"),
            "spread_max": D("3.00"),
            "rate_floor": D("3.50"),
            "rate_cap": D("6.00"),
            "guarantee_type": "guarantor",
            "guarantors_min": 1,
            "age_min": 22,
            "required_documents": ["id_card", "business_licence", "purchase_contract"],
            "approval_bands": [
                {"up_to": "1000000", "levels": ["branch", "central_review"]},
                {"up_to": "3000000", "levels": ["branch", "central_review", "approval_centre"]},
            ],
            "contract_template_code": "HT-CYL-2025",
        },
    },
    {
        "code": "SX-GXD",
        "name": "公职薪金贷",
        "series": "credit",
        "purpose": "salaried",
        "segments": ["public_servant", "salaried"],
        "channels": ["mobile_banking", "wechat", "counter"],
        "description": "面向代发工资的公职人员与工薪客户，纯线上信用贷款。",
        "parameters": {
            "amount_min": D("10000"),
            "amount_max": D("500000"),
            "term_min_months": 12,
            "term_max_months": 60,
            "repayment_methods": ["equal_instalment", "revolving"],
            "line_validity_months": 36,
            "spread_min": D("0.30"),
            "spread_max": D("1.50"),
            "rate_floor": D("3.30"),
            "rate_cap": D("4.50"),
            "spouse_co_borrower_required": False,
            "age_min": 22,
            "age_max": 60,
            "required_documents": ["id_card", "income_proof"],
            "approval_bands": [
                {"up_to": "300000", "levels": ["branch"]},
                {"up_to": "500000", "levels": ["branch", "central_review"]},
            ],
            "auto_approve_limit": D("300000"),
            "contract_template_code": "HT-GXD-2025",
        },
    },
]

# (bank code, parent code, code, name, maker, checker, overrides)
BANK_SUB_PRODUCTS = [
    (
        "SXRCU-YD",
        "SX-XYD-NH",
        "YD-XYD-PG",
        "尧都苹果产业信用贷",
        "b1_risk",
        "b1_admin",
        {
            "term_max_months": 24,
            "spread_by_grade": {"AAA": "0.45", "AA": "0.75", "A": "1.25", "B": "2.00", "C": "3.00"},
            "auto_approve_limit": D("100000"),
        },
    ),
    (
        "SXRCU-XF",
        "SX-KJD",
        "XF-KJD-NJL",
        "襄汾农家乐快捷贷",
        "b2_risk",
        "b2_admin",
        {
            "amount_max": D("50000"),
            "line_validity_months": 24,
            "spread_min": D("1.50"),
            "spread_max": D("4.50"),
            "approval_bands": [{"up_to": "50000", "levels": ["branch"]}],
            "auto_approve_limit": D("50000"),
        },
    ),
]

FEDERATION_MAKER = "fed_admin"
FEDERATION_CHECKER = "fed_checker"


def _federation_checker() -> DemoLogin:
    federation = Institution.objects.get(kind=Institution.Kind.FEDERATION)
    if not Staff.objects.filter(user__username=FEDERATION_CHECKER).exists():
        staff_create(
            username=FEDERATION_CHECKER,
            password=DEMO_PASSWORD,
            full_name="省联社产品复核岗",
            institution=federation,
            employee_no="F0002",
            phone="13900000002",
            roles=[Role.FEDERATION_ADMIN],
        )
    return DemoLogin(
        FEDERATION_CHECKER, "省联社产品复核岗", federation.name, Role.FEDERATION_ADMIN.label
    )


def _put_in_force(version, maker, checker) -> None:
    product_version_submit(version=version, actor=maker)
    product_version_activate(version=version, actor=checker)


def seed_products() -> list[DemoLogin]:
    """Create the demo catalogue (after ``seed_org``). Returns the logins it added."""
    logins = [_federation_checker()]
    needed = {FEDERATION_MAKER, FEDERATION_CHECKER}
    needed.update(name for row in BANK_SUB_PRODUCTS for name in row[4:6])
    users = {u.username: u for u in User.objects.filter(username__in=needed)}
    maker, checker = users[FEDERATION_MAKER], users[FEDERATION_CHECKER]

    for spec in FEDERATION_PRODUCTS:
        if Product.objects.filter(code=spec["code"]).exists():
            continue
        product = product_create(
            actor=maker,
            code=spec["code"],
            name=spec["name"],
            series=spec["series"],
            purpose=spec["purpose"],
            segments=spec["segments"],
            channels=spec["channels"],
            description=spec["description"],
        )
        version = product_version_create(
            product=product,
            actor=maker,
            parameters={**_COMMON, **spec["parameters"]},
            locked_parameters=spec.get("locked", ()),
            change_note="首版",
        )
        _put_in_force(version, maker, checker)

    for (
        bank_code,
        parent_code,
        code,
        name,
        maker_name,
        checker_name,
        overrides,
    ) in BANK_SUB_PRODUCTS:
        if Product.objects.filter(code=code).exists():
            continue
        bank = Institution.objects.get(code=bank_code)
        parent = Product.objects.get(code=parent_code)
        bank_maker, bank_checker = users[maker_name], users[checker_name]
        product = product_clone(source=parent, actor=bank_maker, code=code, name=name, owner=bank)
        draft = product.versions.get(status=VersionStatus.DRAFT)
        product_version_update(
            version=draft, actor=bank_maker, parameters=overrides, change_note="本行特色参数"
        )
        _put_in_force(draft, bank_maker, bank_checker)
    return logins
