"""Risk-list lookups for the decision engine, in two forms that must agree.

- ``risk_list_hits``: one applicant now (ID number, and optionally a mobile and a device id):
  one indexed query on the keyed hashes, every entry that applies, most severe first.
- ``risk_list_levels_for_members``: a column of members (a campaign, a bank, a back-test): one
  set-based query joining the members' hashes to the entries in force, answering per member the
  most severe level and the entry ids behind it. A million members is one statement; nothing is
  decrypted.

"Applies" is the same in both: status active, ``valid_from <= on_date <= valid_until`` (an open
``valid_until`` never ends), owned by the federation or by ``bank_id``. A member matches on their
ID number and, when they have one, their mobile (a listed phone number applies whoever carries
it). The test ``tests/risk/lists/test_lookups.py`` holds the two forms equal.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from common import pii
from common.prepared import prepared_execute
from risk.lists.models import LEVEL_BY_SEVERITY, LEVEL_SEVERITY, ListLevel, RiskListEntry
from villages.models import Member


@dataclass(frozen=True)
class ListHit:
    """One entry that applies to the subject looked up."""

    entry_id: int
    level: str
    severity: int
    source: str
    owner_id: int | None  # None: a federation entry
    matched_on: tuple[str, ...]  # which of "id_number", "phone", "device_id" matched
    reason: str
    rule: str
    valid_until: datetime.date | None

    @property
    def level_label(self) -> str:
        return str(ListLevel(self.level).label)


@dataclass(frozen=True)
class SubjectListLevel:
    """The most severe level that applies to one subject of a batch, and every entry behind it
    (most severe first, then by id)."""

    level: str
    severity: int
    entry_ids: tuple[int, ...]


# The one-row lookup is prepared on the server once per connection (``common.prepared``):
# planning it took 0.55 ms against 0.06 ms to run it, measured. Absent values are NULL, which
# equals nothing. The phone and device conditions repeat their partial indexes' predicates, so
# the generic plan a prepared statement settles on can prove them and use the indexes
# (estimated from the column alone, ``phone_hash = $2`` looks like every row without a phone).
_HITS_COLUMNS = (
    "e.id, e.level, e.source, e.owner_id, e.id_number_hash, e.phone_hash, e.device_id, "
    "e.reason, e.rule, e.valid_until"
)
_HITS_SQL = f"""
    SELECT {_HITS_COLUMNS}
    FROM {RiskListEntry._meta.db_table} e
    WHERE (e.id_number_hash = $1
           OR (e.phone_hash = $2 AND e.phone_hash <> ''::bytea)
           OR (e.device_id = $3 AND e.device_id <> ''))
      AND e.status = 'active' AND e.valid_from <= $4
      AND (e.valid_until IS NULL OR e.valid_until >= $4)
      AND (e.owner_id IS NULL OR e.owner_id = $5)
"""
_HITS_PREPARED = "risk_list_hits"


def _fetch_hit_rows(params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        prepared_execute(
            cursor,
            name=_HITS_PREPARED,
            sql=_HITS_SQL,
            params=params,
            types=("bytea", "bytea", "varchar", "date", "bigint"),
        )
        return cursor.fetchall()


def risk_list_hits(
    *,
    bank_id: int,
    id_number: str | None = None,
    phone: str | None = None,
    device_id: str | None = None,
    on_date: datetime.date,
    id_number_hash: bytes | None = None,
    phone_hash: bytes | None = None,
) -> list[ListHit]:
    """Entries that apply to the subject on ``on_date`` for ``bank_id``, most severe first.

    Values are taken as stored (an ID number in its canonical 18 characters, a mobile as 11
    digits, which is what the services and the import store); an empty value matches nothing.
    One prepared statement on the hash, phone and device indexes."""
    # A member's stored hashes may be passed in (the decision engine has them): not hashed again.
    id_hash = id_number_hash or (pii.blind_index(id_number, pii.ID_NUMBER) if id_number else None)
    phone_hash = phone_hash or (pii.blind_index(phone, pii.PHONE) if phone else None)
    device_id = (device_id or "").strip() or None
    if id_hash is None and phone_hash is None and device_id is None:
        return []
    rows = _fetch_hit_rows([id_hash, phone_hash, device_id, on_date, bank_id])
    hits = []
    for pk, level, source, owner_id, row_id, row_phone, row_device, reason, rule, until in rows:
        matched = tuple(
            name
            for name, hit in (
                ("id_number", id_hash is not None and bytes(row_id) == id_hash),
                ("phone", phone_hash is not None and bytes(row_phone) == phone_hash),
                ("device_id", device_id is not None and row_device == device_id),
            )
            if hit
        )
        hits.append(
            ListHit(
                entry_id=pk,
                level=level,
                severity=LEVEL_SEVERITY[level],
                source=source,
                owner_id=owner_id,
                matched_on=matched,
                reason=reason,
                rule=rule,
                valid_until=until,
            )
        )
    hits.sort(key=lambda hit: (-hit.severity, hit.entry_id))
    return hits


def most_severe(hits: Sequence[ListHit]) -> SubjectListLevel | None:
    """The one-row answer in the batch form's shape (for comparing the two, and for callers
    that only need the level)."""
    if not hits:
        return None
    top = max(hit.severity for hit in hits)
    ordered = sorted(hits, key=lambda hit: (-hit.severity, hit.entry_id))
    return SubjectListLevel(
        level=LEVEL_BY_SEVERITY[top].value,
        severity=top,
        entry_ids=tuple(hit.entry_id for hit in ordered),
    )


# The entries in force for a bank on a date, with their severity; the batch joins subjects to it.
_SEVERITY_SQL = (
    "CASE e.level "
    + " ".join(
        f"WHEN '{level.value}' THEN {severity}" for level, severity in LEVEL_SEVERITY.items()
    )
    + " END"
)
_IN_FORCE = f"""
    SELECT e.id, e.id_number_hash, e.phone_hash, {_SEVERITY_SQL} AS severity
    FROM {RiskListEntry._meta.db_table} e
    WHERE e.status = 'active' AND e.valid_from <= %(on_date)s
      AND (e.valid_until IS NULL OR e.valid_until >= %(on_date)s)
      AND (e.owner_id IS NULL OR e.owner_id = %(bank_id)s)
"""


def _levels(sql: str, params: dict, key) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        key(subject): SubjectListLevel(
            level=LEVEL_BY_SEVERITY[severity].value, severity=severity, entry_ids=tuple(ids)
        )
        for subject, severity, ids in rows
    }


def risk_list_levels_for_members(
    *,
    bank_id: int,
    on_date: datetime.date,
    member_ids: QuerySet | Iterable[uuid.UUID] | None = None,
    id_number_hashes: Iterable[bytes] | None = None,
) -> dict:
    """Per subject that any entry applies to: ``SubjectListLevel`` (subjects without a hit are
    absent). Give either ``member_ids`` (a queryset of members, e.g. a campaign's, which stays a
    subquery, or a list of ids; keys are member ids, matched on ID number and mobile) or
    ``id_number_hashes`` (keys are the hashes, matched on ID number only). Only members of
    ``bank_id`` are looked up."""
    if (member_ids is None) == (id_number_hashes is None):
        raise TypeError("give exactly one of member_ids or id_number_hashes")
    params: dict = {"bank_id": bank_id, "on_date": on_date}
    if id_number_hashes is not None:
        params["hashes"] = [bytes(value) for value in id_number_hashes]
        sql = f"""
            WITH live AS ({_IN_FORCE})
            SELECT s.hash, max(e.severity), array_agg(e.id ORDER BY e.severity DESC, e.id)
            FROM unnest(%(hashes)s::bytea[]) AS s(hash)
            JOIN live e ON e.id_number_hash = s.hash
            GROUP BY s.hash
        """
        return _levels(sql, params, bytes)

    members = Member._meta.db_table
    if isinstance(member_ids, QuerySet):
        inner, inner_params = (
            member_ids.model._default_manager.filter(pk__in=member_ids)
            .values("pk")
            .query.sql_with_params()
        )
        # The subquery's own placeholders are positional; name them for this statement.
        names = [f"m{index}" for index in range(len(inner_params))]
        inner = inner % tuple(f"%({name})s" for name in names)
        params.update(zip(names, inner_params, strict=True))
        chosen = f"m.id IN ({inner})"
    else:
        params["ids"] = [str(value) for value in member_ids]
        chosen = "m.id = ANY(%(ids)s::uuid[])"
    sql = f"""
        WITH live AS ({_IN_FORCE}),
        subject AS (
            SELECT m.id, m.id_number_hash, m.phone_hash FROM {members} m
            WHERE m.bank_id = %(bank_id)s AND {chosen}
        ),
        hit AS (
            SELECT s.id AS member_id, e.id, e.severity
            FROM subject s JOIN live e ON e.id_number_hash = s.id_number_hash
            UNION
            SELECT s.id, e.id, e.severity
            FROM subject s JOIN live e ON e.phone_hash = s.phone_hash
            WHERE s.phone_hash <> ''::bytea
        )
        SELECT member_id, max(severity), array_agg(id ORDER BY severity DESC, id)
        FROM hit GROUP BY member_id
    """
    return _levels(sql, params, lambda value: value)
