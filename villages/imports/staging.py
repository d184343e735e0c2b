"""The rows validation keeps for the confirmation, as COPY files, and the tables ``upsert``
COPYs them into.

Households and members are staged in PostgreSQL's binary COPY format (``binary_copy``): their ID
numbers and phones are 16-byte keyed hashes, which as ``bytea`` text were two hex digits a byte
to format, join, write and read, and for PostgreSQL to parse again; the rest of those rows is
text and a birth date. The archives' rows are the figures as the cells had them, staged as CSV
text (a ``numeric`` has no cheap binary form to build). No staged file holds a plain ID number
or phone: those go, sealed, into ``{sheet}.secrets`` (``protect``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from villages.imports.binary_copy import binary_copy, bytea, date, int4, int8, text
from villages.imports.columns import ARCHIVES, HOUSEHOLDS, MEMBERS
from villages.imports.protect import SECRET_COLUMNS, StagedCrypto, secrets_text

CSV_OPTIONS = "FORMAT csv, NULL '\\N'"  # an empty field is an empty string, not NULL


@dataclass(frozen=True)
class Staging:
    """A sheet's staged file and the temporary table it is COPYed into."""

    code: str  # the sheet's
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type), in the file's order
    binary: bool

    @property
    def file_name(self) -> str:
        return f"{self.code}.copy" if self.binary else f"{self.code}.csv"

    @property
    def create_table(self) -> str:
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in self.columns)
        return f"CREATE TEMP TABLE {self.table} ({columns}) ON COMMIT DROP"

    @property
    def copy_from(self) -> str:
        names = ", ".join(name for name, _ in self.columns)
        options = "FORMAT binary" if self.binary else CSV_OPTIONS
        return f"COPY {self.table} ({names}) FROM STDIN WITH ({options})"


STAGINGS = {
    HOUSEHOLDS.code: Staging(
        HOUSEHOLDS.code,
        "import_households",
        (
            ("row_no", "integer"),
            ("head_id_hash", "bytea"),
            ("village_id", "bigint"),
            ("group_name", "text"),
            ("address", "text"),
            ("phone_hash", "bytea"),
        ),
        binary=True,
    ),
    MEMBERS.code: Staging(
        MEMBERS.code,
        "import_members",
        (
            ("row_no", "integer"),
            ("head_id_hash", "bytea"),
            ("id_number_hash", "bytea"),
            ("name", "text"),
            ("sex", "text"),
            ("birth_date", "date"),
            ("relation", "text"),
            ("education", "text"),
            ("occupation", "text"),
            ("health", "text"),
            ("phone_hash", "bytea"),
        ),
        binary=True,
    ),
    ARCHIVES.code: Staging(
        ARCHIVES.code,
        "import_archives",
        (
            ("row_no", "integer"),
            ("head_id_hash", "bytea"),
            *((c.field, c.sql_type) for c in ARCHIVES.columns if c.field != "head_id_number"),
        ),
        binary=False,
    ),
}


@dataclass(frozen=True)
class StagedSheet:
    rows: int
    content: bytes  # the COPY file (``Staging.copy_from``)
    secrets: bytes | None  # the sealed ID numbers and phones of those rows (``protect``)


def stage_sheet(
    code: str, columns: dict[str, list], row_numbers: list[int], crypto: StagedCrypto, id_info
) -> StagedSheet:
    """The staged file of the importable rows of sheet ``code``: ``columns`` (field → cleaned
    values) and ``row_numbers`` of those rows only; ``id_info`` maps each ID number to its sex
    and birth date (``cells.IdNumbers.info``)."""
    staging = STAGINGS[code]
    if code == ARCHIVES.code:
        content = _archives_csv(staging, columns, row_numbers, crypto).encode()
    else:
        fields = {
            "row_no": int4(row_numbers),
            "head_id_hash": bytea(crypto.id_hash_blocks(columns["head_id_number"])),
            "phone_hash": bytea(*crypto.phone_hash_blocks(columns["phone"])),
        }
        if code == HOUSEHOLDS.code:
            fields["village_id"] = int8(columns["village_code"])
            fields |= {name: text(columns[name]) for name in ("group_name", "address")}
        else:
            # Sex and birth date come from the ID number (a staged row's is valid, so known).
            facts = list(map(id_info.__getitem__, columns["id_number"]))
            sexes, births = zip(*facts, strict=True) if facts else ((), ())
            fields["id_number_hash"] = bytea(crypto.id_hash_blocks(columns["id_number"]))
            fields["sex"] = text(list(sexes))
            fields["birth_date"] = date(list(births))
            for name in ("name", "relation", "education", "occupation", "health"):
                fields[name] = text(columns[name])
        content = binary_copy([fields[name] for name, _ in staging.columns])
    secret_names = SECRET_COLUMNS.get(code)
    secrets = None
    if secret_names:
        secrets = secrets_text(
            list(map(str, row_numbers)), [columns[name] for name in secret_names]
        )
    return StagedSheet(len(row_numbers), content, secrets)


def _archives_csv(staging: Staging, columns, row_numbers, crypto: StagedCrypto) -> str:
    sources = {
        **columns,
        "row_no": list(map(str, row_numbers)),
        "head_id_hash": crypto.id_hash_texts(columns["head_id_number"]),
    }
    return csv_text(list(zip(*(sources[name] for name, _ in staging.columns), strict=True)))


def csv_text(rows: list[tuple]) -> str:
    """``rows`` as CSV text. Rows of plain text — no quote, comma or line break in any field —
    are joined directly (a third faster than ``csv.writer`` on 350,000 rows); anything else, a
    number or a date among the fields included, goes through ``csv.writer``, which quotes what
    needs quoting."""
    if rows:
        try:
            text = "\n".join(map(",".join, rows)) + "\n"
        except TypeError:
            text = ""
        if (
            text
            and '"' not in text
            and "\r" not in text
            and text.count("\n") == len(rows)
            and text.count(",") == len(rows) * (len(rows[0]) - 1)
        ):
            return text
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
