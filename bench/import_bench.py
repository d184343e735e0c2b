"""The village spreadsheet import, end to end: upload → parse → validate → upsert.

Numbers from the villages issue: 100,000 households (~3.5 members each, one archive each) in
≤ 30 s and within 4× of a raw baseline; a 500-household village in ≤ 3 s. The baseline is measured
in the same run on the same file: calamine reads the three sheets and PostgreSQL COPYs the same
rows, as text, into plain tables — the floor any import of this file has to stand on.

The workbook is generated once per size and cached under ``var/bench/`` (excluded from timing).
Every measurement runs inside a transaction that is rolled back, so the database is left as it
was; deferred foreign-key checks are forced (``SET CONSTRAINTS ALL IMMEDIATE``) inside the timed
region so the rollback does not skip work a commit would do.
"""

from __future__ import annotations

import csv
import datetime
import io
import random
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from stdnum.cn import ric

from villages.imports.columns import ARCHIVES, HOUSEHOLDS, MEMBERS

BENCH_DIR = Path(settings.BASE_DIR) / "var" / "bench"
BANK_CODE = "SXRCU-YD"
BRANCH_CODE = "SXRCU-YD-B01"
TOWNSHIP = ("141002990000", "基准测试乡")
HOUSEHOLDS_PER_VILLAGE = 2000
SURVEY_DATE = datetime.date(2026, 3, 15)
GENERATOR_VERSION = 3  # 3: text in a shared string table, as Excel saves it

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_GIVEN = ["建军", "国强", "志刚", "秀兰", "桂英", "玉梅", "海龙", "春燕", "丽华", "永福", "金凤"]
_OCCUPATIONS = ["务农", "务工", "个体经营", "学生", "教师", "司机", ""]
_EDUCATION = ["小学", "初中", "高中/中专", "大专", "本科及以上", "未上学"]
_HOUSING = ["砖混", "框架", "砖木", "土木"]


# --- the workbook ---------------------------------------------------------------------------


def village_codes(households: int) -> list[str]:
    count = max(1, -(-households // HOUSEHOLDS_PER_VILLAGE))
    return [f"{TOWNSHIP[0][:9]}{n:03d}" for n in range(1, count + 1)]


class _People:
    """Unique, valid ID numbers: county code by birth year (Linfen was re-coded in 2000)."""

    def __init__(self) -> None:
        self.sequence = 0

    def id_number(self, birth: datetime.date, male: bool) -> str:
        self.sequence += 1
        # 141023 (襄汾县): the demo province gives this bank only 141002 numbers, so none collide.
        county = "142601" if birth.year < 2000 else "141023"
        order = (self.sequence * 2 + (1 if male else 0)) % 1000
        # sequence spreads over birth dates first, so (date, order) never repeats in a run
        body = f"{county}{birth:%Y%m%d}{order:03d}"
        return body + ric.calc_check_digit(body + "0")


def _birth(rng: random.Random, first: int, last: int, salt: int) -> datetime.date:
    start = datetime.date(first, 1, 1).toordinal()
    end = datetime.date(last, 12, 28).toordinal()
    return datetime.date.fromordinal(start + (rng.randrange(end - start) + salt) % (end - start))


def workbook_rows(households: int, seed: int = 20260315) -> tuple[list, list, list]:
    rng = random.Random(seed)
    people = _People()
    codes = village_codes(households)
    used: set[str] = set()

    def new_id(birth: datetime.date, male: bool) -> str:
        while True:
            number = people.id_number(birth, male)
            if number not in used:
                used.add(number)
                return number
            birth += datetime.timedelta(days=1)

    def name(n: int) -> str:
        return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n // 7) % len(_GIVEN)]

    house_rows, member_rows, archive_rows = [], [], []
    for n in range(households):
        head_birth = _birth(rng, 1950, 1995, n)
        head_id = new_id(head_birth, True)
        phone = f"13{rng.randrange(5, 10)}{rng.randrange(10**8):08d}"
        house_rows.append(
            [
                head_id,
                codes[n // HOUSEHOLDS_PER_VILLAGE],
                f"第{n % 9 + 1}组",
                f"{n % 300 + 1}号",
                phone,
            ]
        )
        member_rows.append([head_id, name(n), head_id, "户主", "初中", "务农", "健康", phone])
        others = rng.choice((1, 2, 2, 3, 3, 4))  # 2.5 on average: 3.5 people per household
        for k in range(others):
            relation = ("配偶", "子女", "子女", "父母")[k]
            if relation == "配偶":
                birth = _birth(rng, head_birth.year - 3, min(head_birth.year + 3, 2005), n + k)
            elif relation == "子女":
                birth = _birth(rng, min(head_birth.year + 20, 2020), 2020, n + k)
            else:
                birth = _birth(rng, 1925, max(head_birth.year - 18, 1926), n + k)
            member_phone = (
                f"15{rng.choice('01235789')}{rng.randrange(10**8):08d}"
                if rng.random() < 0.5
                else ""
            )
            member_rows.append(
                [
                    head_id,
                    name(n * 5 + k + 1),
                    new_id(birth, k % 2 == 1),
                    relation,
                    rng.choice(_EDUCATION),
                    rng.choice(_OCCUPATIONS),
                    "健康",
                    member_phone,
                ]
            )
        business = rng.random() < 0.15
        archive_rows.append(
            [
                head_id,
                SURVEY_DATE,
                round(rng.uniform(0, 30), 1),
                round(rng.uniform(0, 50), 1) if rng.random() < 0.2 else 0,
                rng.randrange(0, 60),
                rng.randrange(0, 200) * 100,
                rng.randrange(0, 100) * 500,
                rng.choice(_HOUSING),
                rng.randrange(60, 300),
                rng.randrange(5, 60) * 10000,
                rng.randrange(0, 20) * 5000,
                round(rng.uniform(0, 200000), 2),
                rng.randrange(0, 60) * 1000,
                rng.randrange(0, 40) * 1000,
                rng.randrange(0, 80) * 1000,
                rng.randrange(0, 100) * 1000 if business else 0,
                rng.randrange(0, 50) * 100,
                rng.randrange(0, 10) * 1000,
                rng.randrange(10, 60) * 1000,
                rng.randrange(0, 30) * 10000,
                rng.randrange(0, 50) * 100,
                "是",
                "是",
                "是" if business else "否",
                "零售商店" if business else "",
                rng.randrange(10, 100) * 10000 if business else 0,
                "村口" if business else "",
                rng.randrange(0, 5) if business else 0,
            ]
        )
    return house_rows, member_rows, archive_rows


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_EXCEL_EPOCH = datetime.date(1899, 12, 30)


def _sheet_xml(headers: list[str], rows: list[list], strings: dict[str, int]) -> bytes:
    """A worksheet as Excel and WPS save one: text in the shared string table (``strings``, text
    → index, grown here), numbers as numbers, dates as date-formatted serials."""
    letters = [_column_letter(i) for i in range(len(headers))]
    out = io.StringIO()
    out.write(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheetData>"
    )
    for row_no, values in enumerate([headers, *rows], start=1):
        out.write(f'<row r="{row_no}">')
        for letter, value in zip(letters, values, strict=False):
            ref = f"{letter}{row_no}"
            if value == "" or value is None:
                continue
            if isinstance(value, str):
                index = strings.setdefault(value, len(strings))
                out.write(f'<c r="{ref}" s="1" t="s"><v>{index}</v></c>')
            elif isinstance(value, datetime.date):
                out.write(f'<c r="{ref}" s="2"><v>{(value - _EXCEL_EPOCH).days}</v></c>')
            else:
                out.write(f'<c r="{ref}"><v>{value}</v></c>')
        out.write("</row>")
    out.write("</sheetData></worksheet>")
    return out.getvalue().encode()


def _shared_strings_xml(strings: dict[str, int]) -> bytes:
    items = "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)  # in index order
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        f' count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'
    ).encode()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "{sheets}</Types>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="等线"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs></styleSheet>"
)


def write_workbook(path: Path, sheets: list[tuple[str, list[str], list[list]]]) -> None:
    """A minimal but valid xlsx, written directly (openpyxl would take minutes at 100k rows), laid
    out as Excel and WPS save the files operations staff upload: text in ``sharedStrings.xml``.
    (Earlier versions wrote inline strings, which no spreadsheet program saves and which cost
    calamine a third more time to parse.)"""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        + "".join(
            f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (name, _, _) in enumerate(sheets, start=1)
        )
        + "</sheets></workbook>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        + f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        + f'<Relationship Id="rId{len(sheets) + 2}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.format(sheets=overrides))
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", rels)
        archive.writestr("xl/styles.xml", _STYLES)
        strings: dict[str, int] = {}
        for i, (_, headers, rows) in enumerate(sheets, start=1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", _sheet_xml(headers, rows, strings))
        archive.writestr("xl/sharedStrings.xml", _shared_strings_xml(strings))
    partial.rename(path)


def bench_workbook(households: int) -> Path:
    path = BENCH_DIR / f"villages_import_{households}_v{GENERATOR_VERSION}.xlsx"
    if not path.exists():
        house_rows, member_rows, archive_rows = workbook_rows(households)
        write_workbook(
            path,
            [
                (spec.name, [c.template_header for c in spec.columns], rows)
                for spec, rows in (
                    (HOUSEHOLDS, house_rows),
                    (MEMBERS, member_rows),
                    (ARCHIVES, archive_rows),
                )
            ],
        )
    return path


# --- the measurements -------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def ensure_villages(households: int) -> None:
    """Division rows down to the bench township, and a village of the bank for each code."""
    from org.models import Institution
    from villages.models import Division, Village

    chain = [
        ("140000000000", "山西省", 1),
        ("141000000000", "临汾市", 2),
        ("141002000000", "尧都区", 3),
        (TOWNSHIP[0], TOWNSHIP[1], 4),
    ]
    parent = None
    for code, name, level in chain:
        parent, _ = Division.objects.get_or_create(
            code=code, defaults={"name": name, "level": level, "parent": parent}
        )
    branch = Institution.objects.get(code=BRANCH_CODE)
    for n, code in enumerate(village_codes(households), start=1):
        division, _ = Division.objects.get_or_create(
            code=code, defaults={"name": f"基准村{n}", "level": 5, "parent": parent}
        )
        Village.objects.get_or_create(
            bank_id=branch.bank_id,
            division=division,
            defaults={"name": division.name, "branch": branch},
        )


def _vacuum() -> None:
    """Earlier runs rolled back hundreds of thousands of inserts; start from clean tables with
    fresh statistics so every run measures the same thing (not part of the timing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE villages_household, villages_member, villages_economicarchive,"
            " villages_householdevent, villages_memberevent, villages_economicarchiveevent"
        )


def _baseline_seconds(path: Path) -> float:
    """calamine reads every sheet; COPY writes the same rows, as text, into plain tables."""
    from python_calamine import CalamineWorkbook

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            start = time.perf_counter()
            workbook = CalamineWorkbook.from_path(str(path))
            for n, spec in enumerate((HOUSEHOLDS, MEMBERS, ARCHIVES)):
                rows = workbook.get_sheet_by_name(spec.name).to_python()
                width = len(rows[0])
                cursor.execute(
                    f"CREATE TABLE bench_raw_{n} ({', '.join(f'c{i} text' for i in range(width))})"
                )
                buffer = io.StringIO()
                csv.writer(buffer, lineterminator="\n").writerows(rows[1:])
                buffer.seek(0)
                cursor.copy_expert(f"COPY bench_raw_{n} FROM STDIN WITH (FORMAT csv)", buffer)
            elapsed = time.perf_counter() - start
            raise _Rollback
    except _Rollback:
        pass
    return elapsed


def _import_seconds(path: Path, staff) -> tuple[float, float, dict]:
    """First import of the file, then the same file again (which must change nothing)."""
    from villages.imports.services import (
        import_job_confirm,
        import_job_create,
        import_job_import,
        import_job_validate,
        staged_file_names,
    )
    from villages.models import ImportJob

    content = path.read_bytes()
    jobs = []

    def import_once() -> tuple[float, ImportJob]:
        upload = SimpleUploadedFile(path.name, content)
        start = time.perf_counter()
        job = import_job_create(uploaded_by=staff, upload=upload)
        jobs.append(job)
        job = import_job_validate(job_id=job.pk)
        assert job.status == ImportJob.Status.VALID, (job.status, job.errors[:5])
        import_job_confirm(job=job, confirmed_by=staff)
        job = import_job_import(job_id=job.pk)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        elapsed = time.perf_counter() - start
        assert job.status == ImportJob.Status.DONE, (job.status, job.failure_reason, job.errors[:5])
        return elapsed, job

    try:
        with transaction.atomic():
            first_seconds, first = import_once()
            again_seconds, again = import_once()
            raise _Rollback
    except _Rollback:
        pass
    finally:
        # The rollback undid the rows, not the files: the upload and the staged rows.
        for job in jobs:
            job.file.storage.delete(job.file.name)
            for name in staged_file_names(f"imports/staged/{job.pk}"):
                job.file.storage.delete(name)
    unchanged = again.counts
    assert all(part["created"] == 0 and part["updated"] == 0 for part in unchanged.values()), (
        unchanged
    )
    return first_seconds, again_seconds, first.counts


def run(*, quick: bool) -> list[dict]:
    from org.models import Staff

    staff = Staff.objects.get(user__username="b1_admin")
    big = 5000 if quick else 100000
    rows = []
    for households, name, goal in (
        (big, f"import_{big}_households", 30.0 if not quick else None),
        (500, "import_500_households", 3.0),
    ):
        ensure_villages(households)
        path = bench_workbook(households)
        _vacuum()
        baseline = _baseline_seconds(path)
        _vacuum()
        seconds, again, counts = _import_seconds(path, staff)
        print(
            f"  {name}: {seconds:.2f}s (same file again {again:.2f}s), baseline {baseline:.2f}s, "
            f"members {counts['members']['created']}"
        )
        rows.append(
            {
                "name": name,
                "value": round(seconds, 3),
                "unit": "s",
                "goal": goal,
                "baseline": round(baseline, 3),
                "ratio": round(seconds / baseline, 2),
            }
        )
        rows.append(
            {
                "name": f"{name}_reimport_unchanged",
                "value": round(again, 3),
                "unit": "s",
                "goal": goal,
                "baseline": round(baseline, 3),
                "ratio": round(again / baseline, 2),
            }
        )
    # Leave no dead rows behind: autovacuum would otherwise clean up after these rollbacks
    # in the middle of the next benchmark.
    _vacuum()
    return rows
