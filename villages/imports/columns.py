"""The one table mapping the template's Chinese headers to fields, kinds and limits.

The template writer, the reader (header matching), the validator and the staging tables all read
these definitions, so a column is added or renamed here and nowhere else.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from villages.models import EconomicArchive, Member
from villages.validation import MAX_LAND_MU, MAX_MONEY


class Kind:
    ID_NUMBER = "id_number"
    TEXT = "text"
    MOBILE = "mobile"
    VILLAGE_CODE = "village_code"
    DECIMAL = "decimal"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    DATE = "date"


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str
    required: bool = False
    max_length: int = 0
    maximum: Decimal = MAX_MONEY
    choices: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()  # what the template's drop-down offers
    note: str = ""
    # Kept as text in the template (cell format "@") so Excel never turns it into a number.
    as_text: bool = False
    # The SQL type of the staging column.
    sql_type: str = "text"

    @property
    def template_header(self) -> str:
        return f"{self.header}*" if self.required else self.header


@dataclass(frozen=True)
class SheetSpec:
    code: str  # English name used in counts and staging ("households", …)
    name: str
    key: str  # the field naming what the row belongs to (the head's ID number)
    columns: tuple[Column, ...]
    note: str

    def column(self, field_name: str) -> Column:
        return next(c for c in self.columns if c.field == field_name)


def header_key(text: str) -> str:
    """How a header cell is compared: NFKC (full-width brackets → ASCII), no spaces or '*'."""
    normal = unicodedata.normalize("NFKC", str(text or ""))
    return "".join(ch for ch in normal if not ch.isspace() and ch != "*")


def _labels(choices, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Accepted cell text → stored value: the Chinese label, the code itself, and aliases."""
    mapping = {}
    for value, label in choices:
        mapping[header_key(label)] = value
        mapping[value] = value
    for alias, value in (aliases or {}).items():
        mapping[header_key(alias)] = value
    return mapping


RELATIONS = _labels(
    Member.Relation.choices,
    {
        "本人": "head",
        "妻子": "spouse",
        "丈夫": "spouse",
        "妻": "spouse",
        "夫": "spouse",
        "儿子": "child",
        "女儿": "child",
        "子": "child",
        "女": "child",
        "长子": "child",
        "次子": "child",
        "长女": "child",
        "次女": "child",
        "父亲": "parent",
        "母亲": "parent",
        "父": "parent",
        "母": "parent",
        "兄弟": "sibling",
        "姐妹": "sibling",
        "孙子": "grandchild",
        "孙女": "grandchild",
        "外孙": "grandchild",
        "外孙女": "grandchild",
        "儿媳": "child_in_law",
        "女婿": "child_in_law",
    },
)
EDUCATION = _labels(
    Member.Education.choices,
    {
        "文盲": "none",
        "文盲或半文盲": "none",
        "高中": "senior",
        "中专": "senior",
        "本科": "bachelor",
        "研究生": "bachelor",
        "硕士": "bachelor",
        "博士": "bachelor",
    },
)
HEALTH = _labels(Member.Health.choices, {"良好": "good", "患病": "poor"})
HOUSING = _labels(EconomicArchive.HousingStructure.choices, {"钢混": "frame", "砖瓦": "brick_wood"})
INDUSTRIES = _labels(
    EconomicArchive.Industry.choices, {"农家乐": "rural_tourism", "乡村旅游": "rural_tourism"}
)

MAX_AREA_M2 = Decimal("10000")
MAX_LIVESTOCK_HEADS = Decimal("1000000")
MAX_EMPLOYEES = Decimal("10000")

HEAD_ID = Column(
    "户主身份证号",
    "head_id_number",
    Kind.ID_NUMBER,
    required=True,
    as_text=True,
    note="18位，单元格须为文本格式",
)


def _money(header: str, field_name: str) -> Column:
    return Column(header, field_name, Kind.DECIMAL, sql_type="numeric(18,2)", note="元，不填为0")


def _land(header: str, field_name: str) -> Column:
    return Column(
        header,
        field_name,
        Kind.DECIMAL,
        maximum=MAX_LAND_MU,
        sql_type="numeric(10,2)",
        note=f"亩，0～{MAX_LAND_MU}",
    )


def _flag(header: str, field_name: str) -> Column:
    return Column(header, field_name, Kind.BOOLEAN, sql_type="boolean", note="填“是”或“否”")


HOUSEHOLDS = SheetSpec(
    code="households",
    name="农户",
    key="head_id_number",
    note="每户一行，以户主身份证号识别；再次导入同一户即更新该户。",
    columns=(
        HEAD_ID,
        Column(
            "村级区划代码",
            "village_code",
            Kind.VILLAGE_CODE,
            required=True,
            as_text=True,
            note="12位统计用区划代码，须为本行社已建立的行政村",
        ),
        Column("村民小组", "group_name", Kind.TEXT, max_length=50),
        Column("住址", "address", Kind.TEXT, max_length=200),
        Column("联系电话", "phone", Kind.MOBILE, as_text=True, note="11位手机号"),
    ),
)

MEMBERS = SheetSpec(
    code="members",
    name="家庭成员",
    key="head_id_number",
    note="每人一行(户主本人也要一行，与户主关系填“户主”)；以身份证号识别，性别和出生日期取自身份证号。",
    columns=(
        Column(
            "户主身份证号",
            "head_id_number",
            Kind.ID_NUMBER,
            required=True,
            as_text=True,
            note="该成员所在农户的户主身份证号",
        ),
        Column("姓名", "name", Kind.TEXT, required=True, max_length=50),
        Column("身份证号", "id_number", Kind.ID_NUMBER, required=True, as_text=True, note="18位"),
        Column(
            "与户主关系",
            "relation",
            Kind.CHOICE,
            required=True,
            choices=RELATIONS,
            labels=tuple(label for _, label in Member.Relation.choices),
            note="、".join(label for _, label in Member.Relation.choices),
        ),
        Column(
            "文化程度",
            "education",
            Kind.CHOICE,
            choices=EDUCATION,
            labels=tuple(label for _, label in Member.Education.choices),
            note="、".join(label for _, label in Member.Education.choices),
        ),
        Column("职业", "occupation", Kind.TEXT, max_length=50),
        Column(
            "健康状况",
            "health",
            Kind.CHOICE,
            choices=HEALTH,
            labels=tuple(label for _, label in Member.Health.choices),
            note="、".join(label for _, label in Member.Health.choices),
        ),
        Column("手机号", "phone", Kind.MOBILE, as_text=True, note="11位手机号"),
    ),
)

ARCHIVES = SheetSpec(
    code="archives",
    name="经济档案",
    key="head_id_number",
    note="每户每个调查日期一行；同一户同一调查日期再次导入即更新该档案。金额单位为元。",
    columns=(
        HEAD_ID,
        Column(
            "调查日期",
            "survey_date",
            Kind.DATE,
            required=True,
            sql_type="date",
            note="如 2026-03-15",
        ),
        _land("承包地(亩)", "land_contracted_mu"),
        _land("流转土地(亩)", "land_leased_mu"),
        Column(
            "存栏合计(头/只)",
            "livestock_heads",
            Kind.INTEGER,
            maximum=MAX_LIVESTOCK_HEADS,
            sql_type="numeric(12,0)",  # staged as written ("40.0" from Excel), stored as integer
            note="整数",
        ),
        _money("养殖估值(元)", "livestock_value"),
        _money("农机估值(元)", "machinery_value"),
        Column(
            "房屋结构",
            "housing_structure",
            Kind.CHOICE,
            choices=HOUSING,
            labels=tuple(label for _, label in EconomicArchive.HousingStructure.choices),
            note="、".join(label for _, label in EconomicArchive.HousingStructure.choices),
        ),
        Column(
            "房屋面积(㎡)",
            "housing_area_m2",
            Kind.DECIMAL,
            maximum=MAX_AREA_M2,
            sql_type="numeric(10,2)",
            note=f"平方米，0～{MAX_AREA_M2}",
        ),
        _money("房屋估值(元)", "housing_value"),
        _money("车辆估值(元)", "vehicle_value"),
        _money("存款(元)", "deposits"),
        _money("种植收入(元/年)", "income_crops"),
        _money("养殖收入(元/年)", "income_livestock"),
        _money("务工收入(元/年)", "income_wages"),
        _money("经营收入(元/年)", "income_business"),
        _money("补贴收入(元/年)", "income_subsidies"),
        _money("其他收入(元/年)", "income_other"),
        _money("家庭支出(元/年)", "annual_expenses"),
        _money("负债合计(元)", "debt_total"),
        _money("政府补贴(元/年)", "subsidies_annual"),
        _flag("参加社保", "has_social_security"),
        _flag("参加新农合", "has_rural_medical_insurance"),
        _flag("个体工商户", "has_business"),
        Column(
            "经营行业",
            "business_industry",
            Kind.CHOICE,
            choices=INDUSTRIES,
            labels=tuple(label for _, label in EconomicArchive.Industry.choices),
            note="、".join(label for _, label in EconomicArchive.Industry.choices),
        ),
        _money("经营流水(元/年)", "business_revenue"),
        Column("经营场所", "business_premises", Kind.TEXT, max_length=200),
        Column(
            "雇工人数",
            "business_employees",
            Kind.INTEGER,
            maximum=MAX_EMPLOYEES,
            sql_type="numeric(12,0)",
            note="整数",
        ),
    ),
)

SHEETS = (HOUSEHOLDS, MEMBERS, ARCHIVES)
NOTES_SHEET = "说明"
