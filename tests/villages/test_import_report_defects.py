"""Defects of the import found as a new user would: a blank row above the header, a formula
hiding every other error, a "checking" banner after the check, ids shared between tables."""

import io

import pytest
from openpyxl import load_workbook

from tests.villages.import_files import (  # noqa: F401  (fixtures)
    archive_row,
    build_xlsx,
    families,
    family,
    household_row,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    run_import,
    upload,
    validate,
    written_rows,
)
from villages.models import EconomicArchive, Household, ImportJob, Member

pytestmark = pytest.mark.usefixtures("import_media_root", "import_villages")


def _blank_row_above_header(content: bytes, sheet_name: str) -> bytes:
    workbook = load_workbook(io.BytesIO(content))
    workbook[sheet_name].insert_rows(1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_blank_row_above_the_header_is_skipped_and_rows_keep_their_numbers(import_staff):
    households, members, archives = families(2)
    content = _blank_row_above_header(build_xlsx(households, members, archives), "农户")

    job = run_import(import_staff, content)

    assert job.status == ImportJob.Status.DONE, job.errors
    assert written_rows() == (2, 6, 2)


def test_an_error_below_a_blank_first_row_names_the_row_excel_shows(import_staff):
    households, members, archives = families(2)
    households[1][4] = "1381234567"  # ten digits, in Excel row 4 once a blank row is on top
    content = _blank_row_above_header(build_xlsx(households, members, archives), "农户")

    job = validate(import_staff, content)

    assert [(e["sheet"], e["row"], e["column"]) for e in job.errors] == [("农户", 4, "联系电话")]


def test_a_formula_is_reported_beside_every_other_error(import_staff):
    households, members, archives = families(2)
    archives[0] = archive_row(households[0][0], income_crops="=1000*3")
    households[1][4] = "1381234abcd"
    members[4][2] = members[4][2][:-1] + ("0" if members[4][2][-1] != "0" else "1")

    job = validate(import_staff, build_xlsx(households, members, archives))

    assert job.status == ImportJob.Status.INVALID
    found = {(e["sheet"], e["row"], e["column"]) for e in job.errors}
    assert found == {
        ("经济档案", 2, "种植收入(元/年)"),
        ("农户", 3, "联系电话"),
        ("家庭成员", 6, "身份证号"),
    }, job.errors
    formula = next(e for e in job.errors if e["sheet"] == "经济档案")
    assert "公式" in formula["reason"]
    assert job.error_count == 3
    assert written_rows() == (0, 0, 0)


def test_a_formula_row_is_not_imported_with_the_valid_rows(import_staff):
    households, members, archives = families(2)
    archives[0] = archive_row(households[0][0], income_crops="=1000*3")

    job = run_import(import_staff, build_xlsx(households, members, archives), valid_rows_only=True)

    assert job.status == ImportJob.Status.DONE, job.errors
    assert written_rows() == (2, 6, 1)


def test_the_checking_banner_is_gone_once_the_check_has_ended(
    import_staff, client, django_capture_on_commit_callbacks
):
    client.force_login(import_staff.user)
    households, members, archives = family(1)
    # Without a broker the check runs when the upload commits, before the redirect is followed.
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = client.post(
            "/admin/villages/importjob/add/",
            {"file": upload(build_xlsx(households, members, archives))},
        )
    assert uploaded.status_code == 302
    response = client.get(uploaded["Location"])
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.VALID
    page = response.content.decode()
    assert "校验通过" in page
    assert "正在逐行校验" not in page


def test_a_job_still_checking_says_so(import_staff, client):
    client.force_login(import_staff.user)
    households, members, archives = family(1)
    from villages.imports.services import import_job_create

    job = import_job_create(
        uploaded_by=import_staff, upload=upload(build_xlsx(households, members, archives))
    )
    page = client.get(f"/admin/villages/importjob/{job.pk}/change/").content.decode()
    assert "正在逐行校验" in page


def test_every_imported_record_has_its_own_id(import_staff):
    households, members, archives = families(3)

    job = run_import(import_staff, build_xlsx(households, members, archives))

    assert job.status == ImportJob.Status.DONE, job.errors
    ids = [
        *Household.objects.values_list("id", flat=True),
        *Member.objects.values_list("id", flat=True),
        *EconomicArchive.objects.values_list("id", flat=True),
    ]
    assert len(ids) == 3 + 9 + 3
    assert len(set(ids)) == len(ids)
    # Still time-ordered within a table: one import's ids share its prefix and ascend.
    household_ids = sorted(str(i) for i in Household.objects.values_list("id", flat=True))
    assert len({i[:23] for i in household_ids}) == 1
