"""The set-based SQL of the import: one INSERT and one UPDATE per table, each writing the
audit events of the rows it wrote in the same statement (see ``upsert``)."""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass

import pghistory.trigger
import pgtrigger

from villages.imports.columns import ARCHIVES
from villages.models import EconomicArchive, Household, Member

_MEMBER_FIELDS = ("name", "sex", "birth_date", "relation", "education", "occupation", "health")
# Qualified: the staged row is ``r`` (``s`` for households). The encrypted phone comes from
# ``x`` (``upsert._SECRETS``), which holds only rows whose phone had changed when ``_resolve``
# looked: the others keep theirs. A phone changed by someone else since then has no ``x`` row,
# and its NULL fails the NOT NULL constraint (the import stops as for any concurrent change)
# rather than leave a phone that does not match its hash.
_MEMBER_UPDATED = (
    ("household_id", "r.household_id"),
    *((name, f"r.{name}") for name in _MEMBER_FIELDS),
    ("phone", "CASE WHEN m.phone_hash = r.phone_hash THEN m.phone ELSE x.phone END"),
    ("phone_hash", "r.phone_hash"),
)
# Compared through the phone's keyed hash, not its ciphertext: after a key rotation the same
# phone encrypts to other bytes, and that is no change of the member.
_MEMBER_COMPARED = tuple(pair for pair in _MEMBER_UPDATED if pair[0] != "phone")
_ARCHIVE_FIGURES = tuple(c.field for c in ARCHIVES.columns[2:])
_HOUSEHOLD_UPDATED = (
    ("village_id", "s.village_id"),
    ("group_name", "s.group_name"),
    ("address", "s.address"),
    ("phone", "CASE WHEN h.phone_hash = s.phone_hash THEN h.phone ELSE x.phone END"),
    ("phone_hash", "s.phone_hash"),
)
_HOUSEHOLD_COMPARED = tuple(pair for pair in _HOUSEHOLD_UPDATED if pair[0] != "phone")


# The first hex digit after an import's id head, per table: each table numbers its rows from 1,
# so without it the first household, its head and its archive all got ``…-000000000001`` (one
# id naming three records in audit trails, logs and the PAD's local store).
ID_RANGES = {"household": 1, "member": 2, "archive": 3}


def new_id(sequence: str, *, table: str) -> str:
    """SQL for a new, time-ordered UUID: this import's ``id_head`` (``new_id_head``), then the
    table's digit (``ID_RANGES``) and ``sequence`` as 11 hex digits. Ids that grow with the rows
    make every index insert an append; random UUIDs (v4) scatter 350,000 inserts over each index
    and, measured here, make the insert of the members 2.5× slower. One concatenation per row:
    building each id from parts and ``gen_random_uuid()`` took 2.5 s for 350,000 members, this
    takes 0.4 s."""
    offset = ID_RANGES[table] << 44
    return f"(%(id_head)s || lpad(to_hex(({sequence}) + {offset}), 12, '0'))::uuid"


def new_id_head() -> str:
    """The first 20 hex digits of an import's new ids (UUID version 7 layout): the start time in
    milliseconds, the version, 24 random bits around the RFC 4122 variant. Two imports would
    need the same millisecond and the same 24 bits to collide, and then the primary key refuses
    the second one (its transaction rolls back whole)."""
    random = secrets.randbits(24)
    return f"{time.time_ns() // 1_000_000:012x}7{random >> 12:03x}8{random & 0xFFF:03x}"


@dataclass(frozen=True)
class Statements:
    ignored_triggers: tuple[str, ...]  # for pgtrigger.ignore
    history_triggers: tuple[str, ...]  # every pghistory trigger on the tables, as named in SQL
    event_tables: tuple[tuple[str, str], ...]  # (event table, tracked table)
    insert_households: str
    update_households: str
    insert_members: str
    update_members: str
    insert_archives: str
    update_archives: str


@dataclass(frozen=True)
class _Audit:
    """A model's pghistory insert and update events, to be written set-based."""

    table: str
    columns: tuple[str, ...]
    insert_label: str
    update_label: str
    triggers: tuple[str, ...]
    all_triggers: tuple[str, ...]
    tracked_table: str

    def events(self, source: str, created: str = "pgh_created") -> str:
        """A CTE writing one event per row of ``source`` (rows RETURNING the model's table)."""
        columns = ", ".join(self.columns)
        return (
            f"INSERT INTO {self.table} ({columns}, pgh_context_id, pgh_created_at, pgh_label,"
            f" pgh_obj_id) SELECT {columns}, %(context)s::uuid, now(), CASE WHEN {created}"
            f" THEN '{self.insert_label}' ELSE '{self.update_label}' END, id FROM {source}"
        )


def _audit(model) -> _Audit:
    history = [
        trigger
        for tracked, trigger in pgtrigger.registered()
        if tracked is model and isinstance(trigger, pghistory.trigger.Event)
    ]
    triggers = {str(trigger.operation): trigger for trigger in history}
    insert, update = triggers["INSERT"], triggers["UPDATE"]
    event_model = insert.event_model
    columns = tuple(
        field.column
        for field in event_model._meta.concrete_fields
        if not field.name.startswith("pgh_")
    )
    return _Audit(
        table=event_model._meta.db_table,
        columns=columns,
        insert_label=insert.label,
        update_label=update.label,
        # pgtrigger matches either form, depending on the version that installed its function
        triggers=tuple(
            name
            for trigger in (insert, update)
            for name in (
                trigger.get_pgid(model),
                f"{model._meta.db_table}:{trigger.get_pgid(model)}",
            )
        ),
        all_triggers=tuple(trigger.get_pgid(model) for trigger in history),
        tracked_table=model._meta.db_table,
    )


@functools.cache
def statements() -> Statements:
    households, members, archives = _audit(Household), _audit(Member), _audit(EconomicArchive)
    return Statements(
        ignored_triggers=households.triggers + members.triggers + archives.triggers,
        history_triggers=households.all_triggers + members.all_triggers + archives.all_triggers,
        event_tables=tuple((a.table, a.tracked_table) for a in (households, members, archives)),
        insert_households=_INSERT_HOUSEHOLDS.format(events=households.events("written")),
        update_households=_UPDATE_HOUSEHOLDS.format(
            events=households.events("written", created="false")
        ),
        insert_members=_INSERT_MEMBERS.format(events=members.events("written")),
        update_members=_UPDATE_MEMBERS.format(events=members.events("written", created="false")),
        insert_archives=_INSERT_ARCHIVES.format(events=archives.events("written")),
        update_archives=_UPDATE_ARCHIVES.format(events=archives.events("written", created="false")),
    )


def _joined(names, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


def _sources(pairs) -> str:
    return ", ".join(source for _, source in pairs)


def _targets(pairs, prefix: str) -> str:
    return ", ".join(f"{prefix}{name}" for name, _ in pairs)


def _assignments(pairs) -> str:
    return ", ".join(f"{name} = {source}" for name, source in pairs)


_INSERT_HOUSEHOLDS = """
WITH written AS (
    INSERT INTO villages_household (id, village_id, bank_id, head_id, group_name, address,
        phone, phone_hash, list_colour, credit_grade, created_by_id, created_at, updated_at)
    SELECT k.household_id, s.village_id, %(bank)s, r.member_id, s.group_name, s.address,
        x.phone, s.phone_hash, '', '', %(staff)s, now(), now()
    FROM import_households s
    JOIN import_household_secrets x ON x.row_no = s.row_no
    JOIN import_keys k USING (head_id_hash)
    JOIN import_members_resolved r ON r.id_number_hash = s.head_id_hash
    WHERE k.is_new
    ORDER BY k.household_id
    RETURNING villages_household.*, true AS pgh_created
), events AS ({events})
SELECT count(*) FROM written
"""

_UPDATE_HOUSEHOLDS = (
    """
WITH written AS (
    UPDATE villages_household h
    SET """
    + _assignments(_HOUSEHOLD_UPDATED)
    + """, updated_at = now()
    FROM import_households s
    LEFT JOIN import_household_secrets x ON x.row_no = s.row_no
    JOIN import_keys k USING (head_id_hash)
    WHERE NOT k.is_new AND h.id = k.household_id
      AND ("""
    + _targets(_HOUSEHOLD_COMPARED, "h.")
    + ") IS DISTINCT FROM ("
    + _sources(_HOUSEHOLD_COMPARED)
    + """)
    RETURNING h.*
), events AS ({events})
SELECT count(*) FROM written
"""
)

# New rows are plain INSERTs and existing rows UPDATEs, both decided by ``_resolve``: measured
# here, INSERT … ON CONFLICT costs a quarter more per row (a speculative insertion into the
# unique index). A row created by someone else in between (the advisory lock keeps other imports
# out, not the PAD API) makes the INSERT fail on the unique constraint and the import roll back.
_INSERT_MEMBERS = (
    """
WITH written AS (
    INSERT INTO villages_member (id, household_id, bank_id, id_number, id_number_hash, """
    + _joined(_MEMBER_FIELDS)
    + """, phone, phone_hash, created_at, updated_at)
    SELECT r.member_id, r.household_id, %(bank)s, x.id_number, r.id_number_hash, """
    + _joined(_MEMBER_FIELDS, "r.")
    + """, x.phone, r.phone_hash, now(), now()
    FROM import_members_resolved r
    JOIN import_member_secrets x ON x.row_no = r.row_no
    WHERE r.existing_id IS NULL
    ORDER BY r.member_id
    RETURNING villages_member.*, true AS pgh_created
), events AS ({events})
SELECT count(*) FROM written
"""
)

_UPDATE_MEMBERS = (
    """
WITH written AS (
    UPDATE villages_member m
    SET """
    + _assignments(_MEMBER_UPDATED)
    + """, updated_at = now()
    FROM import_members_resolved r
    LEFT JOIN import_member_secrets x ON x.row_no = r.row_no
    WHERE r.existing_id IS NOT NULL AND m.id = r.existing_id
      AND ("""
    + _targets(_MEMBER_COMPARED, "m.")
    + ") IS DISTINCT FROM ("
    + _sources(_MEMBER_COMPARED)
    + """)
    RETURNING m.*
), events AS ({events})
SELECT count(*) FROM written
"""
)

_INSERT_ARCHIVES = (
    """
WITH written AS (
    INSERT INTO villages_economicarchive (id, household_id, bank_id, survey_date, """
    + _joined(_ARCHIVE_FIGURES)
    + """, crops, livestock, machinery, debts, created_at, updated_at)
    SELECT """
    + new_id("row_number() OVER (ORDER BY k.household_id, s.survey_date)", table="archive")
    + """, k.household_id, %(bank)s, s.survey_date, """
    + _joined(_ARCHIVE_FIGURES, "s.")
    + """, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, now(), now()
    FROM import_archives s
    JOIN import_keys k USING (head_id_hash)
    WHERE NOT EXISTS (
        SELECT 1 FROM villages_economicarchive a
        WHERE a.household_id = k.household_id AND a.survey_date = s.survey_date)
    ORDER BY k.household_id, s.survey_date
    RETURNING villages_economicarchive.*, true AS pgh_created
), events AS ({events})
SELECT count(*) FROM written
"""
)

_UPDATE_ARCHIVES = (
    """
WITH written AS (
    UPDATE villages_economicarchive a
    SET """
    + ", ".join(f"{name} = s.{name}" for name in _ARCHIVE_FIGURES)
    + """, updated_at = now()
    FROM import_archives s
    JOIN import_keys k USING (head_id_hash)
    WHERE NOT k.is_new AND a.household_id = k.household_id AND a.survey_date = s.survey_date
      AND ("""
    + _joined(_ARCHIVE_FIGURES, "a.")
    + ") IS DISTINCT FROM ("
    + _joined(_ARCHIVE_FIGURES, "s.")
    + """)
    RETURNING a.*
), events AS ({events})
SELECT count(*) FROM written
"""
)
