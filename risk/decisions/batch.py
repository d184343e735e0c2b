"""Campaign decisions in batch (整村授信批量决策): a campaign, a bank or the province run through a
product's strategy, producing the decisions the next issue pre-approves credit lines from.

A job takes its scope's households in chunks of consecutive ids. Each chunk is one transaction:
it reads the households' features (the ``HouseholdFeatures`` rows the nightly job keeps, computed
on the spot for a household that has none), their heads, list levels, application history and
external data, runs ``risk.decisions.engine.strategy_run`` over the columns, COPYs the decisions
into the table and bumps the job's counts. The unique (job, household) index and the chunk query
(households of the scope without a decision in this job) make every household decided at most
once per job: a retry or a redelivered task after a crash picks up where the last committed
chunk ended.

The applicant is the head of household; a campaign has no requested amount (the amount is the
limit), no device and no application history of its own beyond the head's recent applications.
Per bank, the strategy, rule sets, models and product terms are resolved once per job
(``strategy_prepare``), as an online decision resolves them for itself.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from common import pii
from common.clock import business_today
from org.models import Institution
from org.tenancy import scope_for
from risk.bulk_scoring import Scorecards
from risk.decisions.definition import EXTERNAL, LIMIT, PRICING
from risk.decisions.engine import (
    OUTCOME_NAMES,
    SUBJECT_ID_INVALID,
    SUBJECT_NO_ARCHIVE,
    SUBJECT_NO_HEAD,
    EngineInputs,
    EngineResult,
    strategy_run,
)
from risk.decisions.inputs import layout_id, snapshot_matrix
from risk.decisions.models import Decision, DecisionJob, DecisionKind
from risk.decisions.services import Prepared, external_columns_empty, prepared_for
from risk.external_features import CONTEXT_FEATURE_NAMES, EXTERNAL_FEATURE_NAMES
from risk.features import FEATURE_NAMES, features_frame
from risk.models import HouseholdFeatures
from risk.pricing.rates import RATE_PLACES
from risk.scoring import PointsTable, challenger_mask
from villages.models import Campaign, Household, Member, Village

CHUNK_SIZE = 50_000
JOB_PERMISSION = "risk.add_decisionjob"
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


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


def _features(ids: list, on_date: date) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Feature columns and segments of ``ids`` in that order: the materialised rows, and the
    live computation for households without one."""
    position = {h: i for i, h in enumerate(ids)}
    n = len(ids)
    columns = {name: np.full(n, np.nan) for name in FEATURE_NAMES}
    segments = np.full(n, None, dtype=object)
    names = ", ".join(FEATURE_NAMES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT household_id::text, segment, {names} "
            f"FROM {HouseholdFeatures._meta.db_table} WHERE household_id = ANY(%s::uuid[])",
            [ids],
        )
        rows = cursor.fetchall()
    if rows:
        at = np.fromiter((position[r[0]] for r in rows), np.int64, len(rows))
        matrix = np.array([r[2:] for r in rows], dtype=np.float64)  # None → nan
        for j, name in enumerate(FEATURE_NAMES):
            columns[name][at] = matrix[:, j]
        segments[at] = [r[1] for r in rows]
    missing = [h for h, s in zip(ids, segments.tolist(), strict=True) if s is None]
    if missing:
        frame = features_frame(missing, today=on_date)
        at = np.fromiter((position[str(h)] for h in frame.index), np.int64, len(frame))
        for name in FEATURE_NAMES:
            columns[name][at] = frame[name].to_numpy(dtype=np.float64)
        segments[at] = frame["segment"].to_numpy(dtype=object)
    return columns, segments


def ids_valid(id_numbers: Sequence[str]) -> np.ndarray:
    """GB 11643 checksum of each ID number, on arrays (the import checked region and birth
    date when the number was stored)."""
    n = len(id_numbers)
    ok = np.zeros(n, dtype=bool)
    shaped = [i for i, v in enumerate(id_numbers) if len(v) == 18 and v.isascii()]
    if not shaped:
        return ok
    raw = np.frombuffer("".join(id_numbers[i] for i in shaped).encode(), np.uint8).reshape(-1, 18)
    body = raw[:, :17].astype(np.int64) - 48
    digits_ok = ((body >= 0) & (body <= 9)).all(axis=1)
    expected = _ID_CHECK[(body * _ID_WEIGHTS).sum(axis=1) % 11]
    ok[np.array(shaped)] = digits_ok & (expected == raw[:, 17])
    return ok


@dataclass
class _Heads:
    member_ids: list  # None where no head
    id_numbers: list[str]
    phone_hashes: list[bytes]


def _heads(head_ids: list) -> _Heads:
    wanted = [str(h) for h in head_ids if h is not None]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id::text, id_number, phone_hash FROM {Member._meta.db_table} "
            "WHERE id = ANY(%s::uuid[])",
            [wanted],
        )
        rows = {r[0]: r for r in cursor.fetchall()}
    found = [rows.get(h) for h in head_ids]
    blobs = [bytes(r[1]) if r else b"" for r in found]
    numbers = pii.decrypt_column(blobs, pii.ID_NUMBER)
    return _Heads(
        member_ids=[r[0] if r else None for r in found],
        id_numbers=numbers,
        phone_hashes=[bytes(r[2]) if r and r[2] else b"" for r in found],
    )


def _context(bank_id: int, heads: _Heads, since, n: int) -> dict[str, np.ndarray]:
    phone_shared = np.full(n, np.nan)
    applications = np.zeros(n)
    members = [str(m) for m in heads.member_ids if m is not None]
    phones = sorted({p for p in heads.phone_hashes if p})
    with connection.cursor() as cursor:
        counts = {}
        if phones:
            cursor.execute(
                f"SELECT phone_hash, count(DISTINCT household_id) FROM {Member._meta.db_table} "
                "WHERE bank_id = %s AND phone_hash = ANY(%s::bytea[]) GROUP BY phone_hash",
                [bank_id, phones],
            )
            counts = {bytes(h): c for h, c in cursor.fetchall()}
        cursor.execute(
            f"SELECT member_id::text, count(*) FROM {Decision._meta.db_table} "
            f"WHERE kind = {DecisionKind.APPLICATION} AND decided_at >= %s "
            "AND member_id = ANY(%s::uuid[]) GROUP BY member_id",
            [since, members],
        )
        recent = dict(cursor.fetchall())
    for i, (member, phone) in enumerate(zip(heads.member_ids, heads.phone_hashes, strict=True)):
        if member is None:
            applications[i] = np.nan
            continue
        if phone:
            phone_shared[i] = counts.get(phone, 0)
        applications[i] = recent.get(member, 0)
    return {"phone_shared_households": phone_shared, "applications_30d": applications}


def chunk_inputs(
    *, bank_id: int, rows: list[tuple], terms, on_date: date, scorecards: Scorecards
) -> tuple[EngineInputs, _Heads, list]:
    """The engine's inputs for one bank's households of a chunk (``rows``: household id, bank,
    branch, head id), and what the stored rows need beside them."""
    ids = [r[0] for r in rows]
    n = len(ids)
    features, segments = _features(ids, on_date)
    for name in (*EXTERNAL_FEATURE_NAMES, *CONTEXT_FEATURE_NAMES):
        features[name] = np.full(n, np.nan)
    heads = _heads([r[3] for r in rows])
    has_head = np.array([m is not None for m in heads.member_ids], dtype=bool)
    valid = ids_valid(heads.id_numbers) & has_head
    subject = np.zeros(n, dtype=np.uint8)
    subject[np.isnan(features["years_since_survey"])] = SUBJECT_NO_ARCHIVE
    subject[has_head & ~valid] = SUBJECT_ID_INVALID
    subject[~has_head] = SUBJECT_NO_HEAD

    features["applicant_age"] = np.where(has_head, features["head_age"], np.nan)
    features["product_age_min"] = np.full(n, float(terms.age_min))
    features["product_age_max"] = np.full(n, float(terms.age_max))
    features["archive_age_months"] = np.floor(features["years_since_survey"] * 12)
    features["id_shared_households"] = np.where(has_head, 1.0, np.nan)
    since = timezone.now() - timedelta(days=30)
    features.update(_context(bank_id, heads, since, n))

    from risk.lists.selectors import risk_list_levels_for_members

    severity = np.zeros(n, dtype=np.int8)
    entries: list = [()] * n
    levels = risk_list_levels_for_members(
        bank_id=bank_id,
        on_date=on_date,
        member_ids=[m for m, ok in zip(heads.member_ids, valid.tolist(), strict=True) if ok],
    )
    if levels:
        levels = {str(member): level for member, level in levels.items()}
        for i, member in enumerate(heads.member_ids):
            found = levels.get(member)
            if found is not None and valid[i]:
                severity[i] = found.severity
                entries[i] = found.entry_ids

    champion = np.zeros(n, dtype=np.int64)
    challenger = np.zeros(n, dtype=np.int64)
    tables: dict[int, PointsTable] = {}
    for segment in set(segments.tolist()):
        rows_of = segments == segment
        try:
            card, shadow = scorecards.pair(bank_id, segment)
        except ValidationError:  # a refused (synthetic) champion: no scorecard
            card = shadow = None
        if card is None:
            continue
        champion[rows_of] = card.pk
        tables[card.pk] = scorecards.table(card)
        if shadow is not None:
            picked = np.flatnonzero(rows_of)
            assigned = challenger_mask([ids[i] for i in picked], shadow)
            challenger[picked[assigned]] = shadow.pk
            tables[shadow.pk] = scorecards.table(shadow)
    inputs = EngineInputs(
        features=features,
        scorecards=champion,
        tables=tables,
        list_severity=severity,
        list_override=np.zeros(n, dtype=bool),
        subject_problem=subject,
        requested_amount=np.full(n, np.nan),
        challengers=challenger,
    )
    return inputs, heads, entries


def _external_hook(prepared: Prepared, *, bank_id: int, heads: _Heads, valid: np.ndarray, actor):
    def hook(alive: np.ndarray):
        from risk.providers.services import external_data_fetch_columns

        n = len(alive)
        columns = external_columns_empty(n)
        problems = np.zeros((n, len(prepared.sources)), dtype=np.uint8)
        asked = np.flatnonzero(alive & valid)
        if not len(asked):
            return columns, problems
        answer = external_data_fetch_columns(
            bank_id=bank_id,
            id_numbers=[heads.id_numbers[i] for i in asked],
            purpose="campaign",
            asked_by=actor,
            sources=prepared.sources,
        )
        for name, values in answer.columns.items():
            if name in columns:
                columns[name][asked] = values
        for j, source in enumerate(prepared.sources):
            if source in answer.problems:
                problems[asked, j] = answer.problems[source]
        return columns, problems

    return hook


# --- writing ---------------------------------------------------------------------------------------

COPY_COLUMNS = (
    "kind",
    "bank_id",
    "product_id",
    "product_version_id",
    "product_chain",
    "strategy_version_id",
    "job_id",
    "decision_date",
    "decided_at",
    "decided_by_id",
    "rule_set_versions",
    "limit_model_version_id",
    "pricing_model_version_id",
    "lpr",
    "layout_id",
    "device_id",
    "list_override",
    "requested_amount",
    # per row
    "household_id",
    "branch_id",
    "member_id",
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
    "challenger_scorecard_id",
    "challenger_score",
    "challenger_grade",
    "rule_hits",
    "list_level",
    "list_entries",
    "provider_problems",
    "subject_problem",
    "limit_problem",
    "rate_problem",
    "inputs",
)

_N = "\\N"


def _array(values) -> str:
    return "{" + ",".join(map(str, values)) + "}" if values else "{}"


def _fixed(values: np.ndarray, places: int) -> list[str]:
    """Half-up to ``places`` decimals as text (NULL for NaN), as ``decision_fields`` rounds."""
    out = []
    for value in values.tolist():
        if value != value:
            out.append(_N)
        else:
            out.append(f"{_half_up(value, places)}")
    return out


def _half_up(value: float, places: int):
    from decimal import ROUND_HALF_UP, Decimal

    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _hex_rows(matrix: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(matrix).view(np.uint8)
    text = pii.hex_ascii(raw).tobytes().decode("ascii")
    width = raw.shape[1] * 2
    return ["\\\\x" + text[i : i + width] for i in range(0, len(text), width)]


def decisions_copy(
    *,
    job: DecisionJob,
    prepared: Prepared,
    rows: list[tuple],
    heads: _Heads,
    entries: list,
    inputs: EngineInputs,
    result: EngineResult,
    decided_at,
) -> int:
    """COPY one bank's chunk of decisions; the same values ``decision_fields`` gives a row."""
    resolved = prepared.resolved
    terms = resolved.terms
    limit_ran = prepared.flow.first(LIMIT) is not None
    pricing_ran = prepared.flow.first(PRICING) is not None
    constant = "\t".join(
        [
            str(int(DecisionKind.CAMPAIGN)),
            str(rows[0][1]),
            str(job.product_id),
            str(terms.version_id),
            _array(terms.version_ids),
            str(prepared.version.pk),
            str(job.pk),
            job.decision_date.isoformat(),
            decided_at.isoformat(),
            str(job.created_by_id) if job.created_by_id else _N,
            _array(prepared.rule_set_version_ids),
            str(resolved.limit_version.pk) if resolved.limit_version else _N,
            str(resolved.pricing_version.pk) if resolved.pricing_version else _N,
            str(resolved.lpr) if resolved.lpr is not None else _N,
            str(layout_id()),
            "",
            "f",
            _N,
        ]
    )
    scores = _fixed(result.score, 2)
    pds = _fixed(result.probability_of_default, 6)
    challenger_scores = _fixed(result.challenger_score, 2)
    graded = np.array([g is not None for g in result.grade.tolist()], dtype=bool)
    rates = (
        np.where((result.rate_problem == 0) & graded, result.rate_units, -1).tolist()
        if pricing_ran
        else [-1] * len(rows)
    )
    limits = result.limit.tolist()
    hexes = _hex_rows(snapshot_matrix(result.features))
    buffer = io.StringIO()
    write = buffer.write
    scale = 10**RATE_PLACES
    for i, (household_id, _bank, branch_id, _head) in enumerate(rows):
        member = heads.member_ids[i]
        grade = result.grade[i]
        challenger_grade = result.challenger_grade[i]
        problems = [int(p) for p in result.provider_problems[i].tolist() if p]
        rate = rates[i]
        fields = (
            str(household_id),
            str(branch_id) if branch_id is not None else _N,
            str(member) if member is not None else _N,
            OUTCOME_NAMES[int(result.outcome[i])],
            result.primary[i],
            result.primary_source[i],
            _array(result.reasons[i]),
            _array(result.approval_levels[i]),
            str(limits[i]) if limit_ran else _N,
            f"{rate // scale}.{rate % scale:0{RATE_PLACES}d}" if rate >= 0 else _N,
            scores[i],
            grade or "",
            pds[i],
            str(inputs.scorecards[i]) if inputs.scorecards[i] else _N,
            str(inputs.challengers[i]) if inputs.challengers[i] else _N,
            challenger_scores[i],
            challenger_grade or "",
            _array(result.rule_hits[i]),
            str(int(inputs.list_severity[i])),
            _array(entries[i]),
            _array(problems),
            str(int(inputs.subject_problem[i])),
            str(int(result.limit_problem[i])),
            str(int(result.rate_problem[i])),
            hexes[i],
        )
        write(constant)
        write("\t")
        write("\t".join(fields))
        write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {Decision._meta.db_table} ({', '.join(COPY_COLUMNS)}) FROM STDIN",
            buffer,
        )
    return len(rows)


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
