"""Write validated rows in bulk: COPY into temporary staging tables, then set-based SQL.

Households are found through their head's ID number (the bank's member with that number who is
head of a household); members through (bank, ID number); archives through (household, survey
date). ``_resolve`` decides once, in SQL, which rows exist; new ones are inserted, existing ones
updated only where a value differs (``IS DISTINCT FROM``), so importing the same file twice
changes nothing and writes no audit events the second time.

New households get their head's member id at insert although that member is inserted a moment
later: the foreign keys Django creates in PostgreSQL are ``DEFERRABLE INITIALLY DEFERRED`` and
are checked at commit. Everything here runs in the caller's transaction, under a per-bank
advisory lock so two imports of one bank never race to create the same household.

Audit: the three tables' pghistory insert/update triggers fire once per row and cost 50–150 µs
each here (a plpgsql call, two subtransactions, an event insert) — over a minute for a
100,000-household file. For these statements only, the triggers are told to stand aside
(``pgtrigger.ignore``, scoped to this transaction) and the same event rows are written set-based
in the same statement: same event table, same columns (read from the event model, so a field
added later is carried along), same labels, same context row, same ``now()``. Updates are
recorded exactly when the trigger's condition would have: only rows whose tracked values
changed are written at all.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import pghistory.trigger
import pgtrigger
from django.db import connection

from villages.imports.columns import ARCHIVES, HOUSEHOLDS, MEMBERS
from villages.imports.validate import ARCHIVE_STAGE, HOUSEHOLD_STAGE, MEMBER_STAGE
from villages.models import EconomicArchive, Household, Member

_LOCK_NAMESPACE = 7301  # pg_advisory_xact_lock(namespace, bank id): "village import of a bank"
CSV_OPTIONS = "FORMAT csv, NULL '\\N'"  # an empty field is an empty string, not NULL

_MEMBER_FIELDS = ("name", "sex", "birth_date", "relation", "education", "occupation", "health")
_MEMBER_UPDATED = ("household_id", *_MEMBER_FIELDS, "phone")
_ARCHIVE_FIGURES = tuple(c.field for c in ARCHIVES.columns[2:])
_HOUSEHOLD_UPDATED = ("village_id", "group_name", "address", "phone")

_STAGING = {
    HOUSEHOLDS.code: (
        "import_households",
        "row_no integer, head_id_number text, village_id bigint, group_name text,"
        " address text, phone text",
        HOUSEHOLD_STAGE,
    ),
    MEMBERS.code: (
        "import_members",
        "row_no integer, head_id_number text, id_number text, name text, sex text,"
        " birth_date date, relation text, education text, occupation text, health text,"
        " phone text",
        MEMBER_STAGE,
    ),
    ARCHIVES.code: (
        "import_archives",
        "row_no integer, " + ", ".join(f"{c.field} {c.sql_type}" for c in ARCHIVES.columns),
        ARCHIVE_STAGE,
    ),
}
_TEMP_TABLES = (
    "import_households",
    "import_members",
    "import_archives",
    "import_keys",
    "import_members_resolved",
)


class ImportConflict(Exception):
    """The database changed since validation in a way that makes rows invalid now."""

    def __init__(self, message: str, rows: list[dict]) -> None:
        super().__init__(message)
        self.message = message
        self.rows = rows


def lock_bank(bank_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, bank_id])


def upsert_staged(
    *,
    bank_id: int,
    staff_id: int,
    sources: dict[str, IO],
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Write the staged CSV ``sources`` (sheet code → file); returns created/updated/unchanged
    per sheet. Call inside ``transaction.atomic()``."""
    progress = on_progress or (lambda percent: None)
    statements = _statements()
    with connection.cursor() as cursor:
        # Planning a 350,000-row insert does not pay for JIT compilation; the staging joins
        # want more than the default 4 MB before they spill to disk; the staging tables need
        # row counts and rough distinct counts from ANALYZE, not fine histograms.
        cursor.execute(
            "SET LOCAL jit = off; SET LOCAL work_mem = '64MB';"
            " SET LOCAL default_statistics_target = 10"
        )
        # What pgtrigger.ignore() does, set once for these statements rather than injected
        # into each (its injection takes positional parameters only).
        cursor.execute(
            "SELECT set_config('pgtrigger.ignore', %s, true)",
            ["{" + ",".join(statements.ignored_triggers) + "}"],
        )
        # The audit context row (user, import job) the triggers would have attached.
        cursor.execute("SELECT _pgh_attach_context()")
        params = {
            "bank": bank_id,
            "staff": staff_id,
            "context": cursor.fetchone()[0],
            "epoch_ms": int(time.time() * 1000),
        }
        rows = _stage(cursor, sources)
        progress(30)
        _resolve(cursor, params)
        progress(45)

        cursor.execute(statements.insert_households, params)
        households_created = cursor.fetchone()[0]
        cursor.execute(statements.update_households, params)
        households_updated = cursor.fetchone()[0]
        progress(55)
        cursor.execute(statements.insert_members, params)
        members_created = cursor.fetchone()[0]
        cursor.execute(statements.update_members, params)
        members_updated = cursor.fetchone()[0]
        progress(80)
        cursor.execute(statements.insert_archives, params)
        archives_created = cursor.fetchone()[0]
        cursor.execute(statements.update_archives, params)
        archives_updated = cursor.fetchone()[0]
        progress(95)
        cursor.execute("DROP TABLE IF EXISTS " + ", ".join(f"pg_temp.{t}" for t in _TEMP_TABLES))
        # Later writes in the same transaction are audited by their triggers again. An empty
        # list, not an unset one: pgtrigger's check catches the error an unset setting raises
        # in a subtransaction, and aborting one walks every pending trigger event.
        cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")

    def counted(code: str, created: int, updated: int) -> dict[str, int]:
        return {
            "created": created,
            "updated": updated,
            "unchanged": rows[code] - created - updated,
        }

    return {
        HOUSEHOLDS.code: counted(HOUSEHOLDS.code, households_created, households_updated),
        MEMBERS.code: counted(MEMBERS.code, members_created, members_updated),
        ARCHIVES.code: counted(ARCHIVES.code, archives_created, archives_updated),
    }


def _stage(cursor, sources: dict[str, IO]) -> dict[str, int]:
    cursor.execute("DROP TABLE IF EXISTS " + ", ".join(f"pg_temp.{t}" for t in _TEMP_TABLES))
    rows = {}
    for code, (table, columns, layout) in _STAGING.items():
        # Temporary tables: no WAL, no triggers, gone at commit (dropped explicitly as well, for
        # callers that keep one transaction open across several imports, like tests).
        cursor.execute(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP")
        source = sources.get(code)
        if source is not None:
            cursor.copy_expert(
                f"COPY {table} ({', '.join(layout)}) FROM STDIN WITH ({CSV_OPTIONS})", source
            )
        cursor.execute(f"SELECT count(*) FROM {table}")
        rows[code] = cursor.fetchone()[0]
    # Fresh temporary tables have no statistics; without them the planner guesses nested loops.
    cursor.execute("ANALYZE import_households, import_members, import_archives")
    return rows


def _new_id(sequence: str) -> str:
    """SQL for a new, time-ordered UUID (version 7 layout: import start in ms, then a
    24-bit counter, then random bits). Ids that grow with the rows make every index insert an
    append; random UUIDs (v4) scatter 350,000 inserts over each index and, measured here, make
    the insert of the members 2.5× slower. Django reads them like any other UUID."""
    return (
        "(lpad(to_hex(%(epoch_ms)s::bigint), 12, '0') || '7'"
        f" || lpad(to_hex(({sequence}) >> 12), 3, '0') || '8'"
        f" || lpad(to_hex(({sequence}) & 4095), 3, '0')"
        " || substr(replace(gen_random_uuid()::text, '-', ''), 1, 12))::uuid"
    )


def _resolve(cursor, params) -> None:
    """Give every household and member its id (existing or new) and refuse rows that the
    database, as it is now, makes invalid."""
    cursor.execute(
        """
        CREATE TEMP TABLE import_keys ON COMMIT DROP AS
        SELECT k.head_id_number, h.id IS NULL AS is_new,
               coalesce(h.id, {new_id}) AS household_id
        FROM (SELECT head_id_number FROM import_households
              UNION SELECT head_id_number FROM import_members
              UNION SELECT head_id_number FROM import_archives) k
        LEFT JOIN import_households s USING (head_id_number)
        LEFT JOIN villages_member m ON m.bank_id = %(bank)s AND m.id_number = k.head_id_number
        LEFT JOIN villages_household h ON h.head_id = m.id
        """.format(new_id=_new_id("row_number() OVER (ORDER BY s.row_no, k.head_id_number)")),
        params,
    )
    cursor.execute(
        """
        CREATE TEMP TABLE import_members_resolved ON COMMIT DROP AS
        SELECT s.*, k.household_id, m.household_id AS current_household_id,
               m.id AS existing_id, coalesce(m.id, {new_id}) AS member_id
        FROM import_members s
        JOIN import_keys k USING (head_id_number)
        LEFT JOIN villages_member m ON m.bank_id = %(bank)s AND m.id_number = s.id_number
        """.format(new_id=_new_id("row_number() OVER (ORDER BY k.household_id, s.row_no)")),
        params,
    )
    cursor.execute("ANALYZE import_keys, import_members_resolved")

    cursor.execute(
        """
        SELECT 'households', s.row_no, '户主身份证号',
               '该户在系统中已不存在(校验后被删除或更换了户主)，请重新上传校验'
        FROM import_keys k
        LEFT JOIN import_households s USING (head_id_number)
        WHERE k.is_new AND s.row_no IS NULL
        UNION ALL
        SELECT 'households', s.row_no, '户主身份证号',
               '户主本人不在本次导入的家庭成员中，无法新建该户，请重新上传校验'
        FROM import_households s JOIN import_keys k USING (head_id_number)
        WHERE k.is_new AND NOT EXISTS (
            SELECT 1 FROM import_members_resolved r WHERE r.id_number = s.head_id_number)
        UNION ALL
        SELECT 'members', row_no, '身份证号',
               '校验之后此人已被登记到本行社另一户，请重新上传校验'
        FROM import_members_resolved
        WHERE current_household_id IS NOT NULL AND current_household_id <> household_id
        ORDER BY 1, 2
        LIMIT 200
        """
    )
    conflicts = cursor.fetchall()
    if conflicts:
        names = {HOUSEHOLDS.code: HOUSEHOLDS.name, MEMBERS.code: MEMBERS.name}
        raise ImportConflict(
            "校验之后系统中的数据发生了变化，部分行已不能导入；请重新上传文件校验",
            [
                {"sheet": names.get(sheet, sheet), "row": row, "column": column, "reason": reason}
                for sheet, row, column, reason in conflicts
            ],
        )


@dataclass(frozen=True)
class _Statements:
    ignored_triggers: tuple[str, ...]
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

    def events(self, source: str, created: str = "pgh_created") -> str:
        """A CTE writing one event per row of ``source`` (rows RETURNING the model's table)."""
        columns = ", ".join(self.columns)
        return (
            f"INSERT INTO {self.table} ({columns}, pgh_context_id, pgh_created_at, pgh_label,"
            f" pgh_obj_id) SELECT {columns}, %(context)s::uuid, now(), CASE WHEN {created}"
            f" THEN '{self.insert_label}' ELSE '{self.update_label}' END, id FROM {source}"
        )


def _audit(model) -> _Audit:
    triggers = {
        str(trigger.operation): trigger
        for tracked, trigger in pgtrigger.registered()
        if tracked is model and isinstance(trigger, pghistory.trigger.Event)
    }
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
    )


@functools.cache
def _statements() -> _Statements:
    households, members, archives = _audit(Household), _audit(Member), _audit(EconomicArchive)
    return _Statements(
        ignored_triggers=households.triggers + members.triggers + archives.triggers,
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


_INSERT_HOUSEHOLDS = """
WITH written AS (
    INSERT INTO villages_household (id, village_id, bank_id, head_id, group_name, address,
        phone, list_colour, credit_grade, created_by_id, created_at, updated_at)
    SELECT k.household_id, s.village_id, %(bank)s, r.member_id, s.group_name, s.address,
        s.phone, '', '', %(staff)s, now(), now()
    FROM import_households s
    JOIN import_keys k USING (head_id_number)
    JOIN import_members_resolved r ON r.id_number = s.head_id_number
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
    + ", ".join(f"{name} = s.{name}" for name in _HOUSEHOLD_UPDATED)
    + """, updated_at = now()
    FROM import_households s
    JOIN import_keys k USING (head_id_number)
    WHERE NOT k.is_new AND h.id = k.household_id
      AND ("""
    + _joined(_HOUSEHOLD_UPDATED, "h.")
    + ") IS DISTINCT FROM ("
    + _joined(_HOUSEHOLD_UPDATED, "s.")
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
    INSERT INTO villages_member (id, household_id, bank_id, id_number, """
    + _joined(_MEMBER_FIELDS)
    + """, phone, created_at, updated_at)
    SELECT member_id, household_id, %(bank)s, id_number, """
    + _joined(_MEMBER_FIELDS)
    + """, phone, now(), now()
    FROM import_members_resolved
    WHERE existing_id IS NULL
    ORDER BY member_id
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
    + ", ".join(f"{name} = r.{name}" for name in _MEMBER_UPDATED)
    + """, updated_at = now()
    FROM import_members_resolved r
    WHERE r.existing_id IS NOT NULL AND m.id = r.existing_id
      AND ("""
    + _joined(_MEMBER_UPDATED, "m.")
    + ") IS DISTINCT FROM ("
    + _joined(_MEMBER_UPDATED, "r.")
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
    + _new_id("row_number() OVER (ORDER BY k.household_id, s.survey_date)")
    + """, k.household_id, %(bank)s, s.survey_date, """
    + _joined(_ARCHIVE_FIGURES, "s.")
    + """, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, now(), now()
    FROM import_archives s
    JOIN import_keys k USING (head_id_number)
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
    JOIN import_keys k USING (head_id_number)
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
