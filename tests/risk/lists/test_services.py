"""Maker-checker of manual entries and removals, automatic entries, and what is stored."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from common.clock import business_today
from risk.lists.models import RiskListEntry, RiskListEntryChange
from risk.lists.selectors import risk_list_hits
from risk.lists.services import (
    risk_list_entry_add_automatic,
    risk_list_entry_approve,
    risk_list_entry_propose,
    risk_list_entry_reject,
    risk_list_entry_removal_approve,
    risk_list_entry_removal_propose,
    risk_list_entry_removal_reject,
)
from tests.risk.lists.conftest import outsider_id

pytestmark = pytest.mark.django_db


def _hits(bank, id_number):
    return risk_list_hits(bank_id=bank.pk, id_number=id_number, on_date=business_today())


def test_a_proposal_applies_only_once_someone_else_approves_it(staff, province):
    number = outsider_id(1)
    maker, checker = staff["b1_risk"], staff["b1_risk2"]
    entry = risk_list_entry_propose(
        by=maker.user, id_number=number, level="prohibit", reason="伪造收入证明骗贷"
    )
    assert entry.status == "pending"
    assert entry.owner == province["bank1"]
    assert _hits(province["bank1"], number) == []

    with pytest.raises(ValidationError) as refused:
        risk_list_entry_approve(entry=entry, by=maker.user)
    assert "不能复核自己提议" in str(refused.value)
    entry.refresh_from_db()
    assert entry.status == "pending"

    risk_list_entry_approve(entry=entry, by=checker.user, reason="已核实")
    entry.refresh_from_db()
    assert (entry.status, entry.approved_by, entry.created_by) == ("active", checker, maker)
    assert [hit.level for hit in _hits(province["bank1"], number)] == ["prohibit"]
    log = list(
        RiskListEntryChange.objects.filter(entry=entry).values_list(
            "action", "from_status", "to_status", "actor", "reason"
        )
    )
    assert log == [
        ("propose", "", "pending", maker.pk, "伪造收入证明骗贷"),
        ("approve", "pending", "active", checker.pk, "已核实"),
    ]


def test_a_rejected_proposal_never_applies_and_needs_a_reason(staff, province):
    number = outsider_id(2)
    entry = risk_list_entry_propose(
        by=staff["b1_risk"].user, id_number=number, level="grey", reason="多头借贷"
    )
    with pytest.raises(ValidationError) as refused:
        risk_list_entry_reject(entry=entry, by=staff["b1_risk2"].user, reason=" ")
    assert "驳回意见" in str(refused.value)
    risk_list_entry_reject(entry=entry, by=staff["b1_risk2"].user, reason="证据不足")
    entry.refresh_from_db()
    assert entry.status == "rejected"
    assert _hits(province["bank1"], number) == []
    with pytest.raises(ValidationError):
        risk_list_entry_approve(entry=entry, by=staff["b1_risk2"].user)


def test_removal_goes_through_a_second_person_and_the_entry_applies_until_then(
    staff, province, listed
):
    number = outsider_id(3)
    entry = listed(number)
    maker, checker = staff["b1_risk2"], staff["b1_risk"]
    with pytest.raises(ValidationError) as refused:
        risk_list_entry_removal_propose(entry=entry, by=maker.user, reason="")
    assert "移除原因" in str(refused.value)
    risk_list_entry_removal_propose(entry=entry, by=maker.user, reason="法院已撤销执行")
    assert len(_hits(province["bank1"], number)) == 1  # still applies while pending

    with pytest.raises(ValidationError) as own:
        risk_list_entry_removal_approve(entry=entry, by=maker.user)
    assert "不能复核自己提议" in str(own.value)

    risk_list_entry_removal_reject(entry=entry, by=checker.user, reason="撤销文书未见")
    entry.refresh_from_db()
    assert (entry.status, entry.removal_proposed_by) == ("active", None)

    risk_list_entry_removal_propose(entry=entry, by=maker.user, reason="法院已撤销执行")
    risk_list_entry_removal_approve(entry=entry, by=checker.user)
    entry.refresh_from_db()
    assert (entry.status, entry.removed_by) == ("removed", checker)
    assert _hits(province["bank1"], number) == []
    actions = list(entry.changes.values_list("action", "from_status", "to_status"))
    assert actions[-1] == ("removal_approve", "active", "removed")
    assert ("removal_reject", "active", "active") in actions


def test_bad_input_names_each_field_and_writes_nothing(staff):
    before = RiskListEntry.objects.count(), RiskListEntryChange.objects.count()
    with pytest.raises(ValidationError) as refused:
        risk_list_entry_propose(
            by=staff["b1_risk"].user,
            id_number="14100219800101007X",  # wrong check digit
            phone="1381234abcd",
            level="red",
            reason="",
            valid_from=datetime.date(2026, 5, 1),
            valid_until=datetime.date(2026, 4, 30),
        )
    errors = refused.value.message_dict
    assert set(errors) == {"id_number", "phone", "level", "reason", "valid_until"}
    assert "校验位" in errors["id_number"][0]
    assert (RiskListEntry.objects.count(), RiskListEntryChange.objects.count()) == before


def test_the_same_live_entry_is_not_proposed_twice(staff, listed):
    number = outsider_id(4)
    listed(number, level="restrict")
    with pytest.raises(ValidationError) as refused:
        risk_list_entry_propose(
            by=staff["b1_risk"].user, id_number=number, level="restrict", reason="再次录入"
        )
    assert "无需重复录入" in str(refused.value)
    # Another level for the same person is a separate entry.
    risk_list_entry_propose(by=staff["b1_risk"].user, id_number=number, level="grey", reason="x")


def test_who_may_propose_and_approve_which_entries(staff, province):
    number = outsider_id(5)
    with pytest.raises(PermissionDenied):  # account managers do not maintain lists
        risk_list_entry_propose(
            by=staff["b1_am1"].user, id_number=number, level="grey", reason="疑似中介"
        )
    # A branch reviewer proposes; only a risk officer (another person) approves.
    entry = risk_list_entry_propose(
        by=staff["b1_reviewer1"].user, id_number=number, level="grey", reason="疑似中介"
    )
    with pytest.raises(PermissionDenied):
        risk_list_entry_approve(entry=entry, by=staff["b1_admin"].user)
    with pytest.raises(PermissionDenied):  # another bank's officer
        risk_list_entry_approve(entry=entry, by=staff["b2_risk"].user)
    risk_list_entry_approve(entry=entry, by=staff["b1_risk"].user)

    # Federation entries: federation staff propose and approve them; a bank cannot touch them.
    federal = risk_list_entry_propose(
        by=staff["fed_admin"].user, id_number=outsider_id(6), level="prohibit", reason="电诈涉案"
    )
    assert federal.owner is None
    with pytest.raises(PermissionDenied):
        risk_list_entry_approve(entry=federal, by=staff["b1_risk"].user)
    risk_list_entry_approve(entry=federal, by=staff["fed_modeller"].user)
    with pytest.raises(PermissionDenied):
        risk_list_entry_removal_propose(entry=federal, by=staff["b1_risk"].user, reason="x")
    with pytest.raises(PermissionDenied):  # federation staff do not write a bank's entries
        risk_list_entry_propose(
            by=staff["fed_admin"].user,
            owner=province["bank1"],
            id_number=outsider_id(7),
            level="grey",
            reason="x",
        )


def test_no_id_number_or_phone_is_stored_in_clear(staff, listed):
    number, phone = outsider_id(8), "13912340001"
    entry = listed(number, phone=phone, device_id="pad-7f3a")
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM risk_risklistentry t WHERE id = %s", [entry.pk])
        (row,) = cursor.fetchone()
        cursor.execute(
            "SELECT string_agg(t::text, '') FROM risk_risklistentryevent t WHERE pgh_obj_id = %s",
            [entry.pk],
        )
        (events,) = cursor.fetchone()
    for text in (row, events):
        assert number not in text
        assert number[:-1] not in text
        assert phone not in text
    assert "pad-7f3a" in row  # the device id is kept in plain text, by design
    entry = RiskListEntry.objects.get(pk=entry.pk)
    assert (entry.id_number, entry.phone) == (number, phone)


def test_automatic_entries_skip_the_checker_and_are_idempotent(staff, province):
    number = outsider_id(9)
    entry, created = risk_list_entry_add_automatic(
        source="court",
        rule="court_dishonest_debtor",
        source_ref="(2026)晋1002执123号",
        id_number=number,
        level="prohibit",
        reason="失信被执行人",
        owner=province["bank1"],
    )
    assert created
    assert entry.status == "active"
    assert entry.created_by is None
    assert entry.changes.get().action == "auto_add"
    again, created = risk_list_entry_add_automatic(
        source="court",
        rule="court_dishonest_debtor",
        source_ref="(2026)晋1002执123号",
        id_number=number,
        level="prohibit",
        reason="失信被执行人",
        owner=province["bank1"],
    )
    assert (again.pk, created) == (entry.pk, False)

    # Removed by people, the same court record does not bring it back.
    risk_list_entry_removal_propose(entry=entry, by=staff["b1_risk"].user, reason="已履行")
    risk_list_entry_removal_approve(entry=entry, by=staff["b1_risk2"].user)
    _, created = risk_list_entry_add_automatic(
        source="court",
        rule="court_dishonest_debtor",
        source_ref="(2026)晋1002执123号",
        id_number=number,
        level="prohibit",
        reason="失信被执行人",
        owner=province["bank1"],
    )
    assert not created
    assert RiskListEntry.objects.filter(id_number_hash=number).count() == 1

    with pytest.raises(ValidationError):  # manual entries never skip the checker
        risk_list_entry_add_automatic(
            source="manual", rule="x", id_number=number, level="grey", reason="x"
        )
