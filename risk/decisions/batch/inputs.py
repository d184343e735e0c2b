"""The engine's inputs for a chunk of households (features, heads, context, lists, scorecards)
and the external data hook of a chunk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from common import pii
from risk.bulk_scoring import Scorecards
from risk.decisions.engine import (
    SUBJECT_ID_INVALID,
    SUBJECT_NO_ARCHIVE,
    SUBJECT_NO_HEAD,
    EngineInputs,
)
from risk.decisions.models import Decision, DecisionKind
from risk.decisions.services import Prepared, external_columns_empty
from risk.external_features import CONTEXT_FEATURE_NAMES, EXTERNAL_FEATURE_NAMES
from risk.features import FEATURE_NAMES, features_frame
from risk.models import HouseholdFeatures
from risk.scoring import PointsTable, challenger_mask
from villages.models import Member

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def feature_columns(ids: list, on_date: date) -> tuple[dict[str, np.ndarray], np.ndarray]:
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
    features, segments = feature_columns(ids, on_date)
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
