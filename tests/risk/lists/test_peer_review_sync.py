"""The peer-review rule: black → blacklist-restrict, grey → greylist, kept in step nightly."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from common.clock import business_today
from risk.lists.models import RiskListEntry
from risk.lists.selectors import risk_list_hits
from risk.lists.services import (
    risk_list_entries_sync_from_peer_review,
    risk_list_entry_removal_approve,
    risk_list_entry_removal_propose,
)
from risk.lists.tasks import PEER_REVIEW_SYNC_TASK, sync_peer_review_entries
from villages.models import PeerReviewRound
from villages.services import (
    peer_review_evaluator_add,
    peer_review_round_close,
    peer_review_round_open,
    peer_review_vote_cast,
)

pytestmark = pytest.mark.django_db


def review(village, households, colours, *, staff, tag):
    """Open a round on ``village``, two evaluators vote ``colours`` (one per household), close."""
    round_ = peer_review_round_open(
        village=village, title=f"{tag}评议", opened_by=staff, close_when_all_voted=False
    )
    for n in range(2):
        evaluator = peer_review_evaluator_add(
            round=round_, name=f"评议员{n}", kind="elder", username=f"pr_{tag}_{n}"
        )
        for household, colour in zip(households, colours, strict=True):
            peer_review_vote_cast(
                evaluator=evaluator, household=household, colour=colour, reason="邻里反映"
            )
    peer_review_round_close(round=round_, closed_by=staff)
    return round_


def live(bank):
    return RiskListEntry.objects.filter(owner=bank, source="peer_review", status="active")


def test_black_and_grey_households_are_listed_once_on_the_heads_id_number(
    villages, staff, province
):
    bank, today = province["bank1"], business_today()
    households = villages["v1_households"]
    review(villages["v1"], households, ["black", "grey", "green"], staff=staff["b1_am2"], tag="a")

    result = risk_list_entries_sync_from_peer_review()
    assert (result.added, result.ended, result.skipped_without_head) == (2, 0, 0)
    entries = {entry.household_id: entry for entry in live(bank)}
    black, grey = entries[households[0].pk], entries[households[1].pk]
    assert (black.level, grey.level) == ("restrict", "grey")
    assert black.id_number == households[0].head.id_number
    assert (black.valid_from, black.valid_until) == (
        today,
        today.replace(year=today.year + 1) - datetime.timedelta(days=1),
    )
    assert black.rule == "peer_review_black"
    assert "黑名单" in black.reason
    assert black.changes.get().action == "auto_add"
    hits = risk_list_hits(bank_id=bank.pk, id_number=households[0].head.id_number, on_date=today)
    assert [(h.level, h.source) for h in hits] == [("restrict", "peer_review")]
    # Bank 2 does not see bank 1's peer-review entries.
    assert (
        risk_list_hits(
            bank_id=province["bank2"].pk, id_number=households[0].head.id_number, on_date=today
        )
        == []
    )

    again = risk_list_entries_sync_from_peer_review()
    assert (again.added, again.ended) == (0, 0)
    assert live(bank).count() == 2


def test_a_later_round_ends_or_replaces_the_automatic_entry(villages, staff, province):
    bank = province["bank1"]
    households = villages["v1_households"]
    review(villages["v1"], households, ["black", "grey", "green"], staff=staff["b1_am2"], tag="a")
    risk_list_entries_sync_from_peer_review(bank=bank)
    first = {entry.household_id: entry.pk for entry in live(bank)}

    review(villages["v1"], households, ["green", "black", "white"], staff=staff["b1_am2"], tag="b")
    result = risk_list_entries_sync_from_peer_review(bank=bank)
    assert (result.added, result.ended) == (1, 2)

    turned_green = RiskListEntry.objects.get(pk=first[households[0].pk])
    assert turned_green.status == "removed"
    assert "绿名单或白名单" in turned_green.removal_reason
    change = turned_green.changes.order_by("at", "id").last()
    assert (change.action, change.from_status, change.to_status, change.actor) == (
        "auto_end",
        "active",
        "removed",
        None,
    )
    replaced = RiskListEntry.objects.get(pk=first[households[1].pk])
    assert replaced.status == "removed"
    assert "取代" in replaced.removal_reason
    now_black = live(bank).get()
    assert (now_black.household_id, now_black.level) == (households[1].pk, "restrict")


def test_an_entry_removed_by_people_is_not_brought_back_by_the_same_result(
    villages, staff, province
):
    bank = province["bank1"]
    households = villages["v1_households"]
    review(villages["v1"], households, ["black", "green", "green"], staff=staff["b1_am2"], tag="a")
    risk_list_entries_sync_from_peer_review(bank=bank)
    entry = live(bank).get()
    risk_list_entry_removal_propose(entry=entry, by=staff["b1_risk"].user, reason="村委复议")
    risk_list_entry_removal_approve(entry=entry, by=staff["b1_risk2"].user)

    result = risk_list_entries_sync_from_peer_review(bank=bank)
    assert result.added == 0
    assert not live(bank).exists()


def test_a_result_whose_year_has_run_out_lists_nobody(villages, staff, province):
    round_ = review(
        villages["v1"],
        villages["v1_households"],
        ["black", "black", "grey"],
        staff=staff["b1_am2"],
        tag="a",
    )
    PeerReviewRound.objects.filter(pk=round_.pk).update(
        closed_at=timezone.now() - datetime.timedelta(days=400)
    )
    assert risk_list_entries_sync_from_peer_review().added == 0


def test_one_bank_at_a_time_and_the_nightly_task(villages, staff, province):
    review(
        villages["v1"],
        villages["v1_households"],
        ["black", "green", "green"],
        staff=staff["b1_am2"],
        tag="a",
    )
    review(
        villages["v2"],
        villages["v2_households"],
        ["grey", "green", "green"],
        staff=staff["b2_am1"],
        tag="b",
    )
    assert risk_list_entries_sync_from_peer_review(bank=province["bank2"]).added == 1
    assert not live(province["bank1"]).exists()
    assert sync_peer_review_entries.delay().get() == 1  # the rest: bank 1's black household
    assert live(province["bank1"]).count() == 1
    schedule = PeriodicTask.objects.get(task=PEER_REVIEW_SYNC_TASK)
    assert (schedule.crontab.hour, schedule.crontab.minute) == ("1", "10")
