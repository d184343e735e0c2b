"""The decision engine: one application decided in-process, and a bank's million households
decided in batch through the full strategy.

Numbers from the decision engine issue:

- one decision in-process (``risk.decisions.services.decision_make``: risk lists, the ≥ 40 rules
  of the seeded anti-fraud and admission rule sets, the sandbox providers with a warm cache,
  the champion scorecard, limit and pricing, and the stored decision row): p50 ≤ 3 ms, p99 ≤
  10 ms. Every call runs inside one transaction rolled back at the end (decisions are immutable:
  the bench must leave none behind); a first pass warms the providers' cache. Baseline: the
  engine alone (``strategy_run``) on the same applicants' inputs already in memory.
- a campaign batch: 1,000,000 households (quick: 50,000) through the same strategy and stored,
  its chunks run by four forked processes as a Celery worker with four processes would, ≤ 180 s,
  and ≤ 4× a numpy-and-COPY baseline measured in the same run: the same households' feature matrix (loaded beforehand, untimed) turned into
  outcome, limit and rate columns by hand-written numpy (the catalogue's reject thresholds, the
  limit formula's income and asset parts, a spread by grade) and COPYed, with the decision
  table's width of values, into a plain table with no index, constraint or trigger. The job's
  decisions are purged afterwards (``decision_job_purge``); the providers' cache starts cold the
  first time and is warm after, as a monthly re-run of a campaign would find it.

The households are the scoring bench's bank (``SXRCU-BENCH-M`` / ``-Q``: households and their
feature rows), given a head of household each (a valid ID number, encrypted as the import
stores it) the first time, by COPY with the triggers set aside (``session_replication_role``).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import statistics
import time
import uuid

import numpy as np
from django.db import connection, connections, transaction

from bench.scoring_bench import ensure_bench_households
from common import pii
from products.models import Product
from risk.decisions.batch import (
    CHUNK_SIZE,
    decision_chunk_run,
    decision_job_create,
    decision_job_purge,
    decision_job_start,
)
from risk.decisions.engine import strategy_run
from risk.decisions.inputs import applicant_gather
from risk.decisions.models import Decision, DecisionJob
from risk.decisions.selectors import strategy_version_effective
from risk.decisions.services import decision_make, prepared_for, strategy_prepare
from risk.features import FEATURE_NAMES
from risk.models import HouseholdFeatures
from villages.models import Household, Member

PRODUCT = "SX-XYD-NH"
# Worker processes running chunks, as the scoring bench's (``bench.scoring_bench.WORKERS``): a
# chunk waits on PostgreSQL about half its time, so two processes per CPU keep both CPUs busy.
WORKERS = 4
DEMO_BANK = "SXRCU-YD"
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


# --- bench data ----------------------------------------------------------------------------------


def _id_numbers(count: int, seed: int) -> list[str]:
    """``count`` distinct valid ID numbers of people born 1960–2000 in 尧都区."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 365 * 40, size=count)
    births = np.datetime64("1960-01-01") + days.astype("timedelta64[D]")
    text = np.datetime_as_string(births, unit="D")
    sequence = np.arange(count) % 1000
    bodies = [
        f"141002{t[:4]}{t[5:7]}{t[8:10]}{s:03d}"
        for t, s in zip(text.tolist(), sequence.tolist(), strict=True)
    ]
    raw = np.frombuffer("".join(bodies).encode(), np.uint8).reshape(-1, 17).astype(np.int64) - 48
    check = _CHECK[(raw * _WEIGHTS).sum(axis=1) % 11].tobytes().decode()
    numbers = [b + c for b, c in zip(bodies, check, strict=True)]
    seen = set()
    out = []
    for n in numbers:  # the same birthday and sequence twice: shift the sequence
        while n in seen:
            n = n[:14] + f"{(int(n[14:17]) + 1) % 1000:03d}"
            body = np.frombuffer(n[:17].encode(), np.uint8).astype(np.int64) - 48
            n = n[:17] + chr(_CHECK[(body * _WEIGHTS).sum() % 11])
        seen.add(n)
        out.append(n)
    return out


def ensure_heads(bank) -> int:
    """A head of household for every bench household that has none; also the features'
    ``debts`` amount where the rows predate it. Returns the households given a head."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {HouseholdFeatures._meta.db_table} SET debts = round("
            "(debt_ratio * total_assets)::numeric, 2) WHERE bank_id = %s AND debts IS NULL "
            "AND debt_ratio IS NOT NULL AND total_assets IS NOT NULL",
            [bank.pk],
        )
        cursor.execute(
            f"SELECT h.id, f.head_age FROM {Household._meta.db_table} h "
            f"LEFT JOIN {HouseholdFeatures._meta.db_table} f ON f.household_id = h.id "
            "WHERE h.bank_id = %s AND h.head_id IS NULL ORDER BY h.id",
            [bank.pk],
        )
        missing = cursor.fetchall()
    if not missing:
        return 0
    numbers = _id_numbers(len(missing), seed=20261205 + bank.pk)
    crypto = pii.ColumnCrypto(pii.ID_NUMBER)
    encrypted = crypto.encrypt_hex(numbers)
    hashes = crypto.hash_hex(numbers)
    phones = [f"139{n:08d}" for n in range(len(missing))]
    phone_crypto = pii.ColumnCrypto(pii.PHONE)
    phone_encrypted = phone_crypto.encrypt_hex(phones)
    phone_hashes = phone_crypto.hash_hex(phones)
    # COPY's text format reads a backslash as an escape: each bytea's ``\x`` is written ``\\x``.
    encrypted, hashes, phone_encrypted, phone_hashes = (
        ["\\" + value for value in column]
        for column in (encrypted, hashes, phone_encrypted, phone_hashes)
    )
    buffer = io.StringIO()
    member_ids = []
    for i, (household_id, _age) in enumerate(missing):
        member_id = uuid.uuid4()
        member_ids.append((member_id, household_id))
        number = numbers[i]
        birth = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
        sex = "M" if int(number[16]) % 2 else "F"
        buffer.write(
            f"{member_id}\t{household_id}\t{bank.pk}\t户主{i}\t{encrypted[i]}\t{hashes[i]}\t"
            f"{sex}\t{birth}\thead\t\t\t\t{phone_encrypted[i]}\t{phone_hashes[i]}\tnow\tnow\n"
        )
    buffer.seek(0)
    with transaction.atomic(), connection.cursor() as cursor:
        # Bench data, consistent by construction: no history events, no per-row foreign-key
        # checks. ``pgtrigger.ignore`` would not do: it rides on ``execute`` and a COPY
        # bypasses it, so every member used to write its history event (50,000 heads: 19 s).
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.copy_expert(
            f"COPY {Member._meta.db_table} (id, household_id, bank_id, name, id_number, "
            "id_number_hash, sex, birth_date, relation, education, occupation, health, phone, "
            "phone_hash, created_at, updated_at) FROM STDIN",
            buffer,
        )
        heads = io.StringIO("".join(f"{m}\t{h}\n" for m, h in member_ids))
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_heads (member uuid, household uuid) ON COMMIT DROP"
        )
        cursor.copy_expert("COPY bench_heads FROM STDIN", heads)
        cursor.execute(
            f"UPDATE {Household._meta.db_table} h SET head_id = b.member FROM bench_heads b "
            "WHERE h.id = b.household"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Member._meta.db_table}")
    return len(missing)


# --- one decision ----------------------------------------------------------------------------------


def one_decision(repeat: int) -> tuple[float, float, float]:
    """(p50, p99) of ``decision_make`` in ms, and the engine alone's p99 on the same inputs."""
    from threadpoolctl import threadpool_limits

    product = Product.objects.get(code=PRODUCT)
    households = list(
        Household.objects.filter(bank__code=DEMO_BANK, head__isnull=False)
        .select_related("head", "village")
        .order_by("pk")[:50]
    )
    samples, engine_samples = [], []
    with threadpool_limits(limits=1), transaction.atomic():
        for household in households:  # warm: the providers' cache, prepared statements
            decision_make(household=household, product=product)
        for n in range(repeat):
            started = time.perf_counter()
            decision_make(household=households[n % len(households)], product=product)
            samples.append(time.perf_counter() - started)
        household = households[0]
        version = strategy_version_effective(
            product=product, bank_id=household.bank_id, on_date=_today()
        )
        from products.selectors import product_terms_effective

        terms = product_terms_effective(
            product=product, on_date=_today(), bank_id=household.bank_id
        )
        prepared = strategy_prepare(
            version=version, bank_id=household.bank_id, terms=terms, on_date=_today()
        )
        gathered = [
            applicant_gather(
                household=h, member=None, terms=terms, on_date=_today(), requested_amount=None
            )
            for h in households
        ]
        for n in range(repeat):
            inputs = gathered[n % len(gathered)].inputs
            started = time.perf_counter()
            strategy_run(
                prepared.flow, prepared.resolved, inputs, external=None, sources=prepared.sources
            )
            engine_samples.append(time.perf_counter() - started)
        transaction.set_rollback(True)
    q = statistics.quantiles(samples, n=100)
    e = statistics.quantiles(engine_samples, n=100)
    return q[49] * 1000, q[98] * 1000, e[98] * 1000


def _today():
    from common.clock import business_today

    return business_today()


# --- the batch -----------------------------------------------------------------------------------


def _run_chunk(args: tuple) -> int:
    job_id, first, last = args
    return decision_chunk_run(job_id=job_id, first=first, last=last)


def batch(bank, workers: int) -> tuple[float, int, dict]:
    """The job's chunks in ``workers`` forked processes, as that many Celery worker processes
    would; the job's decisions purged afterwards (untimed)."""
    product = Product.objects.get(code=PRODUCT)
    households = Household.objects.filter(bank=bank).count()
    size = min(CHUNK_SIZE, max(2_500, households // (4 * workers)))
    job = decision_job_create(product=product, actor=None, bank=bank, enqueue=False)
    # Compile the strategy's rule sets once before forking, as a worker that has run a chunk
    # before has them (building the rule language's parser tables takes a third of a second).
    prepared_for(product=product, bank_id=bank.pk, on_date=job.decision_date)
    try:
        started = time.perf_counter()
        ranges = decision_job_start(job_id=job.pk, size=size, enqueue=False)
        connections.close_all()  # each process opens its own connection
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            for _ in pool.imap_unordered(_run_chunk, [(job.pk, f, t) for f, t in ranges]):
                pass
        elapsed = time.perf_counter() - started
        job.refresh_from_db()
        if job.status != DecisionJob.Status.DONE or job.households_done != households:
            raise RuntimeError(f"bench job ended {job.status}: {job.households_done} decided")
        counts = {"approve": job.approved, "refer": job.referred, "reject": job.rejected}
        return elapsed, job.households_done, counts
    finally:
        decision_job_purge(job_id=job.pk)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {Decision._meta.db_table}")


def raw_baseline(bank) -> float:
    """Hand-written numpy over the same features, and a COPY of the same number of rows of the
    decision table's width into a bare table; the features are loaded first, untimed."""
    names = list(FEATURE_NAMES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT household_id, {', '.join(names)} FROM {HouseholdFeatures._meta.db_table} "
            "WHERE bank_id = %s ORDER BY household_id",
            [bank.pk],
        )
        rows = cursor.fetchall()
    ids = [r[0] for r in rows]
    X = np.array([r[1:] for r in rows], dtype=np.float64)
    col = {name: X[:, j] for j, name in enumerate(names)}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_decisions (household_id uuid, outcome text, "
            "reason_codes text[], limit_amount numeric, rate numeric, score numeric, grade text, "
            "pd numeric, rule_hits int[], inputs bytea) ON COMMIT DROP"
        )
        started = time.perf_counter()
        income = np.nan_to_num(col["net_income"])
        assets = np.nan_to_num(col["total_assets"]) - np.nan_to_num(col["debts"])
        reject = (col["debt_ratio"] > 1.0) | (col["peer_colour_rank"] == 0) | (col["head_age"] > 65)
        refer = (col["peer_colour_rank"] == 1) | np.isnan(col["net_income"])
        score = (
            600
            + 20 * np.log2(np.maximum(income, 1) / 30000)
            - 40 * np.nan_to_num(col["debt_ratio"])
        )
        grade_index = np.digitize(score, [560, 590, 620, 650])
        limit = np.floor(np.clip(np.minimum(income * 3, assets * 0.5), 0, 300000) / 1000) * 1000
        rate = 3.1 + np.array([2.0, 1.5, 1.0, 0.7, 0.45])[grade_index]
        outcome = np.where(reject, "reject", np.where(refer, "refer", "approve"))
        grades = np.array(["C", "B", "A", "AA", "AAA"])[grade_index]
        snapshot = np.ascontiguousarray(np.column_stack([X, np.zeros((len(X), 25))]), dtype="<f8")
        hexes = pii.hex_ascii(snapshot.view(np.uint8)).tobytes().decode()
        width = snapshot.shape[1] * 16
        buffer = io.StringIO()
        for i, household in enumerate(ids):
            buffer.write(
                f"{household}\t{outcome[i]}\t{{}}\t{limit[i]:.0f}\t{rate[i]:.4f}\t{score[i]:.2f}\t"
                f"{grades[i]}\t0.01\t{{}}\t\\\\x{hexes[i * width : (i + 1) * width]}\n"
            )
        buffer.seek(0)
        cursor.copy_expert("COPY bench_decisions FROM STDIN", buffer)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


# --- the benchmark -----------------------------------------------------------------------------


def run(*, quick: bool) -> list[dict]:
    bank = ensure_bench_households(quick)
    ensure_heads(bank)
    p50, p99, engine_p99 = one_decision(200 if quick else 1000)
    baseline_s = raw_baseline(bank)
    workers = max(1, min(WORKERS, 2 * (os.cpu_count() or 1)))
    batch_s, households, counts = batch(bank, workers)
    size = f"{households // 1000}k_{workers}proc"
    print(f"decision batch outcomes: {counts}")
    goal = 180.0 * households / 1_000_000 if quick else 180.0
    return [
        {
            "name": "decision_one_p50",
            "value": round(p50, 3),
            "unit": "ms",
            "goal": 3.0,
            "baseline": round(engine_p99, 3),
            "ratio": round(p50 / engine_p99, 2),
        },
        {
            "name": "decision_one_p99",
            "value": round(p99, 3),
            "unit": "ms",
            "goal": 10.0,
            "baseline": round(engine_p99, 3),
            "ratio": round(p99 / engine_p99, 2),
        },
        {
            "name": f"decision_batch_{size}_households",
            "value": round(batch_s, 3),
            "unit": "s",
            "goal": goal,
            "baseline": round(baseline_s, 3),
            "ratio": round(batch_s / baseline_s, 2),
        },
    ]
