"""The decision engine's lookups: validity, scope, and the one-row and column forms agreeing."""

from __future__ import annotations

import datetime
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import pii
from risk.lists.models import RiskListEntry
from risk.lists.selectors import most_severe, risk_list_hits, risk_list_levels_for_members
from risk.lists.services import risk_list_entry_add_automatic, risk_list_entry_propose
from tests.risk.lists.conftest import outsider_id
from villages.models import Member

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 11, 10)


def test_an_expired_entry_is_ignored_and_a_future_one_not_yet_applied(listed, province):
    bank = province["bank1"].pk
    expired, future, edge = outsider_id(11), outsider_id(12), outsider_id(13)
    listed(expired, valid_from=DAY - datetime.timedelta(days=400), valid_until=DAY.replace(day=9))
    listed(future, valid_from=DAY + datetime.timedelta(days=1))
    listed(edge, valid_from=DAY, valid_until=DAY)  # both ends inclusive

    assert risk_list_hits(bank_id=bank, id_number=expired, on_date=DAY) == []
    assert risk_list_hits(bank_id=bank, id_number=future, on_date=DAY) == []
    assert [h.level for h in risk_list_hits(bank_id=bank, id_number=edge, on_date=DAY)] == [
        "prohibit"
    ]
    later = DAY + datetime.timedelta(days=1)
    assert len(risk_list_hits(bank_id=bank, id_number=future, on_date=later)) == 1
    assert risk_list_hits(bank_id=bank, id_number=edge, on_date=later) == []
    earlier = DAY.replace(day=9)
    assert len(risk_list_hits(bank_id=bank, id_number=expired, on_date=earlier)) == 1


def test_federation_entries_apply_to_every_bank_and_a_banks_only_to_itself(listed, province):
    number = outsider_id(14)
    federal = listed(
        number, level="grey", maker="fed_admin", checker="fed_modeller", valid_from=DAY
    )
    own = listed(number, level="restrict", valid_from=DAY)
    bank1, bank2 = province["bank1"].pk, province["bank2"].pk

    hits = risk_list_hits(bank_id=bank1, id_number=number, on_date=DAY)
    assert [(h.entry_id, h.level, h.owner_id) for h in hits] == [
        (own.pk, "restrict", bank1),
        (federal.pk, "grey", None),
    ]
    assert [h.entry_id for h in risk_list_hits(bank_id=bank2, id_number=number, on_date=DAY)] == [
        federal.pk
    ]


def test_pending_entries_do_not_apply_and_phone_and_device_match_on_their_own(staff, province):
    bank = province["bank1"].pk
    risk_list_entry_propose(
        by=staff["b1_risk"].user,
        id_number=outsider_id(15),
        level="prohibit",
        reason="待复核",
        valid_from=DAY,
    )
    assert risk_list_hits(bank_id=bank, id_number=outsider_id(15), on_date=DAY) == []
    entry, _ = risk_list_entry_add_automatic(
        source="anti_fraud",
        rule="device_shared_by_applicants",
        id_number=outsider_id(16),
        phone="13912340002",
        device_id="pad-99",
        level="grey",
        reason="同一设备多人申请",
        owner=province["bank1"],
        valid_from=DAY,
    )
    by_phone = risk_list_hits(bank_id=bank, phone="13912340002", on_date=DAY)
    assert [(h.entry_id, h.matched_on) for h in by_phone] == [(entry.pk, ("phone",))]
    by_all = risk_list_hits(
        bank_id=bank,
        id_number=outsider_id(99),
        phone="13912340002",
        device_id="pad-99",
        on_date=DAY,
    )
    assert [h.matched_on for h in by_all] == [("phone", "device_id")]
    assert risk_list_hits(bank_id=bank, on_date=DAY) == []


def test_the_row_and_the_column_lookups_agree(villages, staff, province):
    """Entries on random members (by ID number and by phone), random levels, owners, dates and
    statuses; every member looked up both ways gives the same level and entries."""
    rng = random.Random(14)
    members = list(Member.objects.order_by("id_number_hash"))  # stable from run to run
    bank1, bank2 = province["bank1"], province["bank2"]
    for n, member in enumerate(members[::3]):  # a third carry a mobile of their own
        member.phone = f"1371234{n:04d}"
        member.save(update_fields=["phone"])
    phones = [m.phone for m in members if m.phone]
    for n, member in enumerate(members):
        for k in range(rng.randint(0, 3)):
            owner = rng.choice([None, bank1, bank2])
            start = DAY + datetime.timedelta(days=rng.randint(-30, 5))
            until = rng.choice([None, DAY + datetime.timedelta(days=rng.randint(-10, 30))])
            if until is not None and until < start:
                until = start
            use_phone = rng.random() < 0.3
            entry, _ = risk_list_entry_add_automatic(
                source=rng.choice(["court", "overdue", "anti_fraud", "post_loan"]),
                rule="random",
                source_ref=f"r{n}-{k}",
                id_number=member.id_number if not use_phone else outsider_id(200 + n * 4 + k),
                phone=rng.choice(phones) if use_phone else "",
                level=rng.choice(["prohibit", "restrict", "grey"]),
                reason="随机",
                owner=owner,
                valid_from=start,
                valid_until=until,
            )
            if rng.random() < 0.15:
                RiskListEntry.objects.filter(pk=entry.pk).update(status="removed")
    seen = 0
    for bank in (bank1, bank2):
        for on_date in (DAY - datetime.timedelta(days=20), DAY, DAY + datetime.timedelta(days=12)):
            own = Member.objects.filter(bank=bank)
            by_queryset = risk_list_levels_for_members(
                bank_id=bank.pk, member_ids=own, on_date=on_date
            )
            by_list = risk_list_levels_for_members(
                bank_id=bank.pk, member_ids=[m.pk for m in own], on_date=on_date
            )
            hashes = [m.id_number_hash for m in own]
            by_hash = risk_list_levels_for_members(
                bank_id=bank.pk, id_number_hashes=hashes, on_date=on_date
            )
            assert by_queryset == by_list
            for member in own:
                row = most_severe(
                    risk_list_hits(
                        bank_id=bank.pk,
                        id_number=member.id_number,
                        phone=member.phone,
                        on_date=on_date,
                    )
                )
                assert by_queryset.get(member.pk) == row, member.pk
                id_only = most_severe(
                    risk_list_hits(bank_id=bank.pk, id_number=member.id_number, on_date=on_date)
                )
                assert by_hash.get(bytes(member.id_number_hash)) == id_only
                seen += row is not None
    assert seen > 5  # the random entries do hit members
    # Another bank's members are not looked up, whatever ids are passed.
    other = Member.objects.filter(bank=bank2)
    assert risk_list_levels_for_members(bank_id=bank1.pk, member_ids=other, on_date=DAY) == {}


def test_a_lookup_is_one_query_on_the_hash_index(staff, province):
    bank = province["bank1"]
    rows = [
        RiskListEntry(
            owner=bank if n % 2 else None,
            id_number=outsider_id(1000 + n),
            level="grey",
            source="overdue",
            reason="逾期90天以上",
            rule="overdue_90",
            source_ref=str(n),
            valid_from=DAY,
            status="active",
        )
        for n in range(3000)
    ]
    RiskListEntry.objects.bulk_create(rows, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE risk_risklistentry")
    number = outsider_id(1001)
    with CaptureQueriesContext(connection) as queries:
        hits = risk_list_hits(bank_id=bank.pk, id_number=number, on_date=DAY)
    assert len(hits) == 1
    assert len(queries) == 1
    digest = pii.blind_index(number, pii.ID_NUMBER)
    plan = "\n".join(
        RiskListEntry.objects.in_force_on(DAY)
        .applying_to_bank(bank.pk)
        .filter(id_number_hash=digest)
        .explain()
        .splitlines()
    )
    assert "risk_list_id_number" in plan, plan
    assert "Seq Scan" not in plan, plan
    # The prepared statement's generic plan (what a long-lived connection settles on) too.
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(
            "EXPLAIN EXECUTE risk_list_hits(%s, NULL, NULL, %s, %s)", [digest, DAY, bank.pk]
        )
        generic = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET plan_cache_mode")
    assert "risk_list_id_number" in generic, generic
    assert "Seq Scan" not in generic, generic
    with CaptureQueriesContext(connection) as queries:
        levels = risk_list_levels_for_members(
            bank_id=bank.pk, id_number_hashes=[digest], on_date=DAY
        )
    assert len(queries) == 1
    assert levels[digest].entry_ids == (hits[0].entry_id,)


def test_the_unprepared_lookup_answers_the_same(listed, province, settings):
    number = outsider_id(40)
    entry = listed(number, phone="13912340004", valid_from=DAY)
    prepared = risk_list_hits(bank_id=province["bank1"].pk, phone="13912340004", on_date=DAY)
    settings.RISK_PREPARED_FEATURE_QUERY = False
    plain = risk_list_hits(bank_id=province["bank1"].pk, phone="13912340004", on_date=DAY)
    assert prepared == plain
    assert [hit.entry_id for hit in plain] == [entry.pk]
