"""Real xlsx files for the import tests, built with openpyxl, and the fixtures they need.

Rows are lists in template column order; ``family()`` makes valid households with members and an
archive each, so a test changes one cell and asserts on the one error it causes.
"""

from __future__ import annotations

import datetime
import io

import pytest
from openpyxl import Workbook
from stdnum.cn import ric

from villages.imports.columns import ARCHIVES, HOUSEHOLDS, MEMBERS

VILLAGE_A = "141002990001"
VILLAGE_B = "141002990002"
FOREIGN_VILLAGE = "141023990001"  # a village of the other bank
SURVEY_DATE = "2025-03-15"


def make_id(birth: datetime.date, sequence: int, *, male: bool = True, county: str = "110101"):
    order = (sequence * 2 + (1 if male else 0)) % 1000
    body = f"{county}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


def household_row(head_id, village=VILLAGE_A, group="第一组", address="1号", phone="13812345678"):
    return [head_id, village, group, address, phone]


def member_row(
    head_id,
    name,
    id_number,
    relation="户主",
    education="初中",
    occupation="务农",
    health="健康",
    phone="",
):
    return [head_id, name, id_number, relation, education, occupation, health, phone]


def archive_row(head_id, survey_date=SURVEY_DATE, **figures):
    values = {column.field: "" for column in ARCHIVES.columns}
    values.update(
        head_id_number=head_id,
        survey_date=survey_date,
        land_contracted_mu=12.5,
        livestock_heads=40,
        income_crops=30000,
        annual_expenses=20000,
        has_social_security="是",
    )
    values.update(figures)
    return [values[column.field] for column in ARCHIVES.columns]


def family(number: int, village: str = VILLAGE_A):
    """One valid household: head, spouse, child; and one archive row."""
    head = make_id(datetime.date(1970 + number % 20, 1 + number % 12, 1 + number % 28), number)
    spouse = make_id(datetime.date(1972, 5, 1 + number % 28), number, male=False)
    child = make_id(datetime.date(2000, 3, 1 + number % 28), number + 500)
    households = [household_row(head, village, address=f"{number}号")]
    members = [
        member_row(head, f"户主{number}", head, "户主", phone="13812345678"),
        member_row(head, f"配偶{number}", spouse, "配偶"),
        member_row(head, f"子女{number}", child, "子女", education="大专"),
    ]
    archives = [archive_row(head)]
    return households, members, archives


def families(count: int, village: str = VILLAGE_A, start: int = 1):
    households, members, archives = [], [], []
    for number in range(start, start + count):
        h, m, a = family(number, village)
        households += h
        members += m
        archives += a
    return households, members, archives


def build_xlsx(
    households=(),
    members=(),
    archives=(),
    *,
    omit_sheets=(),
    extra_columns: dict[str, list[str]] | None = None,
    headers: dict[str, list[str]] | None = None,
) -> bytes:
    """A workbook shaped like the template (text-formatted ID columns) holding ``rows``.

    A cell value that is an int or float is written as a number, as Excel would store an ID typed
    into a number-formatted cell; a string starting with "=" is written as a formula."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    extra_columns = extra_columns or {}
    for spec, rows in ((HOUSEHOLDS, households), (MEMBERS, members), (ARCHIVES, archives)):
        if spec.name in omit_sheets:
            continue
        sheet = workbook.create_sheet(spec.name)
        header = (headers or {}).get(spec.name) or [c.template_header for c in spec.columns]
        sheet.append([*header, *extra_columns.get(spec.name, [])])
        for row in rows:
            sheet.append(list(row))
        for index, column in enumerate(spec.columns, start=1):
            if column.as_text:
                for cells in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    for cell in cells:
                        if isinstance(cell.value, str):
                            cell.number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- fixtures: import the *_fixture functions into a test module; they register under the
# names without the suffix, so test arguments do not shadow the imports. -----------------------


@pytest.fixture(name="import_media_root")
def import_media_root_fixture(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(name="import_villages")
def import_villages_fixture(province):
    """Two villages of bank 1 and one of bank 2, under a made-up township of Yaodu."""
    from org.models import Institution
    from villages.models import Division, Village

    province_division = Division.objects.create(code="140000000000", name="山西省", level=1)
    city = Division.objects.create(
        code="141000000000", name="临汾市", level=2, parent=province_division
    )
    yaodu = Division.objects.create(code="141002000000", name="尧都区", level=3, parent=city)
    xiangfen = Division.objects.create(code="141023000000", name="襄汾县", level=3, parent=city)
    town_a = Division.objects.create(code="141002990000", name="测试乡", level=4, parent=yaodu)
    town_b = Division.objects.create(code="141023990000", name="测试镇", level=4, parent=xiangfen)
    result = {}
    for code, name, town, branch_code in (
        (VILLAGE_A, "甲村", town_a, "SXRCU-YD-B01"),
        (VILLAGE_B, "乙村", town_a, "SXRCU-YD-B02"),
        (FOREIGN_VILLAGE, "丙村", town_b, "SXRCU-XF-B01"),
    ):
        division = Division.objects.create(code=code, name=name, level=5, parent=town)
        branch = Institution.objects.get(code=branch_code)
        result[code] = Village.objects.create(
            division=division, name=name, branch=branch, bank_id=branch.bank_id
        )
    return result


@pytest.fixture(name="import_staff")
def import_staff_fixture(province):
    from org.models import Staff

    return Staff.objects.select_related("user").get(user__username="b1_admin")


def upload(content: bytes, name: str = "村民.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def validate(staff, content: bytes, name: str = "村民.xlsx"):
    """Create and validate a job the way the task would (tests never commit, so the on-commit
    task does not run by itself)."""
    from villages.imports.services import import_job_create, import_job_validate

    job = import_job_create(uploaded_by=staff, upload=upload(content, name))
    return import_job_validate(job_id=job.pk)


def run_import(staff, content: bytes, *, valid_rows_only: bool = False):
    from villages.imports.services import import_job_confirm, import_job_import

    job = validate(staff, content)
    import_job_confirm(job=job, confirmed_by=staff, import_valid_rows_only=valid_rows_only)
    return import_job_import(job_id=job.pk)


def reasons(job) -> list[str]:
    return [error["reason"] for error in job.errors]


def written_rows() -> tuple[int, int, int]:
    from villages.models import EconomicArchive, Household, Member

    return Household.objects.count(), Member.objects.count(), EconomicArchive.objects.count()


def event_rows() -> int:
    from villages.models import EconomicArchive, Household, Member

    total = 0
    for model in (Household, Member, EconomicArchive):
        event = next(
            m
            for m in model._meta.apps.get_models()
            if getattr(m, "pgh_tracked_model", None) is model
        )
        total += event.objects.count()
    return total
