"""Defects found trying the PAD as a new user would: letters in phones, a second tablet that never
saw new members, GPS readings with 7 decimals."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tests.villages.test_visits import image_bytes, upload
from villages.demo import make_id_number
from villages.models import FieldVisit, Household, Member, VisitPhoto
from villages.services import household_upsert
from villages.validation import FieldError, clean_mobile

# --- phones -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["1381234abcd", "138-1234-ABCD", "1381234567８a", "(138)12345678"]
)
def test_a_phone_with_anything_but_digits_is_refused(typed):
    # phonenumbers reads letters as a telephone keypad: 1381234abcd became 13812342223.
    with pytest.raises(FieldError, match="手机号只能包含数字、空格和短横线"):
        clean_mobile(typed)


@pytest.mark.parametrize(
    "typed",
    ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+8613812345678"],
)
def test_digits_spaces_dashes_and_a_leading_plus86_are_taken(typed):
    assert clean_mobile(typed) == "13812345678"


def test_the_pad_is_told_which_field_and_nothing_is_written(login_as, villages):
    household_id = uuid.uuid4()
    response = login_as("b1_am2").put(
        f"/api/v1/households/{household_id}/",
        {"village": villages["v1"].pk, "phone": "1381234abcd"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["phone"]
    assert "手机号只能包含数字" in response.json()["fields"]["phone"][0]
    assert not Household.objects.filter(pk=household_id).exists()


def test_the_service_refuses_it_naming_the_field(villages):
    with pytest.raises(ValidationError) as refused:
        household_upsert(
            household_id=uuid.uuid4(), village=villages["v1"], actor=None, phone="1381234abcd"
        )
    assert list(refused.value.message_dict) == ["phone"]


# --- delta sync ---------------------------------------------------------------------------------


def _changed_since(client, village, since: str) -> list[str]:
    url = f"/api/v1/villages/{village.pk}/households/"
    return [row["id"] for row in client.get(url, {"updated_since": since}).json()["results"]]


def test_a_second_tablet_sees_a_new_member_an_edited_member_and_a_new_archive(login_as, villages):
    tablet_a, tablet_b = login_as("b1_am2"), login_as("b1_am2")
    village = villages["v1"]
    household = villages["v1_households"][1]
    url = f"/api/v1/villages/{village.pk}/households/"
    synced_at = max(row["updated_at"] for row in tablet_b.get(url).json()["results"])
    assert _changed_since(tablet_b, village, synced_at) == []

    member_id = uuid.uuid4()
    added = tablet_a.put(
        f"/api/v1/members/{member_id}/",
        {
            "household": str(household.pk),
            "name": "新生儿",
            "id_number": make_id_number("141002", datetime.date(2024, 2, 1), 901, True),
            "relation": "child",
        },
        format="json",
    )
    assert added.status_code == 201, added.json()
    assert _changed_since(tablet_b, village, synced_at) == [str(household.pk)]

    synced_at = max(row["updated_at"] for row in tablet_b.get(url).json()["results"])
    member = Member.objects.get(pk=member_id)
    edited = tablet_a.put(
        f"/api/v1/members/{member_id}/",
        {
            "household": str(household.pk),
            "name": "李小宝",
            "id_number": member.id_number,
            "relation": "child",
        },
        format="json",
    )
    assert edited.status_code == 200, edited.json()
    assert _changed_since(tablet_b, village, synced_at) == [str(household.pk)]

    synced_at = max(row["updated_at"] for row in tablet_b.get(url).json()["results"])
    other = villages["v1_households"][2]
    archived = tablet_a.put(
        f"/api/v1/archives/{uuid.uuid4()}/",
        {"household": str(other.pk), "survey_date": "2026-11-01", "income_crops": "42000"},
        format="json",
    )
    assert archived.status_code == 201, archived.json()
    assert _changed_since(tablet_b, village, synced_at) == [str(other.pk)]


def test_a_resend_that_changes_nothing_does_not_move_the_household(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    head = household.members.get(relation="head")
    before = Household.objects.get(pk=household.pk).updated_at
    body = {
        "household": str(household.pk),
        "name": head.name,
        "id_number": head.id_number,
        "relation": "head",
    }
    assert client.put(f"/api/v1/members/{head.pk}/", body, format="json").status_code == 200
    assert Household.objects.get(pk=household.pk).updated_at == before


# --- GPS ----------------------------------------------------------------------------------------


def test_a_household_position_with_seven_decimals_is_rounded_to_six(login_as, villages):
    household_id = uuid.uuid4()
    response = login_as("b1_am2").put(
        f"/api/v1/households/{household_id}/",
        {"village": villages["v1"].pk, "latitude": "36.0812345", "longitude": 111.5234565},
        format="json",
    )
    assert response.status_code == 201, response.json()
    household = Household.objects.get(pk=household_id)
    assert (household.latitude, household.longitude) == (
        Decimal("36.081235"),
        Decimal("111.523457"),
    )


def test_visit_and_photo_positions_with_seven_decimals_are_rounded(
    login_as, villages, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    visit_id, photo_id = uuid.uuid4(), uuid.uuid4()
    visit = client.put(
        f"/api/v1/field-visits/{visit_id}/",
        {
            "household": str(household.pk),
            "visited_at": "2026-11-20T10:30:00+08:00",
            "purpose": "archive",
            "latitude": "-36.0812344",
            "longitude": "111.52345678901",
        },
        format="json",
    )
    assert visit.status_code == 201, visit.json()
    photo = client.put(
        f"/api/v1/field-visits/{visit_id}/photos/{photo_id}/",
        {
            "kind": "house",
            "image": upload("house.jpg", image_bytes()),
            "captured_at": "2026-11-20T10:35:00+08:00",
            "latitude": "36.0800005",
            "longitude": "111.5200004",
        },
        format="multipart",
    )
    assert photo.status_code == 201, photo.json()
    stored = FieldVisit.objects.get(pk=visit_id)
    assert (stored.latitude, stored.longitude) == (Decimal("-36.081234"), Decimal("111.523457"))
    picture = VisitPhoto.objects.get(pk=photo_id)
    assert (picture.latitude, picture.longitude) == (Decimal("36.080001"), Decimal("111.520000"))


def test_a_position_out_of_range_is_still_refused(login_as, villages):
    response = login_as("b1_am2").put(
        f"/api/v1/households/{uuid.uuid4()}/",
        {"village": villages["v1"].pk, "latitude": "91.0000001"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["latitude"]
