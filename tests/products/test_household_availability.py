"""What a household may apply for, asked by household: bank, segment and head's age are read
from the household, within what the user may see."""

from __future__ import annotations

import datetime
import itertools
import uuid
from decimal import Decimal

import pytest

from common.clock import business_today
from products.models import CustomerSegment
from products.selectors import household_applicant

pytestmark = pytest.mark.urls("tests.products.urls")

AVAILABLE = "/api/v1/products/available/"
FARMER, BUSINESS = CustomerSegment.FARMER.value, CustomerSegment.INDIVIDUAL_BUSINESS.value


def codes(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [item["product"]["code"] for item in response.data]


@pytest.fixture
def catalogue(province, make_product):
    make_product("FED-FARM", channels=["pad", "wechat"], segments=[FARMER])
    make_product("FED-BIZ", channels=["pad"], segments=[BUSINESS])
    make_product("FED-YOUNG", channels=["pad"], segments=[FARMER, BUSINESS], age_max=35)
    make_product("YD-OWN", owner=province["bank1"], channels=["pad"], segments=[FARMER, BUSINESS])
    make_product("XF-OWN", owner=province["bank2"], channels=["pad"], segments=[FARMER])
    return province


@pytest.fixture
def bank_villages(province):
    """Two villages of bank 1 (branch B02, served by b1_am2; branch B03, served by nobody) and
    one village of bank 2."""
    from org.models import Institution, Staff
    from villages.services import division_create, village_assign, village_create

    tree: dict[str, object] = {}
    for code, name, level, parent in [
        ("140000000000", "山西省", 1, None),
        ("141000000000", "临汾市", 2, "140000000000"),
        ("141002000000", "尧都区", 3, "141000000000"),
        ("141023000000", "襄汾县", 3, "141000000000"),
        ("141002101000", "魏村镇", 4, "141002000000"),
        ("141023101000", "新城镇", 4, "141023000000"),
        ("141002101201", "北杜村", 5, "141002101000"),
        ("141002101202", "魏村", 5, "141002101000"),
        ("141023101201", "陶寺村", 5, "141023101000"),
    ]:
        tree[code] = division_create(
            code=code, name=name, level=level, parent=tree[parent] if parent else None
        )

    def village(code: str, branch_code: str):
        return village_create(division=tree[code], branch=Institution.objects.get(code=branch_code))

    served = village("141002101201", "SXRCU-YD-B02")
    village_assign(village=served, account_manager=Staff.objects.get(user__username="b1_am2"))
    return {
        "served": served,
        "unserved": village("141002101202", "SXRCU-YD-B03"),
        "bank2": village("141023101201", "SXRCU-XF-B01"),
    }


_id_sequence = itertools.count(1)  # distinct ID numbers within a bank


def make_household(village, *, head_age: int | None = 40, archives=()):
    """A household in ``village``; its head is ``head_age`` on today's business date (``None``:
    only a spouse is registered); ``archives`` are ``(days_ago, has_business)`` surveys."""
    from villages.demo import make_id_number
    from villages.services import archive_upsert, household_upsert, member_upsert

    household, _ = household_upsert(household_id=uuid.uuid4(), village=village, actor=None)
    today = business_today()
    county = village.division.code[:6]
    # Born on 1 January: exactly ``age`` years old on any day of this year.
    relation, age = ("head", head_age) if head_age is not None else ("spouse", 40)
    member_upsert(
        member_id=uuid.uuid4(),
        household=household,
        name="王建军",
        id_number=make_id_number(
            county, datetime.date(today.year - age, 1, 1), next(_id_sequence), True
        ),
        relation=relation,
    )
    for days_ago, has_business in archives:
        archive_upsert(
            archive_id=uuid.uuid4(),
            household=household,
            survey_date=today - datetime.timedelta(days=days_ago),
            surveyed_by=None,
            figures={
                "has_business": has_business,
                "business_industry": "retail" if has_business else "",
                "income_business": Decimal("80000") if has_business else Decimal("0"),
            },
        )
    return household


@pytest.fixture
def households(catalogue, bank_villages):
    return {
        "farmer": make_household(bank_villages["served"], head_age=40, archives=[(30, False)]),
        "business": make_household(bank_villages["served"], head_age=30, archives=[(30, True)]),
        "unserved": make_household(bank_villages["unserved"], archives=[(30, False)]),
        "bank2": make_household(bank_villages["bank2"], archives=[(30, False)]),
        "headless": make_household(bank_villages["served"], head_age=None, archives=[(30, False)]),
    }


# --- Reading a household --------------------------------------------------------------------


def test_segment_comes_from_the_latest_archive(
    households, bank_villages, django_assert_num_queries
):
    from villages.models import Household

    stopped_business = make_household(bank_villages["served"], archives=[(400, True), (30, False)])
    started_business = make_household(bank_villages["served"], archives=[(400, False), (30, True)])
    never_surveyed = make_household(bank_villages["served"], head_age=52)

    def applicant(household):
        household = Household.objects.select_related("head").get(pk=household.pk)
        with django_assert_num_queries(1):  # the archive; the head came with the household
            return household_applicant(household)

    assert applicant(stopped_business).segment == FARMER
    assert applicant(started_business).segment == BUSINESS
    assert applicant(never_surveyed).segment == FARMER
    assert applicant(never_surveyed).age == 52
    business = applicant(households["business"])
    assert (business.bank_id, business.segment, business.age) == (
        households["business"].bank_id,
        BUSINESS,
        30,
    )


# --- The API --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "segment", "age"), [("farmer", FARMER, 40), ("business", BUSINESS, 30)]
)
def test_household_form_answers_like_the_equivalent_plain_query(
    households, login_as, name, segment, age
):
    client = login_as("b1_admin")
    by_household = client.get(AVAILABLE, {"channel": "pad", "household": households[name].pk})
    plain = client.get(AVAILABLE, {"channel": "pad", "segment": segment, "age": age})
    assert codes(by_household) == codes(plain)
    assert by_household.data == plain.data


def test_a_business_household_sees_individual_business_products(households, login_as):
    client = login_as("b1_am2")
    business = client.get(AVAILABLE, {"channel": "pad", "household": households["business"].pk})
    farmer = client.get(AVAILABLE, {"channel": "pad", "household": households["farmer"].pk})
    # The 30-year-old business head is also young enough for FED-YOUNG (up to 35); the
    # 40-year-old farmer is not.
    assert codes(business) == ["FED-BIZ", "FED-YOUNG", "YD-OWN"]
    assert codes(farmer) == ["FED-FARM", "YD-OWN"]


def test_the_bank_is_the_households(households, login_as):
    # Federation staff name no bank: the household's bank decides, own products included.
    client = login_as("fed_admin")
    assert codes(
        client.get(AVAILABLE, {"channel": "pad", "household": households["bank2"].pk})
    ) == [
        "FED-FARM",
        "XF-OWN",
    ]
    assert codes(
        login_as("b2_admin").get(AVAILABLE, {"channel": "pad", "household": households["bank2"].pk})
    ) == ["FED-FARM", "XF-OWN"]


def assert_not_found(response):
    assert response.status_code == 404
    assert response.data == {"code": "not_found", "message": "未找到该记录", "fields": {}}


def test_another_banks_household_is_not_found(households, login_as):
    foreign = households["bank2"].pk
    assert_not_found(login_as("b1_admin").get(AVAILABLE, {"channel": "pad", "household": foreign}))
    assert_not_found(login_as("b1_am2").get(AVAILABLE, {"channel": "pad", "household": foreign}))
    # Indistinguishable from a household that does not exist at all.
    assert_not_found(
        login_as("b1_admin").get(AVAILABLE, {"channel": "pad", "household": uuid.uuid4()})
    )


def test_an_account_managers_unassigned_household_is_not_found(households, login_as):
    client = login_as("b1_am2")
    assert codes(client.get(AVAILABLE, {"channel": "pad", "household": households["farmer"].pk}))
    unserved = {"channel": "pad", "household": households["unserved"].pk}
    assert_not_found(client.get(AVAILABLE, unserved))
    assert_not_found(login_as("b1_am3").get(AVAILABLE, unserved))
    # Bank-wide staff see every village of their bank.
    assert codes(login_as("b1_admin").get(AVAILABLE, unserved)) == ["FED-FARM", "YD-OWN"]


def test_a_household_without_a_head_is_refused_naming_the_field(households, login_as):
    response = login_as("b1_am2").get(
        AVAILABLE, {"channel": "pad", "household": households["headless"].pk}
    )
    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert response.data["fields"] == {"household": ["该农户尚未登记户主，无法按户主年龄匹配产品"]}


def test_household_input_errors_name_the_field(households, login_as):
    client = login_as("b1_admin")
    household = households["farmer"].pk

    mixed = client.get(AVAILABLE, {"channel": "pad", "household": household, "age": 40, "bank": 1})
    assert mixed.status_code == 400
    assert set(mixed.data["fields"]) == {"age", "bank"}

    no_channel = client.get(AVAILABLE, {"household": household})
    assert no_channel.status_code == 400
    assert set(no_channel.data["fields"]) == {"channel"}

    not_a_uuid = client.get(AVAILABLE, {"channel": "pad", "household": "42"})
    assert not_a_uuid.status_code == 400
    assert set(not_a_uuid.data["fields"]) == {"household"}

    # Without a household, segment and age are required again.
    plain = client.get(AVAILABLE, {"channel": "pad"})
    assert plain.status_code == 400
    assert set(plain.data["fields"]) == {"segment", "age"}


def test_household_form_query_count_is_constant(
    households, login_as, make_product, django_assert_num_queries
):
    client = login_as("b1_am2")
    farmer = {"channel": "pad", "household": households["farmer"].pk}
    business = {"channel": "pad", "household": households["business"].pk}
    client.get(AVAILABLE, farmer)  # warm up per-user caches (the tenancy scope)
    # household + head, latest archive, candidate products, their versions in force
    with django_assert_num_queries(4):
        assert len(codes(client.get(AVAILABLE, farmer))) == 2
    for n in range(5):
        make_product(f"MORE-{n}", channels=["pad"], segments=[FARMER, BUSINESS])
    with django_assert_num_queries(4):
        assert len(codes(client.get(AVAILABLE, farmer))) == 7
    with django_assert_num_queries(4):
        assert len(codes(client.get(AVAILABLE, business))) == 8
