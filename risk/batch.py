"""Batch scoring of a village, a campaign, a bank or the whole province.

A job splits the scope's households, ordered by id, into chunks of consecutive ids; each chunk is
one Celery task (``risk.batch_tasks.score_chunk``). A chunk reads its feature rows from
``HouseholdFeatures`` in one COPY, scores them with the points tables of the segment champions
(and, in shadow, the challenger for the households stickily assigned to it), and writes
``HouseholdScore`` rows with COPY (``risk.bulk_scoring``); a chunk that has written before goes
through a temporary table and ``INSERT … ON CONFLICT (job, household, role) DO UPDATE``, so
running it again — a retry, or a redelivery after a worker was killed mid-chunk — rewrites the
same rows instead of adding rows. The chunk is marked done and the job's progress bumped in the
same transaction as the scores, and only the first time.

Each chunk also feeds its champion grades to its households' credit grades
(``Household.credit_grade``, one set-based UPDATE … FROM, changed grades only) in that same
transaction — the campaign ratings — rather than the whole scope in one statement at the end:
a province-wide UPDATE would lock millions of household rows (and write their audit events) in
one transaction while account managers keep editing households. Shadow challenger scores never
feed a rating. When the last chunk is done the job is marked done; a job left running with
every chunk done (the worker died in between) is finished by any redelivered chunk.

Households without a feature row are not scored (run with ``refresh_features`` to build them
first); a segment without a champion falls back to the farmer champion, the default segment.
"""

from __future__ import annotations

import io
import logging
import uuid

import numpy as np
import pandas as pd
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from common.audit import audit_context
from org.models import Institution, Staff
from org.tenancy import scope_for
from risk.batch_tasks import score_chunk
from risk.bulk_scoring import (
    CHUNK_COLUMNS,
    SOURCE_FIELDS,
    ScoredRows,
    score_rows,
    scores_write,
)
from risk.features import FEATURE_NAMES, features_materialise
from risk.models import HouseholdFeatures, HouseholdScore, ScoringChunk, ScoringJob
from villages.models import Campaign, Household, Village

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 20_000
MAX_CHUNK_SIZE = 200_000


# --- job creation ------------------------------------------------------------------------------


def _user_of(staff: Staff | None):
    return None if staff is None else staff.user


def _visible(queryset, staff: Staff | None):
    """Tenancy for a job: the system (no staff) sees everything, staff what their scope shows."""
    return queryset if staff is None else queryset.for_user(staff.user)


def _as_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({"scope_id": f"评分范围对象编号无效：{value!r}"}) from None


def _scope_households(*, scope: str, scope_id: str, bank: Institution | None, created_by):
    """``(households queryset, job bank)`` for the scope, checked against the creator's tenancy.

    An object outside the creator's tenancy is reported as not found, like any foreign id.
    """
    user = _user_of(created_by)
    if scope == ScoringJob.Scope.PROVINCE:
        if user is not None and not scope_for(user).all_banks:
            raise PermissionDenied("全省批量评分仅限省联社人员发起")
        return Household.objects.all(), None
    if scope == ScoringJob.Scope.BANK:
        if user is not None and scope_for(user).village_restricted:
            raise PermissionDenied("全行批量评分须由行社管理或风险岗位发起")
        bank_id = _as_id(scope_id or (bank.pk if bank else ""))
        found = _visible(Institution.objects.banks(), created_by).filter(pk=bank_id).first()
        if found is None:
            raise ValidationError({"scope_id": "法人行社不存在"})
        return Household.objects.filter(bank=found), found
    if scope == ScoringJob.Scope.CAMPAIGN:
        campaign = _visible(Campaign.objects.all(), created_by).filter(pk=_as_id(scope_id)).first()
        if campaign is None:
            raise ValidationError({"scope_id": "整村授信活动不存在"})
        village_id, job_bank_id = campaign.village_id, campaign.bank_id
    elif scope == ScoringJob.Scope.VILLAGE:
        village = _visible(Village.objects.all(), created_by).filter(pk=_as_id(scope_id)).first()
        if village is None:
            raise ValidationError({"scope_id": "行政村不存在"})
        village_id, job_bank_id = village.pk, village.bank_id
    else:
        raise ValidationError({"scope": f"未知的评分范围：{scope}"})
    if bank is not None and bank.pk != job_bank_id:
        raise ValidationError({"bank": "评分范围不属于该法人行社"})
    return Household.objects.filter(village_id=village_id), Institution.objects.get(pk=job_bank_id)


def _chunk_bounds(households, chunk_size: int) -> list[tuple[int, uuid.UUID, uuid.UUID, int]]:
    """``(number, first id, last id, size)`` of each run of ``chunk_size`` consecutive ids."""
    sql, params = households.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT n, min(id::text)::uuid, max(id::text)::uuid, count(*)
            FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / %s AS n
                  FROM ({sql}) AS scope(id)) AS numbered
            GROUP BY n ORDER BY n
            """,
            [chunk_size, *params],
        )
        return cursor.fetchall()


def scoring_job_create(
    *,
    scope: str,
    scope_id: str | int = "",
    bank: Institution | None = None,
    created_by: Staff | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    refresh_features: bool = True,
    enqueue: bool = True,
) -> ScoringJob:
    """Create the job and its chunks and enqueue one task per chunk once this commits.

    ``refresh_features`` rebuilds each chunk's feature rows from archives, members and peer
    review before scoring (set-based); without it the rows already in ``HouseholdFeatures`` are
    scored as they are. ``enqueue=False`` leaves running the chunks to the caller (a command or
    the benchmark driving its own processes).
    """
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValidationError({"chunk_size": f"每块户数须在1至{MAX_CHUNK_SIZE}之间"})
    scope_id = "" if scope_id is None else str(scope_id)
    households, job_bank = _scope_households(
        scope=scope, scope_id=scope_id, bank=bank, created_by=created_by
    )
    with transaction.atomic():
        bounds = _chunk_bounds(households, chunk_size)
        total = sum(size for *_, size in bounds)
        job = ScoringJob.objects.create(
            scope=scope,
            scope_id=scope_id if scope != ScoringJob.Scope.BANK else str(job_bank.pk),
            bank=job_bank,
            chunk_size=chunk_size,
            total_households=total,
            created_by=created_by,
            status=ScoringJob.Status.PENDING if bounds else ScoringJob.Status.DONE,
            finished_at=None if bounds else timezone.now(),
        )
        chunks = ScoringChunk.objects.bulk_create(
            ScoringChunk(job=job, number=n, first_household=first, last_household=last, size=size)
            for n, first, last, size in bounds
        )
        for chunk in chunks if enqueue else ():
            score_chunk.delay_on_commit(chunk.pk, refresh_features)
    return job


# --- scoring a chunk ---------------------------------------------------------------------------


def _scope_condition(job: ScoringJob) -> tuple[str, str, list]:
    """``(join, condition, params)`` selecting the job's rows of features ``f``."""
    by_village = f"JOIN {Household._meta.db_table} h ON h.id = f.household_id"
    if job.scope == ScoringJob.Scope.PROVINCE:
        return "", "TRUE", []
    if job.scope == ScoringJob.Scope.BANK:
        return "", "f.bank_id = %s", [int(job.scope_id)]
    if job.scope == ScoringJob.Scope.CAMPAIGN:
        village_id = Campaign.objects.values_list("village_id", flat=True).get(pk=job.scope_id)
        return by_village, "h.village_id = %s", [village_id]
    return by_village, "h.village_id = %s", [int(job.scope_id)]


def chunk_features(chunk: ScoringChunk) -> pd.DataFrame:
    """The chunk's feature rows in one COPY: ``household_id``, ``bank_id``, ``segment`` and the
    catalogue's features as float64 (NaN = missing), ordered by household id, and each row's
    line as printed (``bulk_scoring.SOURCE_FIELDS``)."""
    join, condition, params = _scope_condition(chunk.job)
    columns = list(CHUNK_COLUMNS)
    with connection.cursor() as cursor:
        query = cursor.mogrify(
            f"""
            COPY (
                SELECT {", ".join("f." + name for name in columns)}
                FROM {HouseholdFeatures._meta.db_table} f {join}
                WHERE f.household_id BETWEEN %s AND %s AND {condition}
                ORDER BY f.household_id
            ) TO STDOUT WITH (FORMAT csv, NULL 'NULL')
            """,
            [chunk.first_household, chunk.last_household, *params],
        ).decode()
        buffer = io.BytesIO()
        cursor.copy_expert(query, buffer)
    dtypes = {"household_id": str, "bank_id": np.int64, "segment": str}
    dtypes.update(dict.fromkeys(FEATURE_NAMES, np.float64))
    raw = buffer.getvalue()
    frame = pd.read_csv(
        io.BytesIO(raw),
        header=None,
        names=columns,
        dtype=dtypes,
        engine="c",
        na_values=["NULL"],
        keep_default_na=False,
    )
    frame[SOURCE_FIELDS] = raw.decode().splitlines()
    return frame


def _chunk_start(chunk_id: int) -> ScoringChunk:
    with transaction.atomic():
        ScoringChunk.objects.filter(pk=chunk_id).update(attempts=F("attempts") + 1)
        ScoringChunk.objects.filter(pk=chunk_id, status=ScoringChunk.Status.PENDING).update(
            status=ScoringChunk.Status.RUNNING
        )
        chunk = ScoringChunk.objects.select_related("job").get(pk=chunk_id)
        ScoringJob.objects.filter(pk=chunk.job_id, status=ScoringJob.Status.PENDING).update(
            status=ScoringJob.Status.RUNNING
        )
    return chunk


def scoring_chunk_run(*, chunk_id: int, refresh_features: bool = False) -> int:
    """Score one chunk (again, if it ran before); returns the households scored."""
    chunk = _chunk_start(chunk_id)
    job = chunk.job
    with audit_context(command="risk.batch", scoring_job=str(job.pk)):
        if refresh_features:
            condition = Q(pk__gte=chunk.first_household, pk__lte=chunk.last_household)
            households, _ = _scope_households(
                scope=job.scope, scope_id=job.scope_id, bank=None, created_by=None
            )
            features_materialise(households=households.filter(condition))
        frame = chunk_features(chunk)
        results = score_rows(frame)
        scored = sum(len(r) for r in results if r.role == HouseholdScore.Role.CHAMPION)
        now = timezone.now()
        with transaction.atomic():
            scores_write(
                job_id=job.pk, results=results, scored_at=now, first_write=chunk.attempts == 1
            )
            credit_grades_feed(results=results)
            first_time = (
                ScoringChunk.objects.filter(pk=chunk.pk)
                .exclude(status=ScoringChunk.Status.DONE)
                .update(status=ScoringChunk.Status.DONE, finished_at=now)
            )
            if first_time:
                # Also takes the job's row lock, so the last chunk to finish sees all the others.
                ScoringJob.objects.filter(pk=job.pk).update(
                    scored_households=F("scored_households") + scored
                )
        scoring_job_finish(job_id=job.pk)
    return scored


def scoring_job_finish(*, job_id) -> bool:
    """Mark the job done once every chunk is; returns whether this call did (safe to repeat)."""
    unfinished = ScoringChunk.objects.filter(job=OuterRef("pk")).exclude(
        status=ScoringChunk.Status.DONE
    )
    finished = (
        ScoringJob.objects.filter(pk=job_id)
        .exclude(status=ScoringJob.Status.DONE)
        .exclude(Exists(unfinished))
        .update(status=ScoringJob.Status.DONE, finished_at=timezone.now())
    )
    return bool(finished)


_PLANNER_SWITCHES = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")


def credit_grades_feed(*, results: list[ScoredRows]) -> int:
    """Set ``Household.credit_grade`` from the champion results just written (one set-based
    UPDATE … FROM, changed grades only); returns the households re-rated.

    Runs inside the chunk's transaction. The planner is told to look the chunk's households up
    by primary key: with random UUIDs they are spread over the whole table, and it would
    otherwise scan every household of the province once per chunk.
    """
    champions = [rows for rows in results if rows.role == HouseholdScore.Role.CHAMPION]
    household_ids = [h for rows in champions for h in rows.household_ids]
    grades = [str(grade) for rows in champions for grade in rows.grades]
    if not household_ids:
        return 0
    with connection.cursor() as cursor:
        for switch in _PLANNER_SWITCHES:
            cursor.execute(f"SET LOCAL {switch} = off")
        cursor.execute(
            f"""
            UPDATE {Household._meta.db_table} h
            SET credit_grade = rated.grade, updated_at = now()
            FROM unnest(%s::uuid[], %s::text[]) AS rated(household_id, grade)
            WHERE h.id = rated.household_id AND h.credit_grade IS DISTINCT FROM rated.grade
            """,
            [household_ids, grades],
        )
        rerated = cursor.rowcount
        for switch in _PLANNER_SWITCHES:
            cursor.execute(f"SET LOCAL {switch} TO DEFAULT")
    return rerated


def scoring_chunk_fail(*, chunk_id: int, error: str) -> None:
    """A chunk failed for good (not a transient error): the job shows it as failed."""
    chunk = ScoringChunk.objects.filter(pk=chunk_id).first()
    if chunk is None:
        return
    ScoringJob.objects.filter(pk=chunk.job_id).exclude(status=ScoringJob.Status.DONE).update(
        status=ScoringJob.Status.FAILED, error=f"第{chunk.number}块：{error}"[:2000]
    )
