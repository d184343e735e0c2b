"""Validate a read workbook: every cell, then the rules across rows, sheets and the database.

Cells are cleaned column by column (``map`` over a column is several times cheaper than a
per-row loop; a column with a bad cell is redone cell by cell to name every bad row). Rules
across rows follow, then the database: which ID numbers already exist in the bank and in which
household (one query through a temporary table). The result holds every problem and, per sheet,
the rows that may be imported as a COPY file (``staging``); with errors present, a row is importable
only when it is valid and nothing it depends on is invalid (a skipped household takes its
members and archives with it, and the report says so).
"""

from __future__ import annotations

import datetime
import io
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import compress

import numpy as np
from django.db import connection, transaction

from common import pii
from common.masking import mask_id_number
from villages.imports.binary_copy import binary_copy, bytea, int4
from villages.imports.cells import IdNumbers, cleaner_for, column_cleaner_for
from villages.imports.columns import ARCHIVES, HOUSEHOLDS, MEMBERS, SheetSpec
from villages.imports.protect import StagedCrypto
from villages.imports.reader import SheetRows, Workbook, problem
from villages.imports.staging import StagedSheet, stage_sheet
from villages.models import Village
from villages.validation import MIN_HEAD_AGE, FieldError, age_on

HEAD = "head"


@dataclass
class SheetCheck:
    spec: SheetSpec
    row_numbers: list[int]
    columns: dict[str, list]  # field → cleaned values (None where the cell was bad)
    bad: dict[int, list[dict]] = field(default_factory=lambda: defaultdict(list))

    def fail(self, index: int, column: str, reason: str) -> None:
        self.bad[index].append(problem(self.spec.name, self.row_numbers[index], column, reason))

    def __len__(self) -> int:
        return len(self.row_numbers)

    def row_index(self, row_no: int) -> int | None:
        if not hasattr(self, "_index_of_row"):
            self._index_of_row = {row: index for index, row in enumerate(self.row_numbers)}
        return self._index_of_row.get(row_no)


@dataclass
class Validation:
    errors: list[dict]
    warnings: list[dict]
    counts: dict[str, dict[str, int]]
    staged: dict[str, StagedSheet]  # sheet code → its importable rows (``staging``)

    @property
    def importable_rows(self) -> int:
        return sum(sheet.rows for sheet in self.staged.values())


@dataclass
class _Existing:
    """What the bank already has for the ID numbers in the file."""

    household_of_member: dict[str, str]  # id_number → household id
    head_of_household: dict[str, str]  # household id → head's id_number
    household_of_head: dict[str, str]  # head's id_number → household id


class SheetCleaner:
    """Cleans the cells of sheets one at a time, as they are read (``read_workbook``'s
    ``on_sheet_read``), for ``validate_workbook`` to take up."""

    def __init__(self, *, bank_id: int, today: datetime.date) -> None:
        self.today = today
        self.id_numbers = IdNumbers(today)
        codes = Village.objects.filter(bank_id=bank_id).values_list("division__code", "id")
        self.village_ids = dict(codes)
        self.checks: dict[str, SheetCheck] = {}

    def __call__(self, sheet: SheetRows) -> SheetCheck:
        check = self.checks.get(sheet.spec.name)
        if check is None:
            check = self.checks[sheet.spec.name] = _clean_cells(
                sheet, today=self.today, id_numbers=self.id_numbers, village_ids=self.village_ids
            )
        return check


def validate_workbook(
    book: Workbook,
    *,
    bank_id: int,
    today: datetime.date,
    on_progress=None,
    cleaner: SheetCleaner | None = None,
) -> Validation:
    """Every problem of ``book`` and its importable rows; sheets ``cleaner`` has already
    cleaned are not cleaned again."""
    errors = list(book.errors)
    warnings = list(book.warnings)
    if errors:
        # The file's shape is wrong (sheet or column missing): cell checks would only repeat
        # the same complaint thousands of times.
        return Validation(errors + book.formula_problems, warnings, {}, {})

    cleaner = cleaner or SheetCleaner(bank_id=bank_id, today=today)
    id_numbers = cleaner.id_numbers
    checks = {}
    for spec in (HOUSEHOLDS, MEMBERS, ARCHIVES):
        checks[spec.name] = cleaner(book.sheets[spec.name])
        if on_progress:
            on_progress(spec)
    households, members, archives = (checks[s.name] for s in (HOUSEHOLDS, MEMBERS, ARCHIVES))
    errors.extend(_mark_formula_cells(checks, book.formula_problems))

    crypto = StagedCrypto(_all_id_numbers(households, members, archives))
    existing = _existing_members(bank_id, crypto)
    file_heads = _check_households(households, existing, id_numbers, today)
    _check_members(members, file_heads, existing)
    _check_archives(archives, file_heads, existing)
    skipped_heads = _households_not_importable(households, members, existing)

    staged, counts = {}, {}
    for check in (households, members, archives):
        sheet, skipped = _stage(check, skipped_heads, id_numbers, crypto)
        staged[check.spec.code] = sheet
        for index in skipped:
            warnings.append(
                problem(
                    check.spec.name,
                    check.row_numbers[index],
                    "",
                    "本行无误，但所属农户(或户主本人的成员行)有错误；若选择仅导入有效行，本行将一并跳过",
                )
            )
        counts[check.spec.code] = {
            "rows": len(check),
            "valid": sheet.rows,
            "invalid": len(check.bad),
            "skipped": len(skipped),
        }
        for index in sorted(check.bad):
            errors.extend(check.bad[index])
    return Validation(errors, warnings, counts, staged)


def _clean_cells(sheet: SheetRows, *, today, id_numbers, village_ids) -> SheetCheck:
    spec = sheet.spec
    row_numbers = [row_no for row_no, _ in sheet.rows]
    check = SheetCheck(spec=spec, row_numbers=row_numbers, columns={})
    by_column = list(zip(*(cells for _, cells in sheet.rows), strict=True)) or [
        () for _ in spec.columns
    ]
    for position, column in enumerate(spec.columns):
        clean = cleaner_for(column, today=today, id_numbers=id_numbers, village_ids=village_ids)
        values = by_column[position]
        try:
            cleaned = column_cleaner_for(column, clean, today=today)(values)
        except FieldError:
            cleaned = None
        if cleaned is None:
            cleaned = []
            for index, value in enumerate(values):
                try:
                    cleaned.append(clean(value))
                except FieldError as error:
                    cleaned.append(None)
                    check.fail(index, column.header, error.message)
        check.columns[column.field] = cleaned
    return check


def _mark_formula_cells(checks: dict[str, SheetCheck], formula_problems: list[dict]) -> list:
    """Each formula cell is a bad cell of its row: its value is dropped (calamine reads only the
    cached result, which WPS- or script-written files do not even have) and the formula is the
    reason given, instead of whatever its cached value did wrong. Returns the problems of
    formulas in rows that were read as blank (no row to hang them on)."""
    unplaced = []
    for formula in formula_problems:
        check = checks.get(formula["sheet"])
        index = check.row_index(formula["row"]) if check is not None else None
        if index is None:
            unplaced.append(formula)
            continue
        column = next(c for c in check.spec.columns if c.header == formula["column"])
        check.columns[column.field][index] = None
        check.bad[index] = [p for p in check.bad[index] if p["column"] != formula["column"]]
        check.bad[index].append(formula)
    return unplaced


def _all_id_numbers(*checks: SheetCheck) -> set[str]:
    numbers: set[str] = set()
    for check in checks:
        for name in ("head_id_number", "id_number"):
            if name in check.columns:
                numbers.update(check.columns[name])
    numbers.discard(None)  # a bad cell
    numbers.discard("")
    return numbers


def _existing_members(bank_id: int, crypto: StagedCrypto) -> _Existing:
    """The bank's members among the file's ID numbers (``crypto.numbers``), with their
    households and those households' heads; through a temporary table because a big file has
    hundreds of thousands of IDs. Members are found by the keyed hash of their ID number
    (``common.pii``), sent as bytes (a binary COPY); rows come back as positions in
    ``crypto.numbers``, and whether the member is the head of their household, so a head in the
    file needs no second lookup. Only a head who is not in the file is read again, and decrypted
    for the report."""
    household_of_member, head_of_household, household_of_head = {}, {}, {}
    numbers = crypto.numbers
    if numbers:
        copied = binary_copy([int4(np.arange(len(numbers))), bytea(crypto.hashes)])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DROP TABLE IF EXISTS pg_temp.import_ids;"
                "CREATE TEMP TABLE import_ids (position integer, id_hash bytea) ON COMMIT DROP"
            )
            cursor.copy_expert(
                "COPY import_ids FROM STDIN WITH (FORMAT binary)", io.BytesIO(copied), 1 << 20
            )
            cursor.execute("ANALYZE import_ids")
            cursor.execute(
                """
                SELECT i.position, m.household_id::text, h.head_id = m.id
                FROM import_ids i
                JOIN villages_member m ON m.bank_id = %s AND m.id_number_hash = i.id_hash
                JOIN villages_household h ON h.id = m.household_id
                """,
                [bank_id],
            )
            found = cursor.fetchall()
            household_of_member = {numbers[position]: household for position, household, _ in found}
            head_of_household = {
                household: numbers[position] for position, household, is_head in found if is_head
            }
            others = set(household_of_member.values()).difference(head_of_household)
            if others:
                cursor.execute(
                    """
                    SELECT h.id::text, head.id_number
                    FROM villages_household h JOIN villages_member head ON head.id = h.head_id
                    WHERE h.id = ANY(%s::uuid[])
                    """,
                    [list(others)],
                )
                rows = cursor.fetchall()
                heads = pii.decrypt_column([cipher for _, cipher in rows], pii.ID_NUMBER)
                head_of_household.update(zip([h for h, _ in rows], heads, strict=True))
            cursor.execute("DROP TABLE IF EXISTS pg_temp.import_ids")
        household_of_head = {
            head: household
            for household, head in head_of_household.items()
            if household_of_member.get(head) == household
        }
    return _Existing(household_of_member, head_of_household, household_of_head)


def _check_households(
    households: SheetCheck, existing: _Existing, id_numbers: IdNumbers, today
) -> dict[str, int]:
    """Rules on household rows; returns head ID → index of its (first) household row."""
    heads = households.columns["head_id_number"]
    label = HOUSEHOLDS.column("head_id_number").header
    first: dict[str, int] = {}
    for index, head in enumerate(heads):
        if head is None:
            continue
        if head in first:
            households.fail(
                index,
                label,
                f"户主身份证号与第{households.row_numbers[first[head]]}行重复，每户只能有一行",
            )
            continue
        first[head] = index
        _sex, birth = id_numbers.info[head]
        age = age_on(birth, today)
        if age < MIN_HEAD_AGE:
            households.fail(index, label, f"户主年龄{age}岁，未满{MIN_HEAD_AGE}周岁")
        other = existing.household_of_member.get(head)
        if other is not None and head not in existing.household_of_head:
            households.fail(
                index,
                label,
                "此人已是本行社另一户(户主 "
                f"{mask_id_number(existing.head_of_household.get(other))})的家庭成员，"
                "不能再作为户主新建农户",
            )
    return first


def _check_members(members: SheetCheck, file_heads: dict[str, int], existing: _Existing):
    heads = members.columns["head_id_number"]
    numbers = members.columns["id_number"]
    relations = members.columns["relation"]
    head_label = MEMBERS.column("head_id_number").header
    id_label = MEMBERS.column("id_number").header
    relation_label = MEMBERS.column("relation").header
    first: dict[str, int] = {}
    for index, (head, number, relation) in enumerate(zip(heads, numbers, relations, strict=True)):
        if number is not None:
            if number in first:
                members.fail(
                    index,
                    id_label,
                    f"身份证号与第{members.row_numbers[first[number]]}行重复，同一人只能登记一次",
                )
            else:
                first[number] = index
        if head is None:
            continue
        target = existing.household_of_head.get(head)
        if head not in file_heads and target is None:
            members.fail(
                index,
                head_label,
                "在“农户”表和系统中都找不到这位户主的农户，请先在“农户”表中登记该户",
            )
            continue
        if number is not None and relation is not None:
            if relation == HEAD and number != head:
                members.fail(
                    index, relation_label, "与户主关系为“户主”，但身份证号与户主身份证号不一致"
                )
            elif relation != HEAD and number == head:
                members.fail(index, relation_label, "此人即户主本人，与户主关系应填“户主”")
        if number is None:
            continue
        current = existing.household_of_member.get(number)
        if current is not None and current != target:
            members.fail(
                index,
                id_label,
                "此人已登记在本行社另一户(户主 "
                f"{mask_id_number(existing.head_of_household.get(current))})，同一人只能属于一户",
            )


def _check_archives(archives: SheetCheck, file_heads: dict[str, int], existing: _Existing):
    heads = archives.columns["head_id_number"]
    dates = archives.columns["survey_date"]
    head_label = ARCHIVES.column("head_id_number").header
    date_label = ARCHIVES.column("survey_date").header
    first: dict[tuple[str, str], int] = {}
    for index, (head, day) in enumerate(zip(heads, dates, strict=True)):
        if head is None:
            continue
        if head not in file_heads and head not in existing.household_of_head:
            archives.fail(
                index,
                head_label,
                "在“农户”表和系统中都找不到这位户主的农户，请先在“农户”表中登记该户",
            )
            continue
        if day is None:
            continue
        if (head, day) in first:
            archives.fail(
                index,
                date_label,
                f"同一户同一调查日期与第{archives.row_numbers[first[(head, day)]]}行重复",
            )
        else:
            first[(head, day)] = index


def _households_not_importable(
    households: SheetCheck, members: SheetCheck, existing: _Existing
) -> set[str]:
    """Head IDs whose rows must all be left out: the household row is bad, or the household is
    new and its head's own member row is bad or missing."""
    heads = households.columns["head_id_number"]
    skipped = {heads[index] for index in households.bad if heads[index] is not None}
    head_rows: dict[str, int] = {}
    for index, (head, number, relation) in enumerate(
        zip(
            members.columns["head_id_number"],
            members.columns["id_number"],
            members.columns["relation"],
            strict=True,
        )
    ):
        # The head's own row: same ID — or marked 户主 with an ID too broken to compare.
        if head is not None and (head == number or (number is None and relation == HEAD)):
            head_rows.setdefault(head, index)
    label = HOUSEHOLDS.column("head_id_number").header
    for index, head in enumerate(heads):
        if head is None or head in existing.household_of_head:
            continue
        member_row = head_rows.get(head)
        if member_row is None:
            households.fail(
                index,
                label,
                "新建农户须在“家庭成员”表中登记户主本人一行(与户主关系填“户主”)",
            )
            skipped.add(head)
        elif member_row in members.bad:
            skipped.add(head)
    return skipped


def _stage(
    check: SheetCheck, skipped_heads: set[str], id_numbers: IdNumbers, crypto: StagedCrypto
) -> tuple[StagedSheet, list[int]]:
    """The importable rows of ``check`` staged (``staging``), and the indexes of valid rows left
    out because what they depend on is invalid."""
    columns = check.columns
    row_numbers = check.row_numbers
    skipped = []
    if check.bad or skipped_heads:
        keep = []
        for index, head in enumerate(columns["head_id_number"]):
            if index in check.bad:
                keep.append(False)
            elif head in skipped_heads:
                skipped.append(index)
                keep.append(False)
            else:
                keep.append(True)
        columns = {name: list(compress(values, keep)) for name, values in columns.items()}
        row_numbers = list(compress(row_numbers, keep))
    sheet = stage_sheet(check.spec.code, columns, row_numbers, crypto, id_numbers.info)
    return sheet, skipped
