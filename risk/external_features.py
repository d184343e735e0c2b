"""The features that do not come from a household's own records: what external data providers
answer (``risk.providers`` fills them) and what an application brings with it (the decision
engine fills them). Declared here, beside the household catalogue (``risk.features.CATALOGUE``),
so the rule language, scorecards and providers all name them the same way.

Every value is a float (binary 0/1); missing is ``None`` for one row and ``NaN`` in a column.
Names are part of stored rules and decisions: add, never rename.
"""

from __future__ import annotations

from risk.features import BINARY, COUNT, NUMERIC, Feature

# Sources of external data: each is one provider interface (``risk.providers``).
CREDIT_REPORT, COURT, BORROWING, ANTIFRAUD, TAX_SOCIAL = (
    "credit_report",
    "court",
    "borrowing",
    "antifraud",
    "tax_social",
)
EXTERNAL_SOURCES: dict[str, str] = {
    CREDIT_REPORT: "人行征信",
    COURT: "法院数据",
    BORROWING: "多头借贷/借贷意向",
    ANTIFRAUD: "外部反欺诈",
    TAX_SOCIAL: "税务社保公积金",
}
APPLICATION = "application"  # the source of the application-context features


def _external(name: str, label: str, type: str, source: str, description: str) -> Feature:
    return Feature(name, label, type, source, description)


EXTERNAL_FEATURES: tuple[Feature, ...] = (
    _external(
        "credit_current_overdue", "当前逾期", BINARY, CREDIT_REPORT, "征信报告显示当前有逾期为1"
    ),
    _external(
        "credit_overdue_months_24m",
        "近24个月逾期月数",
        COUNT,
        CREDIT_REPORT,
        "近24个月内出现逾期的月份数",
    ),
    _external(
        "credit_bad_debt", "呆账/资产处置记录", BINARY, CREDIT_REPORT, "有呆账或资产处置记录为1"
    ),
    _external(
        "credit_guarantor_compensation",
        "担保代偿记录",
        BINARY,
        CREDIT_REPORT,
        "有担保人代偿记录为1",
    ),
    _external(
        "credit_hard_inquiries_3m",
        "近3个月贷款审批查询次数",
        COUNT,
        CREDIT_REPORT,
        "近3个月金融机构因贷款审批查询征信的次数",
    ),
    _external(
        "credit_outstanding_debt",
        "征信负债余额(元)",
        NUMERIC,
        CREDIT_REPORT,
        "征信报告中未结清贷款与信用卡已用额度合计",
    ),
    _external("credit_lenders", "在贷机构数", COUNT, CREDIT_REPORT, "有未结清贷款的机构数"),
    _external(
        "court_consumption_restricted",
        "限制高消费",
        BINARY,
        COURT,
        "被法院采取限制高消费措施为1",
    ),
    _external("dishonest_debtor", "失信被执行人", BINARY, COURT, "列入失信被执行人名单为1"),
    _external(
        "internet_lenders_90d",
        "近90天申请网贷机构数",
        COUNT,
        BORROWING,
        "近90天向互联网贷款机构提出申请的机构数(多头借贷)",
    ),
    _external("borrowing_intent", "互联网借贷意向", BINARY, BORROWING, "近期有互联网借贷意向为1"),
    _external(
        "antifraud_score",
        "反欺诈评分",
        NUMERIC,
        ANTIFRAUD,
        "外部反欺诈评分，0至100，越高越可疑",
    ),
    _external("tax_paid_annual", "近一年纳税额(元)", NUMERIC, TAX_SOCIAL, "近12个月纳税合计"),
    _external(
        "social_security_months",
        "社保连续缴纳月数",
        COUNT,
        TAX_SOCIAL,
        "截至查询日社会保险连续缴纳月数",
    ),
    _external(
        "provident_fund_months",
        "公积金连续缴存月数",
        COUNT,
        TAX_SOCIAL,
        "截至查询日住房公积金连续缴存月数",
    ),
)

# Filled by the decision engine for an application; in a campaign batch only those marked so.
CONTEXT_FEATURES: tuple[Feature, ...] = (
    _external(
        "applicant_age", "申请人年龄", NUMERIC, APPLICATION, "申请人周岁年龄(批量时为户主年龄)"
    ),
    _external("requested_amount", "申请金额(元)", NUMERIC, APPLICATION, "本次申请的金额"),
    _external(
        "product_age_min", "产品准入年龄下限", NUMERIC, APPLICATION, "产品生效参数中的最小年龄"
    ),
    _external(
        "product_age_max", "产品准入年龄上限", NUMERIC, APPLICATION, "产品生效参数中的最大年龄"
    ),
    _external(
        "id_shared_households",
        "身份证号关联农户数",
        COUNT,
        APPLICATION,
        "本行登记了同一身份证号的农户数",
    ),
    _external(
        "phone_shared_households",
        "手机号关联农户数",
        COUNT,
        APPLICATION,
        "本行登记了同一手机号的农户数",
    ),
    _external("applications_30d", "近30天申请次数", COUNT, APPLICATION, "申请人近30天的申请次数"),
    _external(
        "device_applicants_30d",
        "同一设备近30天申请人数",
        COUNT,
        APPLICATION,
        "提交本申请的设备近30天提交过的不同申请人数",
    ),
    _external("years_in_village", "在村居住年限", NUMERIC, APPLICATION, "户主在本村居住的年数"),
    _external(
        "archive_age_months",
        "经济档案距今月数",
        NUMERIC,
        APPLICATION,
        "最新经济档案调查日期距业务日期的月数",
    ),
)

EXTERNAL_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in EXTERNAL_FEATURES)
CONTEXT_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CONTEXT_FEATURES)
