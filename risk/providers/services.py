"""Asking the external data providers, for one applicant or a column of them.

``external_data_fetch`` (an application, a what-if): one indexed read of the bank's cache row
for the subject; every source whose answer is older than its time to live is called (with its
timeout), logged, and cached when it succeeded. ``external_data_fetch_columns`` (a campaign
chunk): the same over a column — one read of the chunk's cache rows, one call per source for
the subjects it misses (``answer_many`` when the provider answers columns, else ``fetch_many``),
one log row per source and chunk, and the new answers upserted through one COPY. The two give
the same values, problems and cache rows for the same subjects (a test holds them equal).

A failure never raises to the caller: a timeout (the provider's own, or an answer later than the
source's timeout), a 5xx, a malformed or an empty answer, or any exception of a provider's code,
is a problem ``(source, reason code, 中文原因)``; its source's features stay missing, nothing is
cached, and the decision engine refers the application with that reason.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from django.utils import timezone

from common import pii
from risk.bulk_scoring import array_text
from risk.external_features import EXTERNAL_FEATURE_NAMES, EXTERNAL_SOURCES
from risk.providers.base import (
    FEATURES_BY_SOURCE,
    KINDS,
    TIMEOUT,
    UNAVAILABLE,
    ProviderError,
    ProviderTimeout,
    Subject,
    problem_index,
    provider_problem,
)
from risk.providers.models import ProviderCacheEntry, ProviderCall
from risk.providers.registry import provider_for

logger = logging.getLogger(__name__)

SOURCES = tuple(EXTERNAL_SOURCES)
SOURCE_SLOT = {source: i for i, source in enumerate(SOURCES)}
FEATURE_SLOT = {name: i for i, name in enumerate(EXTERNAL_FEATURE_NAMES)}
SOURCE_FEATURE_SLOTS = {
    source: [FEATURE_SLOT[name] for name in FEATURES_BY_SOURCE[source]] for source in SOURCES
}
CACHE_TABLE = ProviderCacheEntry._meta.db_table


@dataclass(frozen=True)
class ExternalData:
    features: dict[str, float | None]
    problems: tuple[tuple[str, str, str], ...] = ()
    origins: dict[str, tuple[str, int | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class ExternalColumns:
    columns: dict[str, np.ndarray]
    problems: dict[str, np.ndarray]  # per source: uint8 indexes into PROVIDER_PROBLEMS


def _blank_row() -> tuple[list, list, list]:
    return [None] * len(EXTERNAL_FEATURE_NAMES), [None] * len(SOURCES), [None] * len(SOURCES)


def _call_one(configured, subject: Subject) -> tuple[str, dict | None, dict | None, float]:
    """(outcome, raw response, parsed features, latency ms) of one call; never raises."""
    started = time.perf_counter()
    raw = parsed = None
    try:
        raw = configured.provider.fetch(subject, timeout=configured.timeout)
        elapsed = time.perf_counter() - started
        if elapsed > configured.timeout:
            raise ProviderTimeout(f"{elapsed:.3f}s")
        parsed = configured.provider.parse(raw)
        outcome = "ok"
    except ProviderError as error:
        outcome = error.kind
    except Exception:  # a provider's own bug: refer, never approve
        logger.exception("external data provider %s failed", configured.path)
        outcome = UNAVAILABLE
    latency = (time.perf_counter() - started) * 1000
    return outcome, (raw if isinstance(raw, dict) else None), parsed, latency


def external_data_fetch(
    *,
    bank_id: int,
    subject: Subject,
    purpose: str,
    asked_by=None,
    sources: Sequence[str] | None = None,
    household_id=None,
    member_id=None,
    now=None,
    subject_hash: bytes | None = None,
) -> ExternalData:
    """The external features of one subject for ``bank_id``, from the cache or the providers
    (``subject_hash``: the ID number's stored blind index, when the caller has it)."""
    sources = tuple(sources or SOURCES)
    subject_hash = subject_hash or pii.blind_index(subject.id_number, pii.ID_NUMBER)
    now = now or timezone.now()
    stamp = now.timestamp()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT values, fetched, calls FROM {CACHE_TABLE} "
            "WHERE bank_id = %s AND subject_hash = %s",
            [bank_id, subject_hash],
        )
        row = cursor.fetchone()
    values, fetched, calls = (list(r) for r in row) if row else _blank_row()
    features: dict[str, float | None] = {}
    problems, origins, changed = [], {}, False
    user = (
        asked_by if asked_by is not None and getattr(asked_by, "is_authenticated", False) else None
    )
    answered = []
    for source in sources:
        configured = provider_for(source)
        slot = SOURCE_SLOT[source]
        if fetched[slot] is not None and fetched[slot] + configured.ttl > stamp:
            for name in FEATURES_BY_SOURCE[source]:
                features[name] = values[FEATURE_SLOT[name]]
            origins[source] = ("cache", calls[slot])
            continue
        outcome, raw, parsed, latency = _call_one(configured, subject)
        call = ProviderCall(
            source=source,
            provider=configured.path,
            bank_id=bank_id,
            asked_by=user,
            purpose=purpose,
            subject_hash=subject_hash,
            household_id=household_id,
            subjects=1,
            started_at=now,
            latency_ms=round(latency, 3),
            outcome=outcome,
            response=raw,
        )
        answered.append((source, call, outcome, parsed))
    # One INSERT for every source asked (a first-time applicant asks all five).
    ProviderCall.objects.bulk_create([call for _, call, _, _ in answered])
    for source, call, outcome, parsed in answered:
        slot, names = SOURCE_SLOT[source], FEATURES_BY_SOURCE[source]
        origins[source] = ("call", call.pk)
        if outcome == "ok":
            for name in names:
                value = parsed.get(name)
                values[FEATURE_SLOT[name]] = None if value is None else float(value)
                features[name] = values[FEATURE_SLOT[name]]
            fetched[slot], calls[slot], changed = stamp, call.pk, True
        else:
            code, text = provider_problem(problem_index(source, outcome))
            problems.append((source, code, text))
            for name in names:
                features[name] = None
    if changed:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {CACHE_TABLE} (bank_id, subject_hash, values, fetched, calls) "
                "VALUES (%s, %s, %s::float8[], %s::float8[], %s::bigint[]) "
                "ON CONFLICT (bank_id, subject_hash) DO UPDATE SET values = EXCLUDED.values, "
                "fetched = EXCLUDED.fetched, calls = EXCLUDED.calls",
                [bank_id, subject_hash, values, fetched, calls],
            )
    return ExternalData(features=features, problems=tuple(problems), origins=origins)


# --- a column of subjects ----------------------------------------------------------------------


def external_data_fetch_columns(
    *,
    bank_id: int,
    id_numbers: Sequence[str],
    purpose: str,
    asked_by=None,
    sources: Sequence[str] | None = None,
    now=None,
) -> ExternalColumns:
    """``external_data_fetch`` for a column of subjects: float64 columns (NaN missing) of every
    external feature, and per source the problem index of each subject (0: answered)."""
    sources = tuple(sources or SOURCES)
    ids = list(id_numbers)
    n = len(ids)
    now = now or timezone.now()
    stamp = now.timestamp()
    hashes = [bytes.fromhex(h[2:]) for h in pii.ColumnCrypto(pii.ID_NUMBER).hash_hex(ids)]
    position = {h: i for i, h in enumerate(hashes)}
    values = np.full((n, len(EXTERNAL_FEATURE_NAMES)), np.nan)
    fetched = np.full((n, len(SOURCES)), np.nan)
    calls = np.zeros((n, len(SOURCES)), dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT subject_hash, values, fetched, calls FROM {CACHE_TABLE} "
            "WHERE bank_id = %s AND subject_hash = ANY(%s::bytea[])",
            [bank_id, hashes],
        )
        cached = cursor.fetchall()
    if cached:
        at = np.fromiter((position[bytes(r[0])] for r in cached), np.int64, len(cached))
        values[at] = np.array([r[1] for r in cached], dtype=np.float64)
        fetched[at] = np.array([r[2] for r in cached], dtype=np.float64)
        calls[at] = np.array([[c or 0 for c in r[3]] for r in cached], dtype=np.int64)
    problems = {source: np.zeros(n, dtype=np.uint8) for source in sources}
    failed = np.zeros((n, len(SOURCES)), dtype=bool)
    changed = np.zeros(n, dtype=bool)
    user = (
        asked_by if asked_by is not None and getattr(asked_by, "is_authenticated", False) else None
    )
    for source in sources:
        configured = provider_for(source)
        slot = SOURCE_SLOT[source]
        miss = np.flatnonzero(~(fetched[:, slot] + configured.ttl > stamp))
        if not len(miss):
            continue
        asked = [ids[i] for i in miss]
        started = time.perf_counter()
        columns, kinds = _answer_many(configured, asked)
        latency = (time.perf_counter() - started) * 1000
        ok = kinds == ""
        counts = {kind: int((kinds == kind).sum()) for kind in ("", *KINDS)}
        counts = {("ok" if k == "" else k): c for k, c in counts.items() if c}
        outcome = "ok" if ok.all() else (next(iter(counts)) if len(counts) == 1 else "mixed")
        call = ProviderCall.objects.create(
            source=source,
            provider=configured.path,
            bank_id=bank_id,
            asked_by=user,
            purpose=purpose,
            subject_hash=b"",
            subjects=len(miss),
            started_at=now,
            latency_ms=round(latency, 3),
            outcome=outcome,
            outcome_counts=counts,
        )
        rows = miss[ok]
        for name, column in columns.items():
            values[rows, FEATURE_SLOT[name]] = np.asarray(column, dtype=np.float64)[ok]
        fetched[rows, slot] = stamp
        calls[rows, slot] = call.pk
        changed[rows] = True
        bad = miss[~ok]
        failed[bad, slot] = True
        for kind in set(kinds[~ok].tolist()):
            problems[source][miss[kinds == kind]] = problem_index(source, kind)
    if changed.any():
        _cache_write(
            bank_id,
            [hashes[i] for i in np.flatnonzero(changed)],
            values[changed],
            fetched[changed],
            calls[changed],
        )
    out = {}
    for name in EXTERNAL_FEATURE_NAMES:
        out[name] = values[:, FEATURE_SLOT[name]].copy()
    for source in sources:
        for name in FEATURES_BY_SOURCE[source]:
            out[name][failed[:, SOURCE_SLOT[source]]] = np.nan
    for source in SOURCES:
        if source not in sources:
            for name in FEATURES_BY_SOURCE[source]:
                out[name][:] = np.nan
    return ExternalColumns(columns=out, problems=problems)


def _answer_many(configured, id_numbers: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    provider = configured.provider
    n = len(id_numbers)
    if provider.answer_many is not None:
        try:
            columns, kinds = provider.answer_many(id_numbers)
            return columns, np.asarray(kinds, dtype=object)
        except Exception:
            logger.exception("external data provider %s failed on a column", configured.path)
            return {}, np.full(n, UNAVAILABLE, dtype=object)
    columns = {name: np.full(n, np.nan) for name in provider.features}
    kinds = np.full(n, "", dtype=object)
    for i, number in enumerate(id_numbers):
        outcome, _raw, parsed, _latency = _call_one(configured, Subject(id_number=number))
        if outcome != "ok":
            kinds[i] = outcome
            continue
        for name in provider.features:
            value = parsed.get(name)
            columns[name][i] = np.nan if value is None else float(value)
    return columns, kinds


def _cache_write(bank_id: int, hashes: list[bytes], values, fetched, calls) -> None:
    buffer = io.StringIO()
    value_texts, fetched_texts = array_text(values), array_text(fetched)
    for h, v, f, c in zip(hashes, value_texts, fetched_texts, calls.tolist(), strict=True):
        buffer.write(
            f"{bank_id}\t\\\\x{h.hex()}\t{v}\t{f}\t"
            "{" + ",".join("NULL" if x == 0 else str(x) for x in c) + "}\n"
        )
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS provider_cache_stage (bank_id bigint, "
            "subject_hash bytea, values float8[], fetched float8[], calls bigint[]) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE provider_cache_stage")
        cursor.copy_expert("COPY provider_cache_stage FROM STDIN", buffer)
        cursor.execute(
            f"INSERT INTO {CACHE_TABLE} (bank_id, subject_hash, values, fetched, calls) "
            "SELECT bank_id, subject_hash, values, fetched, calls FROM provider_cache_stage "
            "ON CONFLICT (bank_id, subject_hash) DO UPDATE SET values = EXCLUDED.values, "
            "fetched = EXCLUDED.fetched, calls = EXCLUDED.calls"
        )


__all__ = [
    "TIMEOUT",
    "ExternalColumns",
    "ExternalData",
    "external_data_fetch",
    "external_data_fetch_columns",
]
