"""Every outcome, and the bad inputs of the issue, through the real services: each stored
decision names its reasons and replays to the identical result."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest

from common.clock import business_today
from risk.decisions.models import Decision
from risk.decisions.replay import decision_replay
from risk.decisions.services import decision_make
from tests.risk.decisions.test_decide import local_flow  # noqa: F401
from villages.models import Member


def _household(world, *, figures, birth=datetime.date(1980, 5, 1), sequence=700):
    from villages.demo import make_id_number
    from villages.services import archive_upsert, household_upsert, member_upsert

    staff = world["staff"]["b1_am2"]
    household, _ = household_upsert(
        household_id=uuid.uuid4(), village=world["v1"], actor=staff, address=f"测试{sequence}号"
    )
    member_upsert(
        member_id=uuid.uuid4(),
        household=household,
        name=f"户主{sequence}",
        id_number=make_id_number("141002", birth, sequence, True),
        relation="head",
    )
    archive_upsert(
        archive_id=uuid.uuid4(),
        household=household,
        survey_date=business_today() - datetime.timedelta(days=30),
        surveyed_by=staff,
        figures=figures,
    )
    household.refresh_from_db()
    return household


WELL_OFF = {
    "land_contracted_mu": "20",
    "income_crops": "90000",
    "income_wages": "60000",
    "annual_expenses": "30000",
    "housing_value": "400000",
    "machinery_value": "80000",
    "deposits": "120000",
}


def _replays(decision):
    result = decision_replay(Decision.objects.get(pk=decision.pk))
    assert result.identical, result.differences


def test_each_outcome_is_stored_with_its_reasons_and_replays(world, local_flow):  # noqa: F811
    household = _household(world, figures=WELL_OFF)
    product = world["product"]
    small = decision_make(household=household, product=product, requested_amount=Decimal("20000"))
    assert small.grade
    outcomes = {small.outcome}
    if small.outcome == "approve":
        assert small.reason_codes == [] or all(
            not c.startswith("SUBJECT") for c in small.reason_codes
        )
        assert small.rate is not None
        assert small.limit_amount >= Decimal("20000")
    large = decision_make(household=household, product=product, requested_amount=Decimal("290000"))
    outcomes.add(large.outcome)
    assert large.outcome != "approve"
    assert {"REQUESTED_OVER_LIMIT", "OVER_AUTO_APPROVE"} & set(large.reason_codes)
    assert large.approval_levels
    no_head = decision_make(household=_headless(world), product=product)
    outcomes.add(no_head.outcome)
    assert outcomes == {"approve", "refer", "reject"}
    for decision in (small, large, no_head):
        _replays(decision)


def _headless(world):
    from villages.services import household_upsert

    household, _ = household_upsert(
        household_id=uuid.uuid4(),
        village=world["v1"],
        actor=world["staff"]["b1_am2"],
        address="空户",
    )
    return household


def test_a_negative_income_is_referred_by_the_limit_formula(world, local_flow):  # noqa: F811
    household = _household(world, figures={**WELL_OFF, "annual_expenses": "400000"}, sequence=701)
    decision = decision_make(household=household, product=world["product"])
    assert decision.outcome in ("refer", "reject")
    assert decision.outcome != "approve"
    _replays(decision)


def test_a_head_with_an_invalid_id_number_is_rejected(world, local_flow):  # noqa: F811
    household = _household(world, figures=WELL_OFF, sequence=702)
    number = household.head.id_number
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")  # the checksum no longer holds
    Member.objects.filter(pk=household.head_id).update(id_number=wrong)
    household = type(household).objects.select_related("head", "village").get(pk=household.pk)
    decision = decision_make(household=household, product=world["product"])
    assert decision.outcome == "reject"
    assert decision.primary_reason == "SUBJECT_ID_INVALID"
    _replays(decision)


def test_a_list_entry_starting_tomorrow_does_not_apply_yet(world, local_flow):  # noqa: F811
    from risk.lists.models import RiskListEntry

    household = _household(world, figures=WELL_OFF, sequence=703)
    RiskListEntry.objects.create(
        owner=world["province"]["bank1"],
        id_number=household.head.id_number,
        level="prohibit",
        source="manual",
        reason="测试",
        status="active",
        valid_from=business_today() + datetime.timedelta(days=1),
    )
    decision = decision_make(household=household, product=world["product"])
    assert "LIST_PROHIBIT" not in decision.reason_codes
    assert decision.list_level == 0


def test_replay_survives_the_product_version_being_superseded(world, local_flow):  # noqa: F811
    from tests.products.conftest import new_version

    household = _household(world, figures=WELL_OFF, sequence=704)
    decision = decision_make(
        household=household, product=world["product"], requested_amount=Decimal("20000")
    )
    users = {name: s.user for name, s in world["staff"].items()}
    from products.demo import _federation_checker

    _federation_checker()
    from django.contrib.auth import get_user_model

    checker = get_user_model().objects.get(username="fed_checker")
    new_version(world["product"], users["fed_admin"], checker, grace_days=5)
    decision.product_version.refresh_from_db()
    assert decision.product_version.status != "active"
    _replays(decision)


@pytest.mark.parametrize("amount", ["0", "-1", "NaN"])
def test_bad_amounts_are_refused_naming_the_field(world, local_flow, amount):  # noqa: F811
    from django.core.exceptions import ValidationError

    before = Decision.objects.count()
    with pytest.raises(ValidationError) as exc:
        decision_make(
            household=world["v1_households"][0], product=world["product"], requested_amount=amount
        )
    assert "requested_amount" in exc.value.message_dict
    assert Decision.objects.count() == before
