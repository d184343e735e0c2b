"""Write validated rows in bulk: COPY into temporary staging tables, then set-based SQL.

Households are found through their head's ID number (the bank's member with that number who is
head of a household); members through (bank, ID number); archives through (household, survey
date). ``_resolve`` decides once, in SQL, which rows exist; new ones are inserted, existing ones
updated only where a value differs (``IS DISTINCT FROM``), so importing the same file twice
changes nothing and writes no audit events the second time. Everything here runs in the
caller's transaction, under a per-bank advisory lock so two imports of one bank never race to
create the same household.

Audit: the three tables' pghistory insert/update triggers would fire once per row (a plpgsql
call, subtransactions, an event insert). For these statements the same event rows are written
set-based in the same statement instead (``statements``): same event table, same columns, same
labels, same context row, same ``now()``, and for updates only rows whose tracked values changed.

Row triggers, two ways of keeping them out:
- When the role may set ``session_replication_role`` and the only non-internal triggers on the
  tables are pghistory's own, the statements run with it set to ``replica`` for this transaction
  only: no row trigger is even called — neither pghistory's nor the foreign-key checks, which
  cost as much again as the inserts (350,000 deferred checks at commit). It takes no lock and
  touches no other session. What the foreign-key triggers would have done is done set-based in
  ``_hold_referenced_rows``: every row referenced that this import did not create itself (bank,
  staff, villages, existing households that get new members or archives) is locked ``FOR KEY
  SHARE`` — the very lock a foreign-key check takes, so it blocks only a concurrent delete of
  that row — and checked to still exist. References to rows created here are consistent by
  construction and checked by ``_resolve``.
- Otherwise the pghistory triggers are told to stand aside (``pgtrigger.ignore``, scoped to this
  transaction; each still runs its check) and the deferred foreign keys are checked at commit.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO

from django.db import connection

from villages.imports.columns import ARCHIVES, HOUSEHOLDS, MEMBERS
from villages.imports.protect import SecretColumns
from villages.imports.staging import STAGINGS
from villages.imports.statements import Statements, new_id, new_id_head, statements
from villages.models import EconomicArchive, Household, Member

_LOCK_NAMESPACE = 7301  # pg_advisory_xact_lock(namespace, bank id): "village import of a bank"
# psycopg2 reads a COPY source through Python, 8 KB a call by default: a megabyte a call makes a
# few dozen calls of a big file instead of thousands.
COPY_CHUNK = 1 << 20

# The encrypted ID numbers and phones of the staged rows written with a new value
# (``protect.SecretColumns``): the table, its columns, and which rows need them — new rows, and
# rows whose phone changed (by its hash; ``_resolve`` kept the stored one beside each row, so
# this is a scan of a temporary table, not another join with the members).
_SECRETS = {
    HOUSEHOLDS.code: (
        "import_household_secrets",
        "row_no integer, phone bytea",
        """
        SELECT s.row_no FROM import_households s JOIN import_keys k USING (head_id_hash)
        WHERE k.is_new OR k.current_phone_hash IS DISTINCT FROM s.phone_hash
        """,
    ),
    MEMBERS.code: (
        "import_member_secrets",
        "row_no integer, id_number bytea, phone bytea",
        """
        SELECT row_no FROM import_members_resolved
        WHERE existing_id IS NULL OR current_phone_hash IS DISTINCT FROM phone_hash
        """,
    ),
}
_TEMP_TABLES = (
    *(staging.table for staging in STAGINGS.values()),
    "import_keys",
    "import_members_resolved",
    *(table for table, _, _ in _SECRETS.values()),
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
    secrets: dict[str, bytes],
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Write the staged CSV ``sources`` (sheet code → file) and their sealed ``secrets``;
    returns created/updated/unchanged per sheet. Call inside ``transaction.atomic()``."""
    progress = on_progress or (lambda percent: None)
    sql = statements()
    with connection.cursor() as cursor:
        written, rows = _upsert(
            cursor, sql, bank_id, staff_id, sources, SecretColumns(secrets), progress
        )
    return {
        code: {"created": created, "updated": updated, "unchanged": rows[code] - created - updated}
        for code, (created, updated) in written.items()
    }


def _upsert(
    cursor,
    sql: Statements,
    bank_id: int,
    staff_id: int,
    sources: dict[str, IO],
    secret_columns: SecretColumns,
    progress: Callable[[int], None],
) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """(created, updated) per sheet, and the staged row count per sheet."""
    # Planning a 350,000-row insert does not pay for JIT compilation; the staging joins
    # want more than the default 4 MB before they spill to disk; the staging tables need
    # row counts and rough distinct counts from ANALYZE, not fine histograms. The job row
    # commits with the data, so a crash that loses the commit loses both together.
    cursor.execute(
        "SET LOCAL jit = off; SET LOCAL work_mem = '64MB';"
        " SET LOCAL default_statistics_target = 10; SET LOCAL synchronous_commit = off"
    )
    # The audit context row (user, import job) the triggers would have attached.
    cursor.execute("SELECT _pgh_attach_context()")
    params = {
        "bank": bank_id,
        "staff": staff_id,
        "context": cursor.fetchone()[0],
        "id_head": new_id_head(),
    }
    rows = _stage(cursor, sources)
    progress(30)
    _resolve(cursor, params)
    progress(45)
    replica = _triggers_may_stay_off(cursor, sql)
    if replica:
        _hold_referenced_rows(cursor, params)
        cursor.execute("SET LOCAL session_replication_role = replica")
    else:
        # What pgtrigger.ignore() does, set once for these statements rather than injected
        # into each (its injection takes positional parameters only).
        cursor.execute(
            "SELECT set_config('pgtrigger.ignore', %s, true)",
            ["{" + ",".join(sql.ignored_triggers) + "}"],
        )
    written = _write(cursor, sql, params, progress, secret_columns)
    # Later writes in the same transaction fire their triggers again. (On an error the
    # transaction or savepoint rolls back, and these settings with it.) An empty list, not
    # an unset one: pgtrigger's check catches the error an unset setting raises in a
    # subtransaction, and aborting one walks every pending trigger event.
    if replica:
        cursor.execute("SET LOCAL session_replication_role = origin")
    else:
        cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")
    cursor.execute("DROP TABLE IF EXISTS " + ", ".join(f"pg_temp.{t}" for t in _TEMP_TABLES))
    return written, rows


def _write(
    cursor, sql: Statements, params, progress, secret_columns: SecretColumns
) -> dict[str, tuple[int, int]]:
    """Households, then members, then archives: (created, updated) of each."""
    written = {}
    for code, insert, update, percent in (
        (HOUSEHOLDS.code, sql.insert_households, sql.update_households, 55),
        (MEMBERS.code, sql.insert_members, sql.update_members, 80),
        (ARCHIVES.code, sql.insert_archives, sql.update_archives, 95),
    ):
        if code in _SECRETS:
            _stage_secrets(cursor, code, secret_columns)
        cursor.execute(insert, params)
        created = cursor.fetchone()[0]
        cursor.execute(update, params)
        written[code] = (created, cursor.fetchone()[0])
        progress(percent)
    return written


_TRIGGERED_TABLES = tuple(model._meta.db_table for model in (Household, Member, EconomicArchive))


def _triggers_may_stay_off(cursor, sql: Statements) -> bool:
    """Whether the statements may run with ``session_replication_role = replica``: the role may
    set it, and no trigger but pghistory's (whose events the statements write themselves) and
    the internal foreign-key ones (replaced by ``_hold_referenced_rows``) is on the tables — a
    trigger added later must fire, so its presence sends the import down the slower path."""
    if connection.pg_version >= 150000:
        cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
    else:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cursor.fetchone()[0]:
        return False
    event_tables = [table for table, _ in sql.event_tables]
    cursor.execute(
        "SELECT tgname, tgenabled FROM pg_trigger"
        " WHERE NOT tgisinternal AND tgrelid = ANY(%s::regclass[])",
        [list(_TRIGGERED_TABLES) + event_tables],
    )
    known = set(sql.history_triggers)
    # 'O' fires only outside replica mode (what we turn off); 'A' or 'R' would fire anyway.
    return all(name in known and enabled in ("O", "D") for name, enabled in cursor.fetchall())


def _hold_referenced_rows(cursor, params) -> None:
    """Lock, as a foreign-key check would, every pre-existing row the writes will reference, and
    refuse the import if one is gone since ``_resolve`` looked."""
    bank_table = Household._meta.get_field("bank").related_model._meta.db_table
    staff_table = Household._meta.get_field("created_by").related_model._meta.db_table
    village_table = Household._meta.get_field("village").related_model._meta.db_table
    cursor.execute(
        f"""
        WITH wanted_households AS (
            SELECT k.household_id FROM import_members_resolved r
            JOIN import_keys k USING (head_id_hash)
            WHERE NOT k.is_new AND r.existing_id IS NULL
            UNION
            SELECT k.household_id FROM import_archives s JOIN import_keys k USING (head_id_hash)
            WHERE NOT k.is_new AND NOT EXISTS (
                SELECT 1 FROM villages_economicarchive a
                WHERE a.household_id = k.household_id AND a.survey_date = s.survey_date)
        ), held_households AS (
            SELECT id FROM villages_household
            WHERE id IN (SELECT household_id FROM wanted_households) FOR KEY SHARE
        ), wanted_villages AS (
            SELECT DISTINCT village_id FROM import_households
        ), held_villages AS (
            SELECT id FROM {village_table}
            WHERE id IN (SELECT village_id FROM wanted_villages) FOR KEY SHARE
        ), held_bank AS (
            SELECT id FROM {bank_table} WHERE id = %(bank)s FOR KEY SHARE
        ), held_staff AS (
            SELECT id FROM {staff_table} WHERE id = %(staff)s FOR KEY SHARE
        )
        SELECT (SELECT count(*) FROM wanted_households) = (SELECT count(*) FROM held_households)
           AND (SELECT count(*) FROM wanted_villages) = (SELECT count(*) FROM held_villages)
           AND (SELECT count(*) FROM held_bank) = 1 AND (SELECT count(*) FROM held_staff) = 1
        """,
        params,
    )
    if not cursor.fetchone()[0]:
        raise ImportConflict(
            "校验之后系统中的数据发生了变化(有农户、行政村或人员被删除)，数据未写入；"
            "请重新上传文件校验",
            [],
        )


def _stage_secrets(cursor, code: str, secret_columns: SecretColumns) -> None:
    """The encrypted ID numbers and phones of ``code``'s rows that need them; the statements
    join them by row number."""
    table, columns, needed = _SECRETS[code]
    cursor.execute(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP")
    # A first import needs every row, an unchanged one none: only a mix fetches row numbers.
    cursor.execute(f"SELECT count(*) FROM ({needed}) n")
    (count,) = cursor.fetchone()
    if count == 0:
        copied = None
    elif count == secret_columns.rows(code):
        copied = secret_columns.copy(code, None)
    else:
        cursor.execute(needed)
        copied = secret_columns.copy(code, {row_no for (row_no,) in cursor.fetchall()})
    if copied is not None:
        cursor.copy_expert(
            f"COPY {table} FROM STDIN WITH (FORMAT binary)", io.BytesIO(copied), COPY_CHUNK
        )
    cursor.execute(f"ANALYZE {table}")


def _stage(cursor, sources: dict[str, IO]) -> dict[str, int]:
    cursor.execute("DROP TABLE IF EXISTS " + ", ".join(f"pg_temp.{t}" for t in _TEMP_TABLES))
    rows = {}
    for code, staging in STAGINGS.items():
        # Temporary tables: no WAL, no triggers, gone at commit (dropped explicitly as well, for
        # callers that keep one transaction open across several imports, like tests).
        cursor.execute(staging.create_table)
        source = sources.get(code)
        if source is not None:
            cursor.copy_expert(staging.copy_from, source, COPY_CHUNK)
        cursor.execute(f"SELECT count(*) FROM {staging.table}")
        rows[code] = cursor.fetchone()[0]
    # Fresh temporary tables have no statistics; without them the planner guesses nested loops.
    cursor.execute("ANALYZE import_households, import_members, import_archives")
    return rows


def _resolve(cursor, params) -> None:
    """Give every household and member its id (existing or new) and refuse rows that the
    database, as it is now, makes invalid."""
    cursor.execute(
        """
        CREATE TEMP TABLE import_keys ON COMMIT DROP AS
        SELECT k.head_id_hash, h.id IS NULL AS is_new,
               coalesce(h.id, {new_id}) AS household_id, h.phone_hash AS current_phone_hash
        FROM (SELECT head_id_hash FROM import_households
              UNION SELECT head_id_hash FROM import_members
              UNION SELECT head_id_hash FROM import_archives) k
        LEFT JOIN import_households s USING (head_id_hash)
        LEFT JOIN villages_member m ON m.bank_id = %(bank)s AND m.id_number_hash = k.head_id_hash
        LEFT JOIN villages_household h ON h.head_id = m.id
        """.format(
            new_id=new_id(
                "row_number() OVER (ORDER BY s.row_no, k.head_id_hash)", table="household"
            )
        ),
        params,
    )
    cursor.execute(
        """
        CREATE TEMP TABLE import_members_resolved ON COMMIT DROP AS
        SELECT s.*, k.household_id, m.household_id AS current_household_id,
               m.id AS existing_id, coalesce(m.id, {new_id}) AS member_id,
               m.phone_hash AS current_phone_hash
        FROM import_members s
        JOIN import_keys k USING (head_id_hash)
        LEFT JOIN villages_member m ON m.bank_id = %(bank)s AND m.id_number_hash = s.id_number_hash
        """.format(
            new_id=new_id("row_number() OVER (ORDER BY k.household_id, s.row_no)", table="member")
        ),
        params,
    )
    cursor.execute("ANALYZE import_keys, import_members_resolved")

    cursor.execute(
        """
        SELECT 'households', s.row_no, '户主身份证号',
               '该户在系统中已不存在(校验后被删除或更换了户主)，请重新上传校验'
        FROM import_keys k
        LEFT JOIN import_households s USING (head_id_hash)
        WHERE k.is_new AND s.row_no IS NULL
        UNION ALL
        SELECT 'households', s.row_no, '户主身份证号',
               '户主本人不在本次导入的家庭成员中，无法新建该户，请重新上传校验'
        FROM import_households s JOIN import_keys k USING (head_id_hash)
        WHERE k.is_new AND NOT EXISTS (
            SELECT 1 FROM import_members_resolved r WHERE r.id_number_hash = s.head_id_hash)
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
