"""Photos are personal data: served through an authorised, tenant-scoped view; the API gives a URL
to that view; no public /media/ route exists."""

import datetime
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import Resolver404, resolve
from django.utils import timezone

from org.models import Staff
from tests.security.world import jpeg_bytes
from villages.services import field_visit_record, visit_photo_add

User = get_user_model()


@pytest.fixture
def photos(villages, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    made = {}
    for key, manager in [("v1", "b1_am2"), ("v2", "b2_am1")]:
        visit, _ = field_visit_record(
            visit_id=uuid.uuid4(),
            household=villages[f"{key}_households"][0],
            account_manager=Staff.objects.get(user__username=manager),
            visited_at=timezone.now() - datetime.timedelta(hours=2),
            purpose="archive",
        )
        photo, _ = visit_photo_add(
            photo_id=uuid.uuid4(),
            visit=visit,
            kind="house",
            upload=SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg"),
            captured_at=timezone.now() - datetime.timedelta(hours=2),
        )
        made[key] = photo
    return made


def _url(photo) -> str:
    return f"/api/v1/photos/{photo.pk}/image/"


def test_own_banks_photo_is_served_to_staff_with_a_session(client, photos):
    client.force_login(User.objects.get(username="b1_admin"))
    response = client.get(_url(photos["v1"]), HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == jpeg_bytes()
    assert "private" in response["Cache-Control"]


def test_account_manager_reads_photo_with_device_token(login_as, photos):
    response = login_as("b1_am2").get(_url(photos["v1"]))
    assert response.status_code == 200


def test_another_banks_photo_is_404_in_the_api_format(client, photos):
    client.force_login(User.objects.get(username="b1_admin"))
    response = client.get(_url(photos["v2"]), HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 404
    assert response.json()["code"]
    unknown = client.get(f"/api/v1/photos/{uuid.uuid4()}/image/")
    assert unknown.status_code == 404


def test_account_manager_of_another_village_gets_404(login_as, photos):
    assert login_as("b2_am1").get(_url(photos["v1"])).status_code == 404


def test_anonymous_is_refused(client, photos):
    assert client.get(_url(photos["v1"])).status_code in (401, 403)


def test_media_files_are_not_served_publicly(client, photos):
    path = "/media/" + photos["v1"].image.name
    with pytest.raises(Resolver404):
        resolve(path)
    client.force_login(User.objects.get(username="b1_admin"))
    assert client.get(path).status_code == 404


def test_api_gives_each_photo_the_url_of_the_view(login_as, photos):
    photo = photos["v1"]
    visit = login_as("b1_am2").get(f"/api/v1/field-visits/{photo.visit_id}/").json()
    assert visit["photos"][0]["url"] == _url(photo)


def test_admin_visit_page_shows_the_photo_through_the_view(client, photos):
    client.force_login(User.objects.get(username="b1_admin"))
    photo = photos["v1"]
    html = client.get(f"/admin/villages/fieldvisit/{photo.visit_id}/change/").content.decode()
    assert f'<img src="{_url(photo)}"' in html
    assert "/media/" not in html
