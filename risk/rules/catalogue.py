"""The federation's seeded rule catalogue (规则库): rules the sources describe, as data.

Thresholds are common practice of the provincial cooperatives (credit-report hard rejects, court
and dishonest-debtor lists, multi-lender borrowing, anti-fraud score bands, peer-review colour)
and are meant to be edited in the admin; editing makes a new version. Seeding is idempotent: a
code the federation already has is left as it is (``rules_seed_catalogue``).

Each entry: code, Chinese name, category, expression, outcome, reason code, Chinese reason text,
rejection source.
"""

from __future__ import annotations

from risk.rules.models import RejectionSource as S
from risk.rules.models import RuleCategory as C
from risk.rules.models import RuleOutcome as O

# The one derived feature the catalogue reads; seeded with it.
SEEDED_DERIVED_FEATURES = (
    (
        "debt_to_income",
        "征信负债收入比",
        "credit_outstanding_debt / (net_income + 1)",
    ),
)

A, F, P = C.ADMISSION, C.ANTIFRAUD, C.POST_LOAN
RULES: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    # --- admission: the product's age band
    ("ADM_AGE_OUT_OF_RANGE", "年龄不在产品准入范围", A,
     "applicant_age < product_age_min or applicant_age > product_age_max",
     O.REJECT, "ADM_AGE_OUT_OF_RANGE", "申请人年龄不在产品准入年龄范围内", S.INTERNAL),
    ("ADM_AGE_UNKNOWN", "无法确认申请人年龄", A, "applicant_age == null",
     O.REFER, "ADM_AGE_UNKNOWN", "无法确认申请人年龄，需人工核实身份证件", S.INTERNAL),
    ("ADM_AGE_NEAR_MAX", "年龄接近产品上限", A,
     "applicant_age <= product_age_max and applicant_age > product_age_max - 2",
     O.FLAG, "ADM_AGE_NEAR_MAX", "申请人年龄接近产品准入上限，贷款期限不宜超过上限", S.INTERNAL),
    # --- admission: central-bank credit report
    ("CR_CURRENT_OVERDUE", "征信当前逾期", A, "credit_current_overdue == 1",
     O.REJECT, "CR_CURRENT_OVERDUE", "人行征信显示当前有逾期", S.CREDIT_REPORT),
    ("CR_OVERDUE_3_IN_24M", "近24个月逾期3个月及以上", A, "credit_overdue_months_24m >= 3",
     O.REJECT, "CR_OVERDUE_3_IN_24M", "近24个月内有3个月及以上出现逾期", S.CREDIT_REPORT),
    ("CR_OVERDUE_MINOR_24M", "近24个月有少量逾期", A,
     "credit_overdue_months_24m >= 1 and credit_overdue_months_24m < 3",
     O.REFER, "CR_OVERDUE_MINOR_24M", "近24个月内有1至2个月出现逾期，需人工核实原因", S.CREDIT_REPORT),
    ("CR_BAD_DEBT", "呆账或资产处置", A, "credit_bad_debt == 1",
     O.REJECT, "CR_BAD_DEBT", "人行征信有呆账或资产处置记录", S.CREDIT_REPORT),
    ("CR_GUARANTOR_COMPENSATION", "担保代偿", A, "credit_guarantor_compensation == 1",
     O.REJECT, "CR_GUARANTOR_COMPENSATION", "人行征信有担保人代偿记录", S.CREDIT_REPORT),
    ("CR_HARD_INQUIRIES_3M", "近3个月贷款审批查询过多", A, "credit_hard_inquiries_3m >= 6",
     O.REJECT, "CR_HARD_INQUIRIES_3M", "近3个月贷款审批查询6次及以上", S.CREDIT_REPORT),
    ("CR_HARD_INQUIRIES_3M_WATCH", "近3个月贷款审批查询较多", A,
     "credit_hard_inquiries_3m >= 4 and credit_hard_inquiries_3m < 6",
     O.REFER, "CR_HARD_INQUIRIES_3M_WATCH", "近3个月贷款审批查询4至5次", S.CREDIT_REPORT),
    ("CR_MANY_LENDERS", "在贷机构过多", A, "credit_lenders >= 5",
     O.REFER, "CR_MANY_LENDERS", "征信显示在贷机构5家及以上", S.CREDIT_REPORT),
    ("CR_DEBT_TO_INCOME", "征信负债收入比过高", A, "debt_to_income > 5",
     O.REFER, "CR_DEBT_TO_INCOME", "征信负债超过家庭年净收入的5倍", S.CREDIT_REPORT),
    ("CR_DEBT_OVER_ASSETS", "征信负债超过总资产", A,
     "total_assets != null and credit_outstanding_debt > total_assets",
     O.REFER, "CR_DEBT_OVER_ASSETS", "征信负债余额超过家庭总资产", S.CREDIT_REPORT),
    ("CR_REPORT_MISSING", "缺少征信结果", A, "credit_current_overdue == null",
     O.REFER, "CR_REPORT_MISSING", "未取得人行征信查询结果", S.CREDIT_REPORT),
    # --- admission: court and dishonest debtors
    ("COURT_CONSUMPTION_RESTRICTED", "被限制高消费", A, "court_consumption_restricted == 1",
     O.REJECT, "COURT_CONSUMPTION_RESTRICTED", "被人民法院采取限制高消费措施", S.COURT),
    ("COURT_DISHONEST_DEBTOR", "失信被执行人", A, "dishonest_debtor == 1",
     O.REJECT, "COURT_DISHONEST_DEBTOR", "已列入失信被执行人名单", S.DISHONEST),
    # --- admission: internet borrowing
    ("BR_MULTI_LENDER", "多头借贷", A, "internet_lenders_90d >= 5",
     O.REJECT, "BR_MULTI_LENDER", "近90天向5家及以上网贷机构申请借款", S.BORROWING),
    ("BR_MULTI_LENDER_WATCH", "多头借贷关注", A,
     "internet_lenders_90d >= 3 and internet_lenders_90d < 5",
     O.REFER, "BR_MULTI_LENDER_WATCH", "近90天向3至4家网贷机构申请借款", S.BORROWING),
    ("BR_BORROWING_INTENT", "互联网借贷意向", A, "borrowing_intent == 1",
     O.REFER, "BR_BORROWING_INTENT", "近期有互联网借贷意向", S.BORROWING),
    # --- admission: the household's own records
    ("ARCHIVE_MISSING", "缺少经济档案", A, "net_income == null",
     O.REFER, "ARCHIVE_MISSING", "缺少经济档案", S.INTERNAL),
    ("ARCHIVE_OUTDATED", "经济档案过旧", A, "archive_age_months > 24",
     O.REFER, "ARCHIVE_OUTDATED", "经济档案超过24个月未更新，需重新调查", S.INTERNAL),
    ("ARCHIVE_STALE", "经济档案待更新", A,
     "archive_age_months > 12 and archive_age_months <= 24",
     O.FLAG, "ARCHIVE_STALE", "经济档案已超过12个月", S.INTERNAL),
    ("INCOME_FLOOR", "家庭净收入过低", A, "net_income < 5000",
     O.REJECT, "INCOME_FLOOR", "家庭年净收入低于5000元", S.INTERNAL),
    ("INCOME_PER_CAPITA_LOW", "人均收入偏低", A, "income_per_capita < 3000",
     O.REFER, "INCOME_PER_CAPITA_LOW", "家庭人均年净收入低于3000元", S.INTERNAL),
    ("DEBT_RATIO_CEILING", "资产负债率超限", A, "debt_ratio > 0.7",
     O.REJECT, "DEBT_RATIO_CEILING", "家庭资产负债率超过70%", S.INTERNAL),
    ("DEBT_RATIO_HIGH", "资产负债率偏高", A, "debt_ratio > 0.5 and debt_ratio <= 0.7",
     O.REFER, "DEBT_RATIO_HIGH", "家庭资产负债率在50%至70%之间", S.INTERNAL),
    ("REQUEST_OVER_INCOME", "申请金额超过收入三倍", A,
     "net_income != null and requested_amount > net_income * 3",
     O.REFER, "REQUEST_OVER_INCOME", "申请金额超过家庭年净收入的3倍", S.INTERNAL),
    ("NO_LABOUR", "家庭无劳动力", A, "labour_count == 0",
     O.REFER, "NO_LABOUR", "家庭无16至60周岁的健康劳动力", S.INTERNAL),
    ("DEPENDANTS_HIGH", "抚养负担重", A, "dependants_ratio > 0.75",
     O.FLAG, "DEPENDANTS_HIGH", "非劳动力人口占家庭人口四分之三以上", S.INTERNAL),
    ("NO_SOCIAL_SECURITY", "未参加社会保险", A, "has_social_security == 0",
     O.FLAG, "NO_SOCIAL_SECURITY", "家庭未参加社会保险", S.INTERNAL),
    ("YEARS_IN_VILLAGE", "在村居住年限不足", A, "years_in_village < 2",
     O.REFER, "YEARS_IN_VILLAGE", "在本村居住不满2年", S.INTERNAL),
    ("INTERNAL_OVERDUE_90", "本行贷款严重逾期", A, "max_days_overdue > 90",
     O.REJECT, "INTERNAL_OVERDUE_90", "在本行的贷款曾逾期超过90天", S.INTERNAL),
    ("INTERNAL_OVERDUE_30", "本行贷款曾逾期", A,
     "max_days_overdue > 30 and max_days_overdue <= 90",
     O.REFER, "INTERNAL_OVERDUE_30", "在本行的贷款曾逾期31至90天", S.INTERNAL),
    # --- admission: peer review (the "acquaintance" half)
    ("PEER_BLACK", "评议为黑名单", A, "peer_colour_rank == 0",
     O.REJECT, "PEER_BLACK", "背靠背评议结论为黑名单", S.INTERNAL),
    ("PEER_GREY", "评议为灰名单", A, "peer_colour_rank == 1",
     O.REFER, "PEER_GREY", "背靠背评议结论为灰名单", S.INTERNAL),
    ("PEER_BLACK_VOTES", "评议中有黑名单票", A, "peer_colour_rank >= 2 and peer_black_votes >= 1",
     O.FLAG, "PEER_BLACK_VOTES", "评议结论非黑灰名单，但有评议员投了黑名单票", S.INTERNAL),
    # --- anti-fraud
    ("AF_SCORE_REJECT", "反欺诈评分高风险", F, "antifraud_score >= 80",
     O.REJECT, "AF_SCORE_REJECT", "外部反欺诈评分80分及以上", S.ANTIFRAUD),
    ("AF_SCORE_REFER", "反欺诈评分中风险", F, "antifraud_score >= 60 and antifraud_score < 80",
     O.REFER, "AF_SCORE_REFER", "外部反欺诈评分60至80分", S.ANTIFRAUD),
    ("AF_SCORE_MISSING", "缺少反欺诈结果", F, "antifraud_score == null",
     O.REFER, "AF_SCORE_MISSING", "未取得外部反欺诈查询结果", S.ANTIFRAUD),
    ("AF_ID_SHARED", "身份证号关联多户", F, "id_shared_households > 1",
     O.REJECT, "AF_ID_SHARED", "同一身份证号登记在多个农户下", S.INTERNAL),
    ("AF_PHONE_SHARED", "手机号关联多户", F, "phone_shared_households >= 3",
     O.REFER, "AF_PHONE_SHARED", "同一手机号登记在3个及以上农户下", S.INTERNAL),
    ("AF_VELOCITY_HIGH", "短期频繁申请", F, "applications_30d >= 6",
     O.REJECT, "AF_VELOCITY_HIGH", "近30天申请6次及以上", S.INTERNAL),
    ("AF_VELOCITY", "短期多次申请", F, "applications_30d >= 3 and applications_30d < 6",
     O.REFER, "AF_VELOCITY", "近30天申请3至5次", S.INTERNAL),
    ("AF_DEVICE_REUSED", "设备多人使用", F, "device_applicants_30d >= 3",
     O.REFER, "AF_DEVICE_REUSED", "同一设备近30天为3个及以上申请人提交申请(自助渠道)", S.INTERNAL),
    ("AF_COURT_AND_INTENT", "限高且有借贷意向", F,
     "court_consumption_restricted == 1 and borrowing_intent == 1",
     O.REJECT, "AF_COURT_AND_INTENT", "被限制高消费期间仍有互联网借贷意向", S.COURT),
    # --- post-loan warnings
    ("PL_CREDIT_OVERDUE", "贷后征信出现逾期", P, "credit_current_overdue == 1",
     O.FLAG, "PL_CREDIT_OVERDUE", "贷后检查：征信出现当前逾期", S.CREDIT_REPORT),
    ("PL_COURT_RESTRICTED", "贷后被限制高消费", P, "court_consumption_restricted == 1",
     O.FLAG, "PL_COURT_RESTRICTED", "贷后检查：被限制高消费", S.COURT),
    ("PL_DISHONEST", "贷后列入失信名单", P, "dishonest_debtor == 1",
     O.FLAG, "PL_DISHONEST", "贷后检查：列入失信被执行人名单", S.DISHONEST),
    ("PL_MULTI_LENDER", "贷后多头借贷", P, "internet_lenders_90d >= 5",
     O.FLAG, "PL_MULTI_LENDER", "贷后检查：近90天向5家及以上网贷机构申请", S.BORROWING),
    ("PL_PEER_DOWNGRADE", "贷后评议转黑灰", P, "peer_colour_rank <= 1",
     O.FLAG, "PL_PEER_DOWNGRADE", "贷后检查：最新评议为黑名单或灰名单", S.INTERNAL),
)  # fmt: skip

# Seeded rule sets: code, name, category, mode.
RULE_SETS = (
    ("ANTIFRAUD_DEFAULT", "省联社反欺诈规则集", C.ANTIFRAUD, "stop_at_first_reject"),
    ("ADMISSION_DEFAULT", "省联社准入规则集", C.ADMISSION, "stop_at_first_reject"),
    ("POST_LOAN_DEFAULT", "省联社贷后预警规则集", C.POST_LOAN, "evaluate_all"),
)
