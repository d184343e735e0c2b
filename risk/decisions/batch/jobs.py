"""Jobs: create, split into ranges, run a chunk, finish, fail, purge."""

from __future__ import annotations

from datetime import date

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from common.clock import business_today
from org.models import Institution
from org.tenancy import scope_for
from risk.bulk_scoring import Scorecards
from risk.decisions.batch.copy import decisions_copy
from risk.decisions.batch.inputs import _external_hook, chunk_inputs
from risk.decisions.definition import EXTERNAL
from risk.decisions.engine import (
    SUBJECT_ID_INVALID,
    SUBJECT_NO_HEAD,
    strategy_run,
)
from risk.decisions.models import Decision, DecisionJob
from risk.decisions.services import Prepared, prepared_for
from villages.models import Campaign, Household, Village

CHUNK_SIZE = 50_000
JOB_PERMISSION = "risk.add_decisionjob"


# --- creating a job ------------------------------------------------------------------------------


def decision_job_create(
    *,
    product,
    actor,
    campaign: Campaign | None = None,
    bank: Institution | None = None,
    decision_date: date | None = None,
    enqueue: bool = True,
) -> DecisionJob:
    """A batch for a campaign, a bank, or (federation staff only) the province; enqueued after
    commit. An object outside the actor's tenancy is reported as not found."""
    if actor is not None and not actor.has_perm(JOB_PERMISSION):
        raise PermissionDenied("没有发起批量决策的权限")
    scope = scope_for(actor) if actor is not None else None
    if campaign is not None:
        visible = Campaign.objects.all() if scope is None else Campaign.objects.for_user(actor)
        if not visible.filter(pk=campaign.pk).exists():
            raise ValidationError({"campaign": "整村授信活动不存在"})
        bank = Institution.objects.get(pk=campaign.bank_id)
        households = Household.objects.filter(village_id=campaign.village_id)
    elif bank is not None:
        if scope is not None and not scope.all_banks and scope.bank_id != bank.pk:
            raise ValidationError({"bank": "法人行社不存在"})
        if scope is not None and scope.village_restricted:
            raise PermissionDenied("全行批量决策须由行社管理或风险岗位发起")
        households = Household.objects.filter(bank=bank)
    else:
        if scope is not None and not scope.all_banks:
            raise PermissionDenied("全省批量决策仅限省联社人员发起")
        households = Household.objects.all()
    if bank is not None and product.owner_id not in (None, bank.pk):
        raise ValidationError({"product": "该产品不属于本行社，也不是省联社产品"})
    job = DecisionJob.objects.create(
        bank=bank,
        campaign=campaign,
        product=product,
        decision_date=decision_date or business_today(),
        households_total=households.count(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if enqueue:
        from risk.decisions.tasks import run_decision_job

        transaction.on_commit(lambda: run_decision_job.delay(job.pk))
    return job


# --- running it ----------------------------------------------------------------------------------


def _scope_sql(job: DecisionJob) -> tuple[str, dict]:
    if job.campaign_id is not None:
        village = Campaign.objects.values_list("village_id", flat=True).get(pk=job.campaign_id)
        return "h.village_id = %(scope)s", {"scope": village}
    if job.bank_id is not None:
        return "h.bank_id = %(scope)s", {"scope": job.bank_id}
    return "TRUE", {}


def _chunk_households(job: DecisionJob, first: str, last: str) -> list[tuple]:
    """The scope's households with ids in [first, last] that this job has not decided yet."""
    condition, params = _scope_sql(job)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT h.id::text, h.bank_id, v.branch_id, h.head_id::text
            FROM {Household._meta.db_table} h
            JOIN {Village._meta.db_table} v ON v.id = h.village_id
            WHERE {condition} AND h.id BETWEEN %(first)s::uuid AND %(last)s::uuid
              AND NOT EXISTS (SELECT 1 FROM {Decision._meta.db_table} d
                              WHERE d.job_id = %(job)s AND d.household_id = h.id)
            ORDER BY h.id
            """,
            {**params, "first": first, "last": last, "job": job.pk},
        )
        return cursor.fetchall()


def _chunk_ranges(job: DecisionJob, size: int) -> list[tuple[str, str]]:
    """``(first id, last id)`` of each run of ``size`` consecutive households of the scope."""
    condition, params = _scope_sql(job)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT min(id::text), max(id::text)
            FROM (SELECT h.id, (row_number() OVER (ORDER BY h.id) - 1) / %(size)s AS n
                  FROM {Household._meta.db_table} h WHERE {condition}) AS numbered
            GROUP BY n ORDER BY n
            """,
            {**params, "size": size},
        )
        return cursor.fetchall()


def _prepare_for_bank(job: DecisionJob, bank_id: int, cache: dict) -> Prepared:
    if bank_id not in cache:
        cache[bank_id] = prepared_for(
            product=job.product, bank_id=bank_id, on_date=job.decision_date
        )
    return cache[bank_id]


def decision_job_start(*, job_id: int, size: int = CHUNK_SIZE, enqueue: bool = True):
    """Mark the job running and split its scope into ranges of ``size`` consecutive households,
    one Celery task each (enqueued after commit). A job already done returns no ranges; one
    started before (a redelivered task, or a restart after a failure) is split again, and each
    range decides only the households still without a decision in this job."""
    with transaction.atomic():
        job = DecisionJob.objects.select_for_update().get(pk=job_id)
        if job.status == DecisionJob.Status.DONE:
            return []
        if job.status != DecisionJob.Status.RUNNING:
            job.start()
            job.started_at = timezone.now()
            job.error = ""
        ranges = _chunk_ranges(job, size)
        job.chunks_total, job.chunks_done = len(ranges), 0
        if not ranges:
            job.finish()
            job.finished_at = timezone.now()
        job.save(
            update_fields=[
                "status",
                "started_at",
                "error",
                "chunks_total",
                "chunks_done",
                "finished_at",
            ]
        )
        if enqueue and ranges:
            from risk.decisions.tasks import run_decision_chunk

            transaction.on_commit(
                lambda: [run_decision_chunk.delay(job_id, first, last) for first, last in ranges]
            )
    return ranges


def decision_chunk_run(
    *,
    job_id: int,
    first: str,
    last: str,
    cache: dict | None = None,
    scorecards: Scorecards | None = None,
) -> int:
    """Decide the households of the job's scope in ``[first, last]`` not yet decided in it, in
    one transaction with the job's counts; the last chunk marks the job done. A redelivered
    chunk finds nothing left to decide and changes nothing. Returns the households decided."""
    cache = {} if cache is None else cache
    scorecards = scorecards or Scorecards()
    with transaction.atomic():
        job = DecisionJob.objects.select_related("product", "created_by").get(pk=job_id)
        if job.status != DecisionJob.Status.RUNNING:
            return 0
        rows = _chunk_households(job, first, last)
        if not rows:
            return 0
        decided_at = timezone.now()
        counts = np.zeros(3, dtype=np.int64)
        by_bank: dict[int, list[tuple]] = {}
        for row in rows:
            by_bank.setdefault(row[1], []).append(row)
        for bank_id, bank_rows in by_bank.items():
            prepared = _prepare_for_bank(job, bank_id, cache)
            inputs, heads, entries = chunk_inputs(
                bank_id=bank_id,
                rows=bank_rows,
                terms=prepared.resolved.terms,
                on_date=job.decision_date,
                scorecards=scorecards,
            )
            valid = inputs.subject_problem != SUBJECT_NO_HEAD
            valid &= inputs.subject_problem != SUBJECT_ID_INVALID
            hook = None
            if prepared.flow.first(EXTERNAL) is not None:
                hook = _external_hook(
                    prepared, bank_id=bank_id, heads=heads, valid=valid, actor=job.created_by
                )
            result = strategy_run(
                prepared.flow, prepared.resolved, inputs, external=hook, sources=prepared.sources
            )
            decisions_copy(
                job=job,
                prepared=prepared,
                rows=bank_rows,
                heads=heads,
                entries=entries,
                inputs=inputs,
                result=result,
                decided_at=decided_at,
            )
            counts += np.bincount(result.outcome, minlength=3)[:3]
        approved, referred, rejected = (int(c) for c in counts)
        with connection.cursor() as cursor:
            # One statement bumps the counts and, with the last chunk, finishes the job: chunks
            # running at once in several workers never lose each other's counts.
            cursor.execute(
                f"""
                UPDATE {DecisionJob._meta.db_table} SET households_done = households_done + %s,
                    approved = approved + %s, referred = referred + %s,
                    rejected = rejected + %s, chunks_done = chunks_done + 1,
                    status = CASE WHEN chunks_done + 1 >= chunks_total THEN %s ELSE status END,
                    finished_at = CASE WHEN chunks_done + 1 >= chunks_total THEN now()
                                       ELSE finished_at END
                WHERE id = %s
                """,
                [len(rows), approved, referred, rejected, DecisionJob.Status.DONE, job.pk],
            )
        return len(rows)


def decision_job_run(*, job_id: int, size: int = CHUNK_SIZE) -> DecisionJob:
    """The whole job in this process, chunk after chunk (``seed_demo``, tests, a command)."""
    ranges = decision_job_start(job_id=job_id, size=size, enqueue=False)
    cache: dict = {}
    scorecards = Scorecards()
    try:
        for first, last in ranges:
            decision_chunk_run(
                job_id=job_id, first=first, last=last, cache=cache, scorecards=scorecards
            )
    except Exception as exc:
        decision_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        raise
    return DecisionJob.objects.get(pk=job_id)


@transaction.atomic
def decision_job_fail(*, job_id: int, error: str) -> None:
    job = DecisionJob.objects.select_for_update().get(pk=job_id)
    if job.status in (DecisionJob.Status.PENDING, DecisionJob.Status.RUNNING):
        job.fail()
        job.error = error[:2000]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])


@transaction.atomic
def decision_job_purge(*, job_id: int) -> int:
    """Delete a job's decisions: the one way decisions leave the table (the trigger refuses
    any other UPDATE or DELETE), for archive retention (档案留存) past the bank's keeping period
    and for benchmark runs. Returns the decisions deleted."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL risk.decision_purge = 'on'")
        cursor.execute(f"DELETE FROM {Decision._meta.db_table} WHERE job_id = %s", [job_id])
        deleted = cursor.rowcount
        cursor.execute("SET LOCAL risk.decision_purge = 'off'")
    return deleted
