"""The downloadable template: Chinese headers, ID and phone columns as text, a 说明 sheet; a
filled-in template imports as it is."""

import io

import pytest
from openpyxl import load_workbook

from tests.villages.import_files import (  # noqa: F401  (fixtures)
    families,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    reasons,
    run_import,
    validate,
)
from villages.imports.columns import SHEETS
from villages.imports.template import template_workbook_bytes
from villages.models import ImportJob

pytestmark = pytest.mark.usefixtures("import_media_root", "import_villages")


def test_template_sheets_headers_and_text_columns():
    workbook = load_workbook(io.BytesIO(template_workbook_bytes()))

    assert workbook.sheetnames == ["农户", "家庭成员", "经济档案", "说明"]
    for spec in SHEETS:
        sheet = workbook[spec.name]
        assert [cell.value for cell in sheet[1]] == [c.template_header for c in spec.columns]
        for index, column in enumerate(spec.columns, start=1):
            if column.as_text:
                assert sheet.cell(row=2, column=index).number_format == "@", column.header
    assert sheet.cell(row=1, column=1).value == "户主身份证号*"
    notes = " ".join(str(c.value) for row in workbook["说明"].iter_rows() for c in row if c.value)
    assert "文本格式" in notes
    assert "公式" in notes


def test_blank_template_is_an_empty_file(import_staff):
    job = validate(import_staff, template_workbook_bytes())

    assert job.status == ImportJob.Status.INVALID
    assert reasons(job) == ["文件中没有任何数据行(三张表都是空的)"]


def test_filled_in_template_imports(import_staff):
    workbook = load_workbook(io.BytesIO(template_workbook_bytes()))
    for spec, rows in zip(SHEETS, families(2), strict=True):
        sheet = workbook[spec.name]
        for row_number, row in enumerate(rows, start=2):
            for column_number, value in enumerate(row, start=1):
                sheet.cell(row=row_number, column=column_number, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = run_import(import_staff, buffer.getvalue())

    assert job.status == ImportJob.Status.DONE, job.errors
    assert job.counts["members"]["created"] == 6
