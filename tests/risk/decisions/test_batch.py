"""Campaign decisions in batch: every household of the scope decided once per job, the same
decision the online path gives it, resumable, and replayable."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from risk.decisions.batch import (
    decision_chunk_run,
    decision_job_create,
    decision_job_purge,
    decision_job_run,
    decision_job_start,
    ids_valid,
)
from risk.decisions.models import Decision, DecisionJob, DecisionKind
from risk.decisions.replay import decision_replay
from risk.decisions.services import decision_make
from tests.risk.decisions.test_decide import local_flow  # noqa: F401

COMPARED = (
    "outcome",
    "primary_reason",
    "reason_source",
    "reason_codes",
    "approval_levels",
    "limit_amount",
    "rate",
    "score",
    "grade",
    "probability_of_default",
    "scorecard_id",
    "rule_hits",
    "list_level",
    "subject_problem",
    "limit_problem",
    "rate_problem",
    "inputs",
)


def _fields(decision):
    return {
        name: bytes(getattr(decision, name)) if name == "inputs" else getattr(decision, name)
        for name in COMPARED
    }


def test_a_bank_job_decides_every_household_as_the_online_path_would(world, local_flow):  # noqa: F811
    from common.clock import business_today
    from risk.lists.models import RiskListEntry

    bank = world["province"]["bank1"]
    risk = world["staff"]["b1_risk"].user
    listed = world["v1_households"][1]
    RiskListEntry.objects.create(
        owner=bank,
        id_number=listed.head.id_number,
        level="grey",
        source="manual",
        reason="测试",
        status="active",
        valid_from=business_today(),
    )
    job = decision_job_create(product=world["product"], actor=risk, bank=bank, enqueue=False)
    assert job.households_total == 3
    job = decision_job_run(job_id=job.pk, size=2)  # two chunks
    assert job.status == DecisionJob.Status.DONE
    assert job.households_done == 3
    assert job.approved + job.referred + job.rejected == 3
    batch = {d.household_id: d for d in Decision.objects.filter(job=job)}
    assert set(batch) == {h.pk for h in world["v1_households"]}
    assert batch[listed.pk].list_level == 1
    assert "LIST_GREY" in batch[listed.pk].reason_codes
    for household in world["v1_households"]:
        stored = batch[household.pk]
        assert stored.kind == DecisionKind.CAMPAIGN
        assert decision_replay(stored).identical
        online = decision_make(household=household, product=world["product"])
        assert _fields(online) == _fields(stored)


def test_running_a_job_again_adds_nothing(world, local_flow):  # noqa: F811
    bank = world["province"]["bank1"]
    job = decision_job_create(
        product=world["product"], actor=world["staff"]["b1_risk"].user, bank=bank, enqueue=False
    )
    ranges = decision_job_start(job_id=job.pk, size=2, enqueue=False)
    assert len(ranges) == 2
    first, last = ranges[0]
    assert decision_chunk_run(job_id=job.pk, first=first, last=last) == 2
    # A redelivered chunk finds nothing left; the job is not done until the other chunk runs.
    assert decision_chunk_run(job_id=job.pk, first=first, last=last) == 0
    job.refresh_from_db()
    assert (job.status, job.chunks_done, job.households_done) == ("running", 1, 2)
    assert decision_chunk_run(job_id=job.pk, first=ranges[1][0], last=ranges[1][1]) == 1
    job.refresh_from_db()
    assert (job.status, job.households_done) == ("done", 3)
    assert decision_job_start(job_id=job.pk, enqueue=False) == []  # a redelivered job task
    assert Decision.objects.filter(job=job).count() == 3


def test_only_the_purge_removes_a_jobs_decisions(world, local_flow):  # noqa: F811
    from django.db import connection, transaction
    from django.db.utils import InternalError

    bank = world["province"]["bank1"]
    job = decision_job_create(
        product=world["product"], actor=world["staff"]["b1_risk"].user, bank=bank, enqueue=False
    )
    decision_job_run(job_id=job.pk)
    with pytest.raises(InternalError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM risk_decision WHERE job_id = %s", [job.pk])
    assert decision_job_purge(job_id=job.pk) == 3
    assert not Decision.objects.filter(job=job).exists()
    kept = decision_make(household=world["v1_households"][0], product=world["product"])
    with pytest.raises(InternalError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM risk_decision WHERE id = %s", [kept.pk])  # leave has ended


def test_an_account_manager_cannot_start_a_bank_job(world, local_flow):  # noqa: F811
    with pytest.raises(PermissionDenied):
        decision_job_create(
            product=world["product"],
            actor=world["staff"]["b1_am2"].user,
            bank=world["province"]["bank1"],
            enqueue=False,
        )


def test_id_checksums_on_arrays():
    good, bad = "11010519491231002X", "110105194912310021"
    assert ids_valid([good, bad, "", "abc"]).tolist() == [True, False, False, False]
