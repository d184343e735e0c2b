from __future__ import annotations

import pytest
from rest_framework.test import APIClient


def pytest_configure(config):
    from django.conf import settings

    # Password hashing is deliberately slow; tests create dozens of logins.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def province(db):
    """The demo province's organisation: federation, two banks, branches, staff for every role."""
    from org.demo import seed_org
    from org.models import Institution

    seed_org()
    return {
        "federation": Institution.objects.get(code="SXRCU"),
        "bank1": Institution.objects.get(code="SXRCU-YD"),
        "bank2": Institution.objects.get(code="SXRCU-XF"),
    }


@pytest.fixture
def login_as(province):
    """``login_as("b1_admin")`` → an APIClient authenticated as that demo user."""
    from django.contrib.auth import get_user_model

    def make(username: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(get_user_model().objects.get(username=username))
        return client

    return make


@pytest.fixture
def villages(province):
    """Two small villages, one per demo bank, each with three households (head, spouse, child)
    and an archive. b1_am2 serves the first bank's village; b2_am1 the second's."""
    import datetime
    import uuid
    from decimal import Decimal

    from org.models import Institution, Staff
    from villages.demo import make_id_number
    from villages.models import Division
    from villages.services import (
        archive_upsert,
        division_create,
        household_upsert,
        member_upsert,
        village_assign,
        village_create,
    )

    province_div = division_create(code="140000000000", name="山西省", level=1)
    city = division_create(code="141000000000", name="临汾市", level=2, parent=province_div)
    county = division_create(code="141002000000", name="尧都区", level=3, parent=city)
    township = division_create(code="141002101000", name="魏村镇", level=4, parent=county)
    result = {}
    for key, code, name, branch_code, manager in [
        ("v1", "141002101201", "北杜村", "SXRCU-YD-B02", "b1_am2"),
        ("v2", "141002101202", "魏村", "SXRCU-XF-B01", "b2_am1"),
    ]:
        division = division_create(
            code=code, name=name, level=Division.Level.VILLAGE, parent=township
        )
        village = village_create(
            division=division, branch=Institution.objects.get(code=branch_code)
        )
        staff = Staff.objects.get(user__username=manager)
        village_assign(village=village, account_manager=staff)
        households = []
        for n in range(3):
            household, _ = household_upsert(
                household_id=uuid.uuid4(),
                village=village,
                actor=staff,
                group_name="第一组",
                address=f"{name}{n + 1}号",
                phone="13912345678",
            )
            seq = 100 * (1 if key == "v1" else 2) + n * 10
            for relation, age, male in [
                ("head", 45, True),
                ("spouse", 43, False),
                ("child", 19, n % 2 == 0),
            ]:
                seq += 1
                member_upsert(
                    member_id=uuid.uuid4(),
                    household=household,
                    name=f"{name}{relation}{n}",
                    id_number=make_id_number("141002", datetime.date(2026 - age, 3, 15), seq, male),
                    relation=relation,
                )
            archive_upsert(
                archive_id=uuid.uuid4(),
                household=household,
                survey_date=datetime.date(2026, 10, 1),
                surveyed_by=staff,
                figures={
                    "land_contracted_mu": "12.5",
                    "income_crops": "30000",
                    "deposits": Decimal("5000"),
                },
            )
            households.append(household)
        result[key] = village
        result[f"{key}_households"] = households
    return result
