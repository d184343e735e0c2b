"""Back-testing (回测): a draft strategy run over a bank's stored decisions of a period.

Number from the decision engine issue: a back-test of a draft strategy over 1,000,000 stored
decisions ≤ 120 s (quick: 50,000, the same rate). Timed: ``backtest_run`` as the Celery task
runs it, one process — the period's decisions read in chunks of 100,000 by binary COPY, the
candidate run over each chunk from the snapshots, both sides counted, the changed decisions
written. Baseline, in the same run: the floor, reading the same decisions' snapshots into one
numpy matrix (one binary COPY of the ``inputs`` column and ``np.frombuffer``).

The stored decisions are the scoring bench's bank (``SXRCU-BENCH-M`` / ``-Q``: households and
their feature rows), decided once per run by the bank's active strategy as a campaign batch
would decide them — the engine over the feature rows in chunks, external answers drawn by the
sandbox providers' own column functions from synthetic ID numbers (no provider call, no cache
row), a few list hits and provider timeouts — and COPYed straight into the decision table with
the batch's own writer (``risk.decisions.batch.decisions_copy``): real layout, snapshots,
scorecards and versions. The candidate is a draft of that strategy rejecting grade B as well.
The decisions are purged afterwards (``decision_job_purge``), as the decision bench purges its.
"""

from __future__ import annotations

import io
import time
from types import SimpleNamespace

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils.module_loading import import_string

from bench.decision_bench import _id_numbers
from bench.scoring_bench import ensure_bench_households
from products.models import Product
from risk.bulk_scoring import Scorecards
from risk.decisions.backtest import backtest_create, backtest_run
from risk.decisions.batch import (
    decision_job_create,
    decision_job_purge,
    decisions_copy,
    feature_columns,
)
from risk.decisions.definition import SCORECARD
from risk.decisions.engine import SUBJECT_NO_ARCHIVE, EngineInputs, strategy_run
from risk.decisions.inputs import LAYOUT_NAMES
from risk.decisions.models import Decision, StrategyVersion
from risk.decisions.services import prepared_for, strategy_create, strategy_version_update
from risk.external_features import CONTEXT_FEATURE_NAMES, EXTERNAL_FEATURE_NAMES, EXTERNAL_SOURCES
from risk.providers.base import problem_index
from risk.providers.sandbox import SANDBOX_PROVIDERS
from risk.scoring import PointsTable
from villages.models import Household, Village

PRODUCT = "SX-XYD-NH"
CHUNK = 100_000
DRAFT_CODE = "BENCH_BACKTEST_DRAFT"
GREY_SHARE, PROHIBIT_SHARE, TIMEOUT_SHARE = 0.004, 0.002, 0.005


# --- stored decisions ------------------------------------------------------------------------


def _inputs(ids: list, terms, on_date, scorecards: Scorecards, bank_id: int, rng) -> EngineInputs:
    """A campaign's inputs for the bench households: their feature rows, the head's age as the
    applicant's, no requested amount; a few on the lists."""
    n = len(ids)
    features, segments = feature_columns(ids, on_date)
    for name in (*EXTERNAL_FEATURE_NAMES, *CONTEXT_FEATURE_NAMES):
        features[name] = np.full(n, np.nan)
    features["applicant_age"] = features["head_age"].copy()
    features["product_age_min"] = np.full(n, float(terms.age_min))
    features["product_age_max"] = np.full(n, float(terms.age_max))
    features["archive_age_months"] = np.floor(features["years_since_survey"] * 12)
    features["id_shared_households"] = np.ones(n)
    features["applications_30d"] = np.zeros(n)
    subject = np.zeros(n, dtype=np.uint8)
    subject[np.isnan(features["years_since_survey"])] = SUBJECT_NO_ARCHIVE
    draw = rng.random(n)
    severity = np.where(
        draw < PROHIBIT_SHARE, 3, np.where(draw < PROHIBIT_SHARE + GREY_SHARE, 1, 0)
    )
    champion = np.zeros(n, dtype=np.int64)
    tables: dict[int, PointsTable] = {}
    for segment in set(segments.tolist()):
        card, _shadow = scorecards.pair(bank_id, segment)
        if card is not None:
            champion[segments == segment] = card.pk
            tables[card.pk] = scorecards.table(card)
    return EngineInputs(
        features=features,
        scorecards=champion,
        tables=tables,
        list_severity=severity.astype(np.int8),
        list_override=np.zeros(n, dtype=bool),
        subject_problem=subject,
        requested_amount=np.full(n, np.nan),
        challengers=np.zeros(n, dtype=np.int64),  # no shadow: a back-test reads none
    )


def _sandbox_hook(id_numbers: list[str], sources, rng):
    """The sandbox providers' answers for the rows asked, computed by their column functions;
    a few credit reports time out."""
    providers = {s: import_string(SANDBOX_PROVIDERS[s])() for s in EXTERNAL_SOURCES}
    timeout = problem_index("credit_report", "timeout")

    def hook(alive: np.ndarray):
        n = len(alive)
        columns = {name: np.full(n, np.nan) for name in EXTERNAL_FEATURE_NAMES}
        problems = np.zeros((n, len(sources)), dtype=np.uint8)
        asked = np.flatnonzero(alive)
        numbers = [id_numbers[i] for i in asked]
        failed = rng.random(len(asked)) < TIMEOUT_SHARE
        for j, source in enumerate(sources):
            answered = providers[source].columns(numbers)
            for name, values in answered.items():
                if name in columns:
                    if source == "credit_report":
                        values = np.where(failed, np.nan, values)
                    columns[name][asked] = values
            if source == "credit_report":
                problems[asked[failed], j] = timeout
        return columns, problems

    return hook


def store_decisions(bank) -> tuple[object, int]:
    """A campaign job's worth of decisions for every bench household, COPYed; returns the job
    and the seconds it took (untimed by the bench)."""
    started = time.perf_counter()
    product = Product.objects.get(code=PRODUCT)
    job = decision_job_create(product=product, actor=None, bank=bank, enqueue=False)
    prepared = prepared_for(product=product, bank_id=bank.pk, on_date=job.decision_date)
    terms = prepared.resolved.terms
    scorecards = Scorecards()
    rng = np.random.default_rng(20261205)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT h.id::text, v.branch_id FROM {Household._meta.db_table} h "
            f"JOIN {Village._meta.db_table} v ON v.id = h.village_id "
            "WHERE h.bank_id = %s ORDER BY h.id",
            [bank.pk],
        )
        households = cursor.fetchall()
    numbers = _id_numbers(len(households), seed=20261205)
    decided_at = job.created_at
    for start in range(0, len(households), CHUNK):
        part = households[start : start + CHUNK]
        ids = [h for h, _ in part]
        inputs = _inputs(ids, terms, job.decision_date, scorecards, bank.pk, rng)
        hook = _sandbox_hook(numbers[start : start + CHUNK], prepared.sources, rng)
        result = strategy_run(
            prepared.flow, prepared.resolved, inputs, external=hook, sources=prepared.sources
        )
        with transaction.atomic():
            decisions_copy(
                job=job,
                prepared=prepared,
                rows=[(h, bank.pk, branch, None) for h, branch in part],
                heads=SimpleNamespace(member_ids=[None] * len(part)),
                entries=[()] * len(part),
                inputs=inputs,
                result=result,
                decided_at=decided_at,
            )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Decision._meta.db_table}")
    return job, time.perf_counter() - started


# --- the candidate ------------------------------------------------------------------------------


def draft_rejecting_grade_b(active: StrategyVersion) -> StrategyVersion:
    """A draft of the active strategy's flow with grade B rejected too (kept between runs)."""
    fed = get_user_model().objects.get(username="fed_admin")
    definition = {
        **active.definition,
        "nodes": [
            {**node, "reject_grades": sorted({*node.get("reject_grades", []), "B"})}
            if node["kind"] == SCORECARD
            else node
            for node in active.definition["nodes"]
        ],
    }
    draft = StrategyVersion.objects.filter(model__code=DRAFT_CODE, status="draft").first()
    if draft is None:
        return strategy_create(
            actor=fed,
            code=DRAFT_CODE,
            name="回测基准:B级拒绝草稿",
            definition=definition,
            is_default=False,
        )
    return strategy_version_update(version=draft, actor=fed, definition=definition)


# --- the floor -----------------------------------------------------------------------------------


def snapshots_floor(bank, on_date) -> tuple[float, int]:
    """Seconds to read the same decisions' snapshots into one numpy matrix."""
    width = 8 * len(LAYOUT_NAMES)
    started = time.perf_counter()
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        query = cursor.mogrify(
            f"SELECT inputs FROM {Decision._meta.db_table} "
            "WHERE bank_id = %s AND decision_date = %s AND kind <> 3",
            [bank.pk, on_date],
        ).decode()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT (FORMAT binary)", buffer)
    raw = buffer.getbuffer()
    record = np.dtype([("fields", ">i2"), ("length", ">i4"), ("inputs", "<f8", (width // 8,))])
    start = 19 + int.from_bytes(bytes(raw[15:19]), "big")
    count = (len(raw) - start - 2) // record.itemsize
    matrix = np.frombuffer(raw, dtype=record, count=count, offset=start)["inputs"]
    elapsed = time.perf_counter() - started
    assert matrix.shape == (count, width // 8)
    return elapsed, count


# --- the benchmark -------------------------------------------------------------------------------


def run(*, quick: bool) -> list[dict]:
    bank = ensure_bench_households(quick)
    job, stored_s = store_decisions(bank)
    try:
        product = Product.objects.get(code=PRODUCT)
        active = prepared_for(product=product, bank_id=bank.pk, on_date=job.decision_date).version
        draft = draft_rejecting_grade_b(active)
        floor_s, count = snapshots_floor(bank, job.decision_date)
        backtest = backtest_create(
            actor=None,
            candidate=draft,
            period_from=job.decision_date,
            period_to=job.decision_date,
            bank=bank,
            enqueue=False,
        )
        started = time.perf_counter()
        backtest = backtest_run(backtest_id=backtest.pk)
        elapsed = time.perf_counter() - started
    finally:
        decision_job_purge(job_id=job.pk)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {Decision._meta.db_table}")
    if backtest.status != "done" or backtest.decisions != count:
        raise RuntimeError(f"bench back-test ended {backtest.status}: {backtest.error}")
    summary = backtest.summary
    print(
        f"backtest: {count} decisions stored in {stored_s:.1f} s; "
        f"{backtest.changed} would change ({backtest.changes_listed} listed); "
        f"approval {summary['baseline']['approval_rate']} → {summary['candidate']['approval_rate']}"
    )
    goal = 120.0 * count / 1_000_000 if quick else 120.0
    return [
        {
            "name": f"backtest_{count // 1000}k_decisions",
            "value": round(elapsed, 3),
            "unit": "s",
            "goal": round(goal, 3),
            "baseline": round(floor_s, 3),
            "ratio": round(elapsed / floor_s, 2),
        }
    ]
