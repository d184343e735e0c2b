"""Spreadsheet (formula) injection: free text that Excel would run is refused at import, naming
sheet, row and column, and nothing is written; numbers and phones are judged as what they are."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.villages.import_files import (  # noqa: F401  (fixtures)
    build_xlsx,
    families,
    family,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    run_import,
    validate,
    written_rows,
)
from villages.models import ImportJob, Member

pytestmark = pytest.mark.usefixtures("import_media_root", "import_villages")

HYPERLINK = '=HYPERLINK("http://x","y")'


def as_typed_text(content: bytes, cells: dict[tuple[str, str], str]) -> bytes:
    """The workbook with each ``(sheet, "B3")`` cell holding ``text`` as a string cell — what
    Excel stores when the cell is formatted as text or the text was pasted — never a formula
    (those the reader refuses on its own)."""
    workbook = load_workbook(io.BytesIO(content))
    for (sheet, ref), text in cells.items():
        cell = workbook[sheet][ref]
        cell.value = text
        cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("sheet", "ref", "column"),
    [("家庭成员", "B3", "姓名"), ("农户", "D2", "住址"), ("家庭成员", "F4", "职业")],
)
def test_a_hyperlink_formula_typed_as_text_is_refused_naming_row_and_column(
    import_staff, sheet, ref, column
):
    content = as_typed_text(build_xlsx(*family(1)), {(sheet, ref): HYPERLINK})
    assert load_workbook(io.BytesIO(content))[sheet][ref].data_type == "s"

    job = validate(import_staff, content)

    assert job.status == ImportJob.Status.INVALID
    assert job.errors == [
        {
            "sheet": sheet,
            "row": int(ref[1:]),
            "column": column,
            "reason": f"{column}不能以“=”开头：Excel会把这样的内容当作公式执行，请删除开头的符号或改用文字",
        }
    ]
    assert written_rows() == (0, 0, 0)


def test_every_formula_start_is_refused_in_the_column_and_the_rest_pass(import_staff):
    """Many rows, so the whole-column path sees the bad cells first and hands them over."""
    content = build_xlsx(*families(6))
    starts = {
        ("家庭成员", "F3"): "+1+1",
        ("家庭成员", "F6"): "-2+3+cmd|' /C calc'!A0",
        ("家庭成员", "F9"): "@SUM(1+1)*cmd",
        ("家庭成员", "F12"): "＝1+1",  # full-width, which NFKC makes "="
        ("家庭成员", "F15"): "\t=1+1",  # a leading tab is stripped, the "=" is still seen
        ("经济档案", "AA2"): "=cmd",  # 经营场所
    }
    job = validate(import_staff, as_typed_text(content, starts))

    assert job.status == ImportJob.Status.INVALID
    found = {(e["sheet"], e["row"], e["column"]): e["reason"] for e in job.errors}
    assert set(found) == {
        ("家庭成员", 3, "职业"),
        ("家庭成员", 6, "职业"),
        ("家庭成员", 9, "职业"),
        ("家庭成员", 12, "职业"),
        ("家庭成员", 15, "职业"),
        ("经济档案", 2, "经营场所"),
    }
    assert "不能以“@”开头" in found[("家庭成员", 9, "职业")]
    assert written_rows() == (0, 0, 0)


def test_numbers_and_phones_are_not_taken_for_formulas(import_staff):
    households, members, archives = family(1)
    members[0][7] = "+86 138 1234 5678"
    households[0][3] = "3-2号"  # a dash inside text is fine
    content = build_xlsx(households, members, archives)

    job = run_import(import_staff, content)

    assert job.status == ImportJob.Status.DONE, job.errors
    assert Member.objects.get(name="户主1").phone == "13812345678"

    households, members, archives = family(2)
    archives[0][5] = "-5"  # 养殖估值: judged as a number, not as a formula
    job = validate(import_staff, build_xlsx(households, members, archives))
    assert [(e["column"], e["reason"]) for e in job.errors] == [
        ("养殖估值(元)", job.errors[0]["reason"])
    ]
    assert "公式" not in job.errors[0]["reason"]
