import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from org.models import Staff
from villages import figures
from villages.models import Division, EconomicArchive, VillageAssignment
from villages.services import division_create, village_assign, village_unassign


@pytest.mark.parametrize(
    ("code", "level", "parent_code", "message"),
    [
        ("14000000000", 1, None, "12位数字"),
        ("1400000000AB", 1, None, "12位数字"),
        ("140100000000", 1, None, "第3位之后应全为0"),
        ("151000000000", 2, "140000000000", "应以上级区划代码 14 开头"),
        ("141000000000", 3, "140000000000", "上级区划应为市级"),
    ],
)
def test_division_code_rules(db, code, level, parent_code, message):
    parent = division_create(code="140000000000", name="山西省", level=1) if parent_code else None
    with pytest.raises(ValidationError) as error:
        division_create(code=code, name="x", level=level, parent=parent)
    assert any(message in text for text in error.value.message_dict["code"])
    assert Division.objects.filter(code=code).count() == 0


def test_assignment_history_and_tenancy_hook(villages, login_as):
    village = villages["v1"]
    manager = Staff.objects.get(user__username="b1_am1")
    village_assign(village=village, account_manager=manager)
    assert [
        row["name"] for row in login_as("b1_am1").get("/api/v1/villages/").json()["results"]
    ] == ["北杜村"]

    village_unassign(village=village, account_manager=manager)

    assert login_as("b1_am1").get("/api/v1/villages/").json()["results"] == []
    history = VillageAssignment.objects.filter(village=village, account_manager=manager)
    assert history.count() == 1
    assert history.get().ended_at is not None


def test_cannot_assign_other_banks_manager(villages):
    with pytest.raises(ValidationError) as error:
        village_assign(
            village=villages["v1"], account_manager=Staff.objects.get(user__username="b2_am1")
        )
    assert "account_manager" in error.value.message_dict


def test_figures_python_and_sql_agree(villages):
    household = villages["v1_households"][0]
    archive = EconomicArchive.objects.get(household=household)
    archive.income_wages = Decimal("36000.00")
    archive.annual_expenses = Decimal("20000.50")
    archive.housing_value = Decimal("200000")
    archive.debt_total = Decimal("51234.56")
    archive.save()

    annotated = EconomicArchive.objects.annotate(**figures.figure_annotations()).get(pk=archive.pk)
    archive.refresh_from_db()
    assert figures.net_income(archive) == annotated.net_income == Decimal("45999.50")
    assert figures.total_assets(archive) == annotated.total_assets == Decimal("205000.00")
    assert figures.debt_ratio(archive) == annotated.debt_ratio == Decimal("0.2499")


def test_debt_ratio_without_assets_is_none(villages):
    archive = EconomicArchive(survey_date=datetime.date(2026, 1, 1), debt_total=Decimal("100"))
    assert figures.debt_ratio(archive) is None
