"""Deciding one application: each outcome with its named reasons, stored immutably, and replayed
to the identical result from the snapshot and the versions it names."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import InternalError

from risk.decisions.models import Decision, DecisionKind
from risk.decisions.replay import decision_replay
from risk.decisions.services import (
    decision_make,
    decision_what_if,
    strategy_create,
    strategy_version_activate,
    strategy_version_submit,
)

# A flow without external data: lists → scorecard → limit → pricing → outcome.
LOCAL_FLOW = {
    "start": "lists",
    "nodes": [
        {"id": "lists", "kind": "lists", "next": "card"},
        {
            "id": "card",
            "kind": "scorecard",
            "reject_grades": ["C"],
            "refer_grades": [],
            "next": "limit",
        },
        {"id": "limit", "kind": "limit", "model": None, "next": "pricing"},
        {"id": "pricing", "kind": "pricing", "model": None, "next": "end"},
        {"id": "end", "kind": "outcome"},
    ],
}


@pytest.fixture
def local_flow(world):
    users = {name: s.user for name, s in world["staff"].items()}
    draft = strategy_create(
        actor=users["fed_admin"],
        code="LOCAL_FLOW",
        name="本地数据决策流",
        definition=LOCAL_FLOW,
        products=[world["product"]],
        is_default=False,
    )
    strategy_version_submit(version=draft, actor=users["fed_admin"])
    return strategy_version_activate(version=draft, actor=users["fed_modeller"])


def _replays(decision):
    result = decision_replay(Decision.objects.get(pk=decision.pk))
    assert result.identical, (result.differences, result.stored, result.replayed)


def test_a_decision_is_stored_with_versions_and_snapshot_and_replays(world, local_flow):
    household = world["v1_households"][0]
    actor = world["staff"]["b1_am2"].user
    decision = decision_make(household=household, product=world["product"], actor=actor)
    assert decision.outcome in ("approve", "refer", "reject")
    assert decision.strategy_version_id == local_flow.pk
    assert decision.scorecard_id == world["cards"]["farmer"].pk
    assert decision.grade
    assert decision.member_id == household.head_id
    assert decision.decided_by == actor
    assert decision.limit_model_version_id
    assert decision.pricing_model_version_id
    assert len(bytes(decision.inputs)) == 8 * len(decision.layout.names)
    _replays(decision)


def test_no_archive_is_referred_with_the_reason_named(world, local_flow):
    from villages.demo import make_id_number
    from villages.services import household_upsert, member_upsert

    village = world["v1"]
    staff = world["staff"]["b1_am2"]
    household, _ = household_upsert(
        household_id=uuid.uuid4(), village=village, actor=staff, address="无档案户"
    )
    member_upsert(
        member_id=uuid.uuid4(),
        household=household,
        name="无档案",
        id_number=make_id_number("141002", datetime.date(1980, 5, 1), 901, True),
        relation="head",
    )
    household.refresh_from_db()
    decision = decision_make(household=household, product=world["product"], actor=staff.user)
    assert decision.outcome == "refer"
    assert decision.primary_reason == "SUBJECT_NO_ARCHIVE"
    assert decision.outcome != "approve"
    _replays(decision)


def test_a_household_without_a_head_is_rejected(world, local_flow):
    from villages.services import household_upsert

    staff = world["staff"]["b1_am2"]
    household, _ = household_upsert(
        household_id=uuid.uuid4(), village=world["v1"], actor=staff, address="空户"
    )
    decision = decision_make(household=household, product=world["product"], actor=staff.user)
    assert decision.outcome == "reject"
    assert decision.primary_reason == "SUBJECT_NO_HEAD"
    _replays(decision)


def test_a_prohibit_list_entry_rejects_and_an_expired_one_is_ignored(world, local_flow):
    from risk.lists.models import RiskListEntry

    household = world["v1_households"][1]
    head = household.head
    bank = world["province"]["bank1"]
    from common.clock import business_today

    today = business_today()
    RiskListEntry.objects.create(
        owner=bank,
        id_number=head.id_number,
        level="prohibit",
        source="court",
        reason="测试",
        rule="COURT_SYNC",
        status="active",
        valid_from=today - datetime.timedelta(days=400),
        valid_until=today - datetime.timedelta(days=1),
    )
    before = decision_make(household=household, product=world["product"])
    assert "LIST_PROHIBIT" not in before.reason_codes
    RiskListEntry.objects.create(
        owner=bank,
        id_number=head.id_number,
        level="prohibit",
        source="manual",
        reason="测试",
        status="active",
        valid_from=today - datetime.timedelta(days=1),
    )
    decision = decision_make(household=household, product=world["product"])
    assert decision.outcome == "reject"
    assert decision.primary_reason == "LIST_PROHIBIT"
    assert decision.reason_source == "list"
    _replays(decision)


def test_requested_above_the_limit_is_referred_with_approval_levels(world, local_flow):
    household = world["v1_households"][2]
    decision = decision_make(
        household=household, product=world["product"], requested_amount=Decimal("290000")
    )
    assert decision.outcome in ("refer", "reject")
    if decision.outcome == "refer":
        assert decision.approval_levels
        assert decision.approval_levels[0] == "branch"
    _replays(decision)


def test_a_what_if_is_stored_but_never_used_for_a_line(world, local_flow):
    household = world["v1_households"][0]
    decision = decision_what_if(
        household=household, product=world["product"], actor=world["staff"]["b1_am2"].user
    )
    assert decision.kind == DecisionKind.WHAT_IF
    assert not Decision.objects.for_lines().filter(pk=decision.pk).exists()


def test_a_stored_decision_cannot_be_changed_or_deleted(world, local_flow):
    decision = decision_make(household=world["v1_households"][0], product=world["product"])
    for statement in (
        "UPDATE risk_decision SET outcome = 'approve' WHERE id = %s",
        "DELETE FROM risk_decision WHERE id = %s",
    ):
        with pytest.raises(InternalError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [decision.pk])


def test_bad_requested_amount_is_refused_and_nothing_written(world, local_flow):
    count = Decision.objects.count()
    with pytest.raises(ValidationError) as exc:
        decision_make(
            household=world["v1_households"][0],
            product=world["product"],
            requested_amount=Decimal("-5"),
        )
    assert "requested_amount" in exc.value.message_dict
    assert Decision.objects.count() == count
