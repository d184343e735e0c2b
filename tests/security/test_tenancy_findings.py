"""Plain regression tests for what the tenancy matrix found (issue 12): admin sidebars listing
other banks' villages, staff and branches; ids of another bank answered differently from ids that
do not exist; a view-only staff page that was a server error."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from org.models import Institution, Staff
from tests.security.world import jpeg_bytes
from villages.models import VisitPhoto
from villages.services import field_visit_record, visit_photo_add


def _admin(username: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _filter_choices(response, title: str) -> set[str]:
    cl = response.context_data["cl"]
    specs = [spec for spec in cl.filter_specs if str(spec.title) == title]
    # A filter with a single choice is not shown at all (Django hides it).
    return {str(choice["display"]) for spec in specs for choice in spec.choices(cl)}


@pytest.mark.parametrize(
    "changelist",
    ["/admin/villages/household/", "/admin/villages/member/", "/admin/villages/economicarchive/"],
)
def test_household_lists_offer_only_own_villages(villages, changelist):
    response = _admin("b1_admin").get(changelist)

    assert response.status_code == 200
    assert "魏村" not in _filter_choices(response, "行政村")  # bank 2's


def test_village_filter_of_an_account_manager_offers_only_served_villages(villages):
    from django.contrib.auth.models import Permission

    Staff.objects.get(user__username="b1_am1").user.user_permissions.set(
        Permission.objects.filter(codename="view_household")
    )
    response = _admin("b1_am1").get("/admin/villages/household/")

    assert "北杜村" not in _filter_choices(response, "行政村")  # served by b1_am2


def test_field_visit_manager_filter_lists_own_bank_staff_only(villages):
    response = _admin("b1_admin").get("/admin/villages/fieldvisit/")

    offered = " ".join(_filter_choices(response, "客户经理"))
    assert "(B1102)" in offered
    assert "(B2" not in offered  # bank 2's employee numbers


def test_village_branch_filter_lists_own_bank_branches_only(villages):
    response = _admin("b1_admin").get("/admin/villages/village/")

    offered = _filter_choices(response, "管辖支行")
    own = set(
        Institution.objects.filter(bank__code="SXRCU-YD", kind="branch").values_list(
            "name", flat=True
        )
    )
    assert own <= offered
    assert not any("襄汾" in name for name in offered)


def _visit(household, manager):
    visit, _ = field_visit_record(
        visit_id=uuid.uuid4(),
        household=household,
        account_manager=manager,
        visited_at=timezone.now() - datetime.timedelta(hours=1),
        purpose="archive",
    )
    return visit


def _photo(visit):
    photo, _ = visit_photo_add(
        photo_id=uuid.uuid4(),
        visit=visit,
        kind="house",
        upload=SimpleUploadedFile("a.jpg", jpeg_bytes()),
        captured_at=timezone.now() - datetime.timedelta(hours=1),
    )
    return photo


def _put_photo(client, visit_id, photo_id):
    return client.put(
        f"/api/v1/field-visits/{visit_id}/photos/{photo_id}/",
        {
            "kind": "land",
            "captured_at": (timezone.now() - datetime.timedelta(minutes=5)).isoformat(),
            "image": SimpleUploadedFile("b.jpg", jpeg_bytes((1, 2, 3)), content_type="image/jpeg"),
        },
        format="multipart",
    )


@pytest.fixture
def visits(villages, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    am1 = Staff.objects.get(user__username="b1_am2")
    am2 = Staff.objects.get(user__username="b2_am1")
    own = _visit(villages["v1_households"][0], am1)
    other_own = _visit(villages["v1_households"][1], am1)
    foreign = _visit(villages["v2_households"][0], am2)
    return {
        "own": own,
        "other_own": other_own,
        "foreign_photo": _photo(foreign),
        "own_photo": _photo(other_own),
    }


def test_another_banks_photo_id_is_not_found_and_untouched(login_as, visits):
    foreign = visits["foreign_photo"]
    before = VisitPhoto.objects.values().get(pk=foreign.pk)

    response = _put_photo(login_as("b1_am2"), visits["own"].pk, foreign.pk)

    assert response.status_code == 404
    assert "走访" not in response.content.decode()
    assert VisitPhoto.objects.values().get(pk=foreign.pk) == before
    assert VisitPhoto.objects.filter(visit=visits["own"]).count() == 0


def test_own_photo_id_under_another_own_visit_is_refused_by_name(login_as, visits):
    response = _put_photo(login_as("b1_am2"), visits["own"].pk, visits["own_photo"].pk)

    assert response.status_code == 400
    assert response.json()["fields"]["id"] == ["该影像编号属于另一次走访"]


def test_photo_service_never_compares_another_banks_photo(visits):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        visit_photo_add(
            photo_id=visits["foreign_photo"].pk,
            visit=visits["own"],
            kind="house",
            upload=SimpleUploadedFile("a.jpg", jpeg_bytes()),
            captured_at=timezone.now() - datetime.timedelta(hours=1),
        )


@pytest.mark.parametrize(
    ("path", "parameter", "foreign"),
    [
        ("/api/v1/campaigns/", "village", lambda v: v["v2"].pk),
        (
            "/api/v1/org/staff/",
            "institution",
            lambda v: Institution.objects.get(code="SXRCU-XF-B01").pk,
        ),
        (
            "/api/v1/org/institutions/",
            "parent",
            lambda v: Institution.objects.get(code="SXRCU-XF").pk,
        ),
    ],
)
def test_another_banks_id_in_a_filter_answers_as_an_unknown_id(
    login_as, villages, path, parameter, foreign
):
    client = login_as("b1_admin")

    unknown = client.get(path, {parameter: 2_000_000_000})
    answer = client.get(path, {parameter: foreign(villages)})

    assert unknown.status_code == 400
    assert (answer.status_code, answer.json()) == (unknown.status_code, unknown.json())


def test_own_ids_still_filter(login_as, villages):
    response = login_as("b1_admin").get("/api/v1/campaigns/", {"village": villages["v1"].pk})

    assert response.status_code == 200


@pytest.mark.parametrize("username", ["b1_risk", "fed_admin"])
def test_view_only_staff_page_shows_instead_of_a_server_error(province, username):
    staff = Staff.objects.get(user__username="b1_am1")

    response = _admin(username).get(f"/admin/org/staff/{staff.pk}/change/")

    assert response.status_code == 200
    assert staff.full_name in response.content.decode()


@pytest.mark.parametrize("username", ["b1_risk", "fed_admin"])
def test_view_only_household_page_shows_instead_of_a_server_error(villages, username):
    household = villages["v1_households"][0]

    response = _admin(username).get(f"/admin/villages/household/{household.pk}/change/")

    assert response.status_code == 200
