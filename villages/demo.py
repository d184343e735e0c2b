"""Demo villages: divisions, villages with households, members and archives, assigned account
managers, an in-progress campaign per village and one closed peer review round.

Deterministic (seeded) and idempotent: rows are looked up by natural keys or by UUIDs derived
from those keys, so a second run changes nothing.
"""

from __future__ import annotations

import datetime
import random
import uuid
from decimal import Decimal

from stdnum.cn import ric

from common.clock import business_today
from org.demo import DEMO_PASSWORD, DemoLogin
from org.models import Institution, Staff
from villages.models import Campaign, Division, ListColour, Member, PeerReviewRound, Village
from villages.services import (
    archive_upsert,
    campaign_create,
    campaign_transition,
    division_create,
    household_upsert,
    member_upsert,
    peer_review_evaluator_add,
    peer_review_round_close,
    peer_review_round_open,
    peer_review_vote_cast,
    village_assign,
    village_create,
)

_NAMESPACE = uuid.UUID("5b1f3c2e-8f0a-4c1e-9a57-1d2c3b4a5f60")

# (code, name, level, parent code)
DIVISIONS = [
    ("140000000000", "山西省", 1, None),
    ("141000000000", "临汾市", 2, "140000000000"),
    ("141002000000", "尧都区", 3, "141000000000"),
    ("141023000000", "襄汾县", 3, "141000000000"),
    ("141002101000", "魏村镇", 4, "141002000000"),
    ("141002102000", "屯里镇", 4, "141002000000"),
    ("141002103000", "县底镇", 4, "141002000000"),
    ("141023101000", "新城镇", 4, "141023000000"),
    ("141023102000", "汾城镇", 4, "141023000000"),
    ("141002101201", "北杜村", 5, "141002101000"),
    ("141002101202", "魏村", 5, "141002101000"),
    ("141002102203", "屯里村", 5, "141002102000"),
    ("141002103204", "县底村", 5, "141002103000"),
    ("141023101201", "陶寺村", 5, "141023101000"),
    ("141023102202", "汾城村", 5, "141023102000"),
]
# village code → (branch code, account manager username)
VILLAGES = {
    "141002101201": ("SXRCU-YD-B02", "b1_am2"),
    "141002101202": ("SXRCU-YD-B02", "b1_am2"),
    "141002102203": ("SXRCU-YD-B03", "b1_am3"),
    "141002103204": ("SXRCU-YD-B04", "b1_am4"),
    "141023101201": ("SXRCU-XF-B01", "b2_am1"),
    "141023102202": ("SXRCU-XF-B02", "b2_am2"),
}
REVIEWED_VILLAGE = "141002101201"
HOUSEHOLDS_PER_VILLAGE = 24
SURVEY_DATE = datetime.date(2026, 10, 15)

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_MALE = ["建军", "国强", "志刚", "卫东", "保平", "红星", "金生", "海龙", "永福", "天宝", "小军"]
_FEMALE = ["秀兰", "桂英", "玉梅", "淑芬", "春燕", "丽华", "翠花", "金凤", "彩霞", "小红"]
_CROPS = ["小麦", "玉米", "苹果", "梨", "蔬菜大棚", "谷子"]
_LIVESTOCK = ["生猪", "肉牛", "羊", "蛋鸡"]
_MOBILE_PREFIXES = [
    "138",
    "139",
    "135",
    "136",
    "150",
    "151",
    "186",
    "187",
    "133",
    "153",
    "180",
    "189",
]


def _uuid(*parts: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(parts))


def make_id_number(county_code: str, birth: datetime.date, sequence: int, male: bool) -> str:
    """A valid GB 11643 number: region, birth date, sequence (odd for men), check digit."""
    sequence = sequence * 2 + (1 if male else 0)
    body = f"{county_code}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # the function ignores the last digit


def _birth(rng: random.Random, age: int) -> datetime.date:
    return datetime.date(2026 - age, rng.randint(1, 12), rng.randint(1, 28))


def _person(rng: random.Random, surname: str, male: bool) -> str:
    return surname + rng.choice(_MALE if male else _FEMALE)


def _seed_divisions() -> dict[str, Division]:
    divisions: dict[str, Division] = {}
    for code, name, level, parent_code in DIVISIONS:
        division = Division.objects.filter(code=code).first()
        if division is None:
            parent = divisions[parent_code] if parent_code else None
            division = division_create(code=code, name=name, level=level, parent=parent)
        divisions[code] = division
    return divisions


def _seed_household(rng: random.Random, village: Village, number: int, manager: Staff) -> None:
    county = village.division.code[:6]
    key = f"{village.division.code}-{number:03d}"
    household, _ = household_upsert(
        household_id=_uuid("household", key),
        village=village,
        actor=manager,
        group_name=f"第{number % 5 + 1}村民小组",
        address=f"{village.name}{number % 5 + 1}组{number}号",
        phone=f"{rng.choice(_MOBILE_PREFIXES)}{rng.randint(10000000, 99999999)}",
    )
    surname = _SURNAMES[(number * 7 + int(village.division.code[-3:])) % len(_SURNAMES)]
    head_male = rng.random() < 0.85
    head_age = rng.randint(28, 66)
    sequence = number * 10
    people = [("head", head_male, head_age, surname)]
    people.append(("spouse", not head_male, head_age + rng.randint(-4, 4), rng.choice(_SURNAMES)))
    for _ in range(rng.randint(0, 2)):
        people.append(
            ("child", rng.random() < 0.5, max(1, head_age - rng.randint(22, 30)), surname)
        )
    if head_age < 50 and rng.random() < 0.4:
        people.append(("parent", rng.random() < 0.5, head_age + rng.randint(24, 30), surname))
    for index, (relation, male, age, family_name) in enumerate(people):
        sequence += 1
        member_upsert(
            member_id=_uuid("member", key, str(index)),
            household=household,
            name=_person(rng, family_name, male),
            id_number=make_id_number(county, _birth(rng, age), sequence, male),
            relation=relation,
            education=rng.choice(list(Member.Education.values)),
            occupation={"head": "务农", "spouse": "务农", "child": "务工", "parent": "务农"}[
                relation
            ],
            health=rng.choice(["good", "good", "good", "fair"]),
        )

    land = Decimal(rng.randint(3, 40))
    crop = rng.choice(_CROPS)
    keeps_livestock = rng.random() < 0.4
    heads = rng.randint(5, 80) if keeps_livestock else 0
    has_business = rng.random() < 0.15
    archive_upsert(
        archive_id=_uuid("archive", key, SURVEY_DATE.isoformat()),
        household=household,
        survey_date=SURVEY_DATE,
        surveyed_by=manager,
        figures={
            "land_contracted_mu": land,
            "land_leased_mu": Decimal(rng.choice([0, 0, 5, 10, 20])),
            "crops": [{"crop": crop, "mu": str(land)}],
            "livestock": [{"kind": rng.choice(_LIVESTOCK), "heads": heads}] if heads else [],
            "livestock_heads": heads,
            "livestock_value": Decimal(heads * rng.randint(400, 1500)),
            "machinery_value": Decimal(rng.choice([0, 8000, 15000, 30000])),
            "housing_structure": rng.choice(
                ["brick_concrete", "brick_concrete", "frame", "brick_wood"]
            ),
            "housing_area_m2": Decimal(rng.randint(80, 260)),
            "housing_value": Decimal(rng.randint(8, 40) * 10000),
            "vehicle_value": Decimal(rng.choice([0, 0, 30000, 60000])),
            "deposits": Decimal(rng.randint(0, 20) * 5000),
            "income_crops": Decimal(int(land) * rng.randint(800, 2500)),
            "income_livestock": Decimal(heads * rng.randint(200, 800)),
            "income_wages": Decimal(rng.choice([0, 20000, 36000, 48000])),
            "income_business": Decimal(rng.randint(40, 200) * 1000) if has_business else Decimal(0),
            "income_subsidies": Decimal(int(land) * 120),
            "annual_expenses": Decimal(rng.randint(15, 45) * 1000),
            "debt_total": Decimal(rng.choice([0, 0, 0, 20000, 50000, 100000])),
            "subsidies_annual": Decimal(int(land) * 120),
            "has_social_security": rng.random() < 0.8,
            "has_rural_medical_insurance": rng.random() < 0.97,
            "has_business": has_business,
            "business_industry": rng.choice(["retail", "agri_trading", "catering"])
            if has_business
            else "",
            "business_revenue": Decimal(rng.randint(100, 800) * 1000)
            if has_business
            else Decimal(0),
        },
    )


DEMO_EVALUATOR_PANEL = [
    ("村党支部书记", "cadre"),
    ("村委会主任", "cadre"),
    ("村民代表甲", "elder"),
    ("村民代表乙", "elder"),
    ("金融村官", "liaison"),
]


def _demo_evaluator_phone(village: Village, number: int) -> str:
    return f"1350357{village.division.code[-3:]}{number}"


def _seed_peer_review(village: Village, opened_by: Staff) -> list[DemoLogin]:
    """A closed round whose results coloured the households, and an open one in which the same
    villagers (``pr_201_1``… , password ``Demo@2026``, or an SMS code to their phone in the
    sandbox outbox) can vote."""
    logins = [
        DemoLogin(f"pr_{village.division.code[-3:]}_{i}", name, village.name, "评议员")
        for i, (name, _) in enumerate(DEMO_EVALUATOR_PANEL, start=1)
    ]
    if not PeerReviewRound.objects.filter(village=village).exists():
        _seed_closed_round(village, opened_by, logins)
    if not PeerReviewRound.objects.open().filter(village=village).exists():
        round = peer_review_round_open(
            village=village,
            title=f"{village.name}2027年度背靠背评议",
            opened_by=opened_by,
            closes_on=business_today() + datetime.timedelta(days=30),
        )
        for number, (login, (_, kind)) in enumerate(
            zip(logins, DEMO_EVALUATOR_PANEL, strict=True), start=1
        ):
            peer_review_evaluator_add(
                round=round,
                name=login.full_name,
                kind=kind,
                phone=_demo_evaluator_phone(village, number),
                username=login.username,
            )
    return logins


def _seed_closed_round(village: Village, opened_by: Staff, logins: list[DemoLogin]) -> None:
    rng = random.Random(f"review-{village.division.code}")
    round = peer_review_round_open(
        village=village, title=f"{village.name}2026年度背靠背评议", opened_by=opened_by
    )
    evaluators = [
        peer_review_evaluator_add(
            round=round,
            name=login.full_name,
            kind=kind,
            phone=_demo_evaluator_phone(village, number),
            username=login.username,
            password=DEMO_PASSWORD,
        )
        for number, (login, (_, kind)) in enumerate(
            zip(logins, DEMO_EVALUATOR_PANEL, strict=True), start=1
        )
    ]
    for household in village.households.order_by("address"):
        # Most households are well thought of; a few are doubted; one or two are known defaulters.
        leaning = rng.choices(
            [ListColour.WHITE, ListColour.GREEN, ListColour.GREY, ListColour.BLACK],
            weights=[25, 60, 10, 5],
        )[0]
        for evaluator in evaluators:
            colour = (
                leaning if rng.random() < 0.8 else rng.choice([ListColour.GREEN, ListColour.GREY])
            )
            peer_review_vote_cast(
                evaluator=evaluator,
                household=household,
                colour=colour,
                reason=""
                if colour in (ListColour.GREEN, ListColour.WHITE)
                else "有逾期记录或赌博传闻",
                suggested_amount=Decimal(rng.choice([30000, 50000, 100000, 150000])),
            )
    # Every evaluator has voted on every household, so the last vote closed the round already.
    round.refresh_from_db()
    if round.status == PeerReviewRound.Status.OPEN:
        peer_review_round_close(round=round, closed_by=opened_by)


def seed_villages() -> list[DemoLogin]:
    divisions = _seed_divisions()
    logins: list[DemoLogin] = []
    for code, (branch_code, manager_username) in VILLAGES.items():
        branch = Institution.objects.get(code=branch_code)
        division = divisions[code]
        village = Village.objects.filter(bank_id=branch.bank_id, division=division).first()
        if village is None:
            village = village_create(division=division, branch=branch)
        manager = Staff.objects.get(user__username=manager_username)
        village_assign(village=village, account_manager=manager)
        if not village.households.exists():
            rng = random.Random(f"village-{code}")
            for number in range(1, HOUSEHOLDS_PER_VILLAGE + 1):
                _seed_household(rng, village, number, manager)
        if not Campaign.objects.filter(village=village).exists():
            campaign = campaign_create(
                village=village,
                name=f"{village.name}整村授信",
                starts_on=datetime.date(2026, 10, 8),
                ends_on=datetime.date(2026, 12, 31),
                lead=manager,
            )
            campaign_transition(campaign=campaign, to_status=Campaign.Status.IN_PROGRESS)
        if code == REVIEWED_VILLAGE:
            logins.extend(_seed_peer_review(village, manager))
    return logins
