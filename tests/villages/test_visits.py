"""Field visits and photos from the PAD: real images only, resends are safe."""

import io
import uuid

import pytest
from PIL import Image

from villages.models import FieldVisit, VisitPhoto


def image_bytes(fmt="JPEG", size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 160, 90)).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def put_visit(client, household, visit_id):
    return client.put(
        f"/api/v1/field-visits/{visit_id}/",
        {
            "household": str(household.pk),
            "visited_at": "2026-11-20T10:30:00+08:00",
            "purpose": "archive",
            "notes": "看了大棚",
        },
        format="json",
    )


def put_photo(client, visit_id, photo_id, file, kind="house"):
    return client.put(
        f"/api/v1/field-visits/{visit_id}/photos/{photo_id}/",
        {
            "kind": kind,
            "image": file,
            "captured_at": "2026-11-20T10:35:00+08:00",
            "latitude": "36.08",
            "longitude": "111.52",
        },
        format="multipart",
    )


def test_visit_and_photo_sync_twice_is_safe(login_as, villages, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    visit_id, photo_id = uuid.uuid4(), uuid.uuid4()

    assert put_visit(client, household, visit_id).status_code == 201
    assert put_visit(client, household, visit_id).status_code == 200
    first = put_photo(client, visit_id, photo_id, upload("house.jpg", image_bytes()))
    again = put_photo(client, visit_id, photo_id, upload("house.jpg", image_bytes()))

    assert first.status_code == 201
    assert again.status_code == 200
    photo = VisitPhoto.objects.get()
    assert (photo.width, photo.height) == (64, 48)
    assert (tmp_path / photo.image.name).exists()
    assert FieldVisit.objects.get().account_manager.user.username == "b1_am2"


def test_photo_must_be_a_real_jpeg_or_png(login_as, villages, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    visit_id = uuid.uuid4()
    put_visit(client, villages["v1_households"][0], visit_id)

    fake = put_photo(
        client, visit_id, uuid.uuid4(), upload("house.jpg", b"MZ\x90\x00 not an image")
    )
    gif = put_photo(client, visit_id, uuid.uuid4(), upload("house.gif", image_bytes("GIF")))
    truncated = put_photo(client, visit_id, uuid.uuid4(), upload("t.jpg", image_bytes()[:300]))

    assert fake.status_code == 400
    assert "image" in fake.json()["fields"]
    assert gif.status_code == 400
    assert "JPEG或PNG" in gif.json()["fields"]["image"][0]
    assert truncated.status_code == 400
    assert VisitPhoto.objects.count() == 0


def test_photo_over_10mb_rejected(login_as, villages, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    visit_id = uuid.uuid4()
    put_visit(client, villages["v1_households"][0], visit_id)
    big = image_bytes("PNG") + b"\0" * (10 * 1024 * 1024)

    response = put_photo(client, visit_id, uuid.uuid4(), upload("big.png", big))

    assert response.status_code == 400
    assert "10MB" in response.json()["fields"]["image"][0]
    assert VisitPhoto.objects.count() == 0


def test_other_banks_visit_is_404(login_as, villages):
    visit_id = uuid.uuid4()
    put_visit(login_as("b2_am1"), villages["v2_households"][0], visit_id)
    assert login_as("b1_am2").get(f"/api/v1/field-visits/{visit_id}/").status_code == 404


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # opening warns
@pytest.mark.parametrize(
    "side",
    [
        10000,  # 100 million pixels: Pillow only warns, and decoding would take 300 MB
        20000,  # 400 million: Pillow refuses to decode it (its DecompressionBombError)
    ],
)
def test_decompression_bomb_photo_is_refused(login_as, villages, settings, tmp_path, side):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    visit_id = uuid.uuid4()
    put_visit(client, villages["v1_households"][0], visit_id)
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")  # a few dozen KB on disk

    response = put_photo(client, visit_id, uuid.uuid4(), upload("bomb.png", buffer.getvalue()))

    assert response.status_code == 400  # was a server error (Pillow's DecompressionBombError)
    assert list(response.json()["fields"]) == ["image"]
    assert VisitPhoto.objects.count() == 0


def test_visit_or_photo_dated_in_the_future_is_refused(login_as, villages, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    visit = client.put(
        f"/api/v1/field-visits/{uuid.uuid4()}/",
        {
            "household": str(household.pk),
            "visited_at": "2099-11-20T10:30:00+08:00",
            "purpose": "archive",
        },
        format="json",
    )
    assert visit.status_code == 400
    assert list(visit.json()["fields"]) == ["visited_at"]
    assert FieldVisit.objects.count() == 0

    visit_id = uuid.uuid4()
    put_visit(client, household, visit_id)
    photo = client.put(
        f"/api/v1/field-visits/{visit_id}/photos/{uuid.uuid4()}/",
        {
            "kind": "house",
            "image": upload("house.jpg", image_bytes()),
            "captured_at": "2099-11-20T10:35:00+08:00",
        },
        format="multipart",
    )
    assert photo.status_code == 400
    assert list(photo.json()["fields"]) == ["captured_at"]
    assert VisitPhoto.objects.count() == 0


def test_visit_resent_with_other_content_is_refused_naming_the_fields(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    visit_id = uuid.uuid4()
    assert put_visit(client, household, visit_id).status_code == 201

    response = client.put(
        f"/api/v1/field-visits/{visit_id}/",
        {
            "household": str(household.pk),
            "visited_at": "2026-11-20T10:30:00+08:00",
            "purpose": "post_loan",
            "notes": "改过的记录",
        },
        format="json",
    )

    # was 200 with the old record, the new values silently dropped
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"purpose", "notes"}
    visit = FieldVisit.objects.get(pk=visit_id)
    assert (visit.purpose, visit.notes) == ("archive", "看了大棚")


def test_photo_resent_with_another_file_is_refused(login_as, villages, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    visit_id, photo_id = uuid.uuid4(), uuid.uuid4()
    put_visit(client, villages["v1_households"][0], visit_id)
    assert put_photo(client, visit_id, photo_id, upload("a.jpg", image_bytes())).status_code == 201

    other = put_photo(client, visit_id, photo_id, upload("a.jpg", image_bytes(size=(80, 60))))

    assert other.status_code == 400  # was 200, the new file silently dropped
    assert list(other.json()["fields"]) == ["image"]
    photo = VisitPhoto.objects.get()
    assert (photo.width, photo.height) == (64, 48)
