"""A valid file is imported whole; the same file again changes nothing; changed figures update."""

import datetime
from decimal import Decimal

import pytest
from pghistory.models import Events

from tests.villages.import_files import (  # noqa: F401  (fixtures)
    VILLAGE_A,
    VILLAGE_B,
    archive_row,
    build_xlsx,
    event_rows,
    families,
    family,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    make_id,
    member_row,
    run_import,
    validate,
    written_rows,
)
from villages.models import EconomicArchive, Household, ImportJob, Member

pytestmark = pytest.mark.usefixtures("import_media_root", "import_villages")


def test_valid_file_is_imported_with_heads_villages_and_derived_fields(import_staff):
    households, members, archives = families(3, VILLAGE_A)
    more = families(2, VILLAGE_B, start=10)
    content = build_xlsx(households + more[0], members + more[1], archives + more[2])

    job = run_import(import_staff, content)

    assert job.status == ImportJob.Status.DONE, (job.failure_reason, job.errors)
    assert job.progress_percent == 100
    assert job.counts["households"] == {
        "rows": 5,
        "valid": 5,
        "invalid": 0,
        "skipped": 0,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
    }
    assert job.counts["members"]["created"] == 15
    assert job.counts["archives"]["created"] == 5
    assert written_rows() == (5, 15, 5)

    head_id = households[0][0]
    household = Household.objects.select_related("head", "village__division").get(
        head__id_number_hash=head_id
    )
    assert household.bank_id == import_staff.bank_id
    assert household.village.division.code == VILLAGE_A
    assert household.created_by == import_staff
    assert household.head.relation == Member.Relation.HEAD
    assert household.head.household_id == household.pk
    assert household.members.count() == 3
    head = household.head
    assert head.sex == "M"
    assert head.birth_date == datetime.date(
        int(head_id[6:10]), int(head_id[10:12]), int(head_id[12:14])
    )
    spouse = household.members.get(relation=Member.Relation.SPOUSE)
    assert spouse.sex == "F"
    archive = EconomicArchive.objects.get(household=household)
    assert archive.survey_date == datetime.date(2025, 3, 15)
    assert archive.land_contracted_mu == Decimal("12.50")
    assert archive.livestock_heads == 40
    assert archive.income_crops == Decimal("30000.00")
    assert archive.has_social_security is True
    assert archive.bank_id == import_staff.bank_id
    assert archive.crops == []


def test_reimporting_the_same_file_changes_nothing_and_writes_no_audit_events(import_staff):
    content = build_xlsx(*families(4))
    run_import(import_staff, content)
    rows_before, events_before = written_rows(), event_rows()
    updated_at = sorted(Member.objects.values_list("updated_at", flat=True))

    again = run_import(import_staff, content)

    assert again.status == ImportJob.Status.DONE
    for part in ("households", "members", "archives"):
        assert again.counts[part]["created"] == 0
        assert again.counts[part]["updated"] == 0
        assert again.counts[part]["unchanged"] == again.counts[part]["rows"]
    assert written_rows() == rows_before
    assert event_rows() == events_before
    assert sorted(Member.objects.values_list("updated_at", flat=True)) == updated_at


def test_changed_figures_update_only_what_changed(import_staff):
    households, members, archives = families(2)
    run_import(import_staff, build_xlsx(households, members, archives))
    events_before = event_rows()

    archives[0] = archive_row(households[0][0], income_crops=45000, land_contracted_mu="20")
    households[1][4] = "13912345678"
    members[1][5] = "务工"
    job = run_import(import_staff, build_xlsx(households, members, archives))

    assert job.counts["archives"] == {**job.counts["archives"], "created": 0, "updated": 1}
    assert job.counts["households"]["updated"] == 1
    assert job.counts["members"]["updated"] == 1
    assert event_rows() == events_before + 3
    archive = EconomicArchive.objects.get(household__head__id_number_hash=households[0][0])
    assert archive.income_crops == Decimal("45000.00")
    assert archive.land_contracted_mu == Decimal("20.00")
    update = Events.objects.tracks(archive).filter(pgh_label="update").get()
    assert set(update.pgh_diff) == {"income_crops", "land_contracted_mu"}
    assert update.pgh_diff["income_crops"] == [30000.0, 45000.0]


def test_a_changed_phone_is_stored_and_the_other_phones_are_kept(import_staff):
    households, members, archives = families(2)
    members[0][7] = "13700001111"
    members[1][7] = "13700002222"
    run_import(import_staff, build_xlsx(households, members, archives))

    households[0][4] = "13911112222"
    members[1][7] = "13700003333"
    members[3][7] = ""  # the second family's head gives up his
    job = run_import(import_staff, build_xlsx(households, members, archives))

    assert job.counts["households"]["updated"] == 1
    assert job.counts["members"]["updated"] == 2
    household = Household.objects.get(head__id_number_hash=households[0][0])
    assert household.phone == "13911112222"
    assert Household.objects.get(head__id_number_hash=households[1][0]).phone == households[1][4]
    assert Member.objects.with_id_number(members[0][2]).get().phone == "13700001111"
    assert Member.objects.with_id_number(members[1][2]).get().phone == "13700003333"
    assert Member.objects.get(phone_hash="13700003333").name == members[1][1]
    assert Member.objects.with_id_number(members[3][2]).get().phone == ""
    assert Member.objects.with_id_number(members[4][2]).get().phone == ""


def test_new_survey_date_adds_an_archive_version(import_staff):
    households, members, archives = family(1)
    run_import(import_staff, build_xlsx(households, members, archives))

    newer = [archive_row(households[0][0], survey_date="2025-09-01", income_crops=50000)]
    job = run_import(import_staff, build_xlsx(households, members, newer))

    assert job.counts["archives"]["created"] == 1
    assert (
        EconomicArchive.objects.filter(household__head__id_number_hash=households[0][0]).count()
        == 2
    )


def test_audit_events_name_the_user_and_the_job(import_staff):
    households, members, archives = family(1)
    job = run_import(import_staff, build_xlsx(households, members, archives))

    member = Member.objects.with_id_number(members[1][2]).get()
    insert = Events.objects.tracks(member).get()
    assert insert.pgh_label == "insert"
    assert insert.pgh_context["user"] == import_staff.user_id
    assert insert.pgh_context["import_job"] == job.pk
    assert insert.pgh_data["name"] == member.name
    assert insert.pgh_data["household_id"] == str(member.household_id)
    household = Household.objects.get(head=Member.objects.with_id_number(households[0][0]).get())
    assert Events.objects.tracks(household).get().pgh_data["head_id"] == str(household.head_id)


def test_members_can_be_added_to_a_household_already_in_the_system(import_staff):
    households, members, archives = family(1)
    run_import(import_staff, build_xlsx(households, members, archives))
    head_id = households[0][0]
    grandchild = member_row(head_id, "孙子", make_id(datetime.date(2018, 1, 1), 7), "孙子女")

    job = run_import(import_staff, build_xlsx([], [grandchild], []))

    assert job.status == ImportJob.Status.DONE, job.errors
    assert job.counts["members"]["created"] == 1
    assert Household.objects.get(head__id_number_hash=head_id).members.count() == 4


def test_validation_alone_writes_nothing(import_staff):
    job = validate(import_staff, build_xlsx(*families(2)))

    assert job.status == ImportJob.Status.VALID
    assert job.can_confirm
    assert written_rows() == (0, 0, 0)


def test_staged_files_hold_no_id_number_or_phone_and_the_import_stores_them(
    import_staff, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from villages.imports.services import staged_file_names

    households, members, archives = families(3, VILLAGE_A)
    members[1][7] = "13700001111"
    content = build_xlsx(households, members, archives)
    job = validate(import_staff, content)
    assert job.status == ImportJob.Status.VALID, job.errors

    staged = b"".join(
        default_storage.open(name, "rb").read()
        for name in staged_file_names(job.staged_dir)
        if default_storage.exists(name)
    )
    assert staged, "the check kept the rows for the confirmation"
    for row in members:
        assert row[2].encode() not in staged
    assert b"13700001111" not in staged
    assert households[0][4].encode() not in staged

    from villages.imports.services import import_job_confirm, import_job_import

    import_job_confirm(job=job, confirmed_by=import_staff)
    with django_capture_on_commit_callbacks(execute=True):  # the staged files go after commit
        job = import_job_import(job_id=job.pk)
    assert job.status == ImportJob.Status.DONE, (job.failure_reason, job.errors)
    member = Member.objects.with_id_number(members[1][2]).get()
    assert member.phone == "13700001111"
    assert Household.objects.get(head__id_number_hash=households[0][0]).phone == households[0][4]
    assert not any(default_storage.exists(name) for name in staged_file_names(job.staged_dir))
