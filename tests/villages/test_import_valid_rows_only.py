"""A file with errors is imported only when the user asks for its valid rows alone; rows that
depend on an invalid row are left out with it, and the report says which."""

import pytest

from tests.villages.import_files import (  # noqa: F401  (fixtures)
    build_xlsx,
    families,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    validate,
    written_rows,
)
from villages.imports.services import ImportRejected, import_job_confirm, import_job_import
from villages.models import Household, ImportJob


@pytest.fixture
def half_bad_job(import_staff, import_media_root, import_villages):
    households, members, archives = families(3)
    households[1][1] = "141002990099"  # household 2: unknown village
    members[6][2] = members[6][2][:17] + ("1" if members[6][2][17] == "0" else "0")  # head 3
    return validate(import_staff, build_xlsx(households, members, archives))


def test_invalid_file_reports_what_would_be_skipped(half_bad_job):
    job = half_bad_job

    assert job.status == ImportJob.Status.INVALID
    assert job.error_count == 2
    assert job.counts["households"] == {"rows": 3, "valid": 1, "invalid": 1, "skipped": 1}
    assert job.counts["members"] == {"rows": 9, "valid": 3, "invalid": 1, "skipped": 5}
    assert job.counts["archives"] == {"rows": 3, "valid": 1, "invalid": 0, "skipped": 2}
    skipped = {(w["sheet"], w["row"]) for w in job.warnings}
    assert ("家庭成员", 5) in skipped  # household 2's head
    assert ("农户", 4) in skipped  # household 3: its head's member row is invalid
    assert job.can_confirm
    assert written_rows() == (0, 0, 0)


def test_confirming_a_file_with_errors_needs_the_explicit_choice(half_bad_job, import_staff):
    with pytest.raises(ImportRejected, match="仅导入有效行"):
        import_job_confirm(job=half_bad_job, confirmed_by=import_staff)

    half_bad_job.refresh_from_db()
    assert half_bad_job.status == ImportJob.Status.INVALID
    assert written_rows() == (0, 0, 0)


def test_valid_rows_only_imports_the_rest(half_bad_job, import_staff):
    import_job_confirm(job=half_bad_job, confirmed_by=import_staff, import_valid_rows_only=True)
    job = import_job_import(job_id=half_bad_job.pk)

    assert job.status == ImportJob.Status.DONE
    assert job.import_valid_rows_only
    assert written_rows() == (1, 3, 1)
    assert job.counts["members"]["created"] == 3
    assert Household.objects.get().address == "1号"


def test_a_job_is_confirmed_once(import_staff, import_media_root, import_villages):
    job = validate(import_staff, build_xlsx(*families(1)))
    import_job_confirm(job=job, confirmed_by=import_staff)

    with pytest.raises(ImportRejected, match=r"不能确认导入|重复"):
        import_job_confirm(job=job, confirmed_by=import_staff)


def test_another_banks_staff_cannot_confirm(import_staff, import_media_root, import_villages):
    from org.models import Staff

    job = validate(import_staff, build_xlsx(*families(1)))
    foreign = Staff.objects.get(user__username="b2_admin")

    with pytest.raises(ImportRejected):
        import_job_confirm(job=job, confirmed_by=foreign)
