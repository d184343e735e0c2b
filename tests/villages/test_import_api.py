"""The import over the API: upload (async validation) → poll → errors → confirm (idempotent)."""

import uuid

import pytest
from django.urls import include, path

from tests.villages.import_files import (  # noqa: F401  (fixtures)
    build_xlsx,
    families,
    family,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    written_rows,
)
from villages.models import ImportJob

# This module is its own URLconf: the import URLs mounted where config.api_urls will mount them.
urlpatterns = [
    path(
        "api/v1/",
        include(
            ([path("villages/imports/", include("villages.api.import_urls"))], "v1"),
            namespace="v1",
        ),
    ),
]
pytestmark = [
    pytest.mark.urls(__name__),
    pytest.mark.usefixtures("import_media_root", "import_villages"),
]
BASE = "/api/v1/villages/imports/"


@pytest.fixture
def client(login_as):
    return login_as("b1_admin")


def post_file(client, content: bytes, capture, name: str = "甲村.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with capture(execute=True):
        return client.post(BASE, {"file": SimpleUploadedFile(name, content)}, format="multipart")


def test_upload_validates_and_reports_progress(client, django_capture_on_commit_callbacks):
    response = post_file(client, build_xlsx(*families(2)), django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    status = client.get(f"{BASE}{job_id}/").json()
    assert status["status"] == "valid"
    assert status["status_display"] == "校验通过"
    assert status["progress_percent"] == 100
    assert status["counts"]["members"]["valid"] == 6
    assert status["can_confirm"] is True
    assert status["errors"] == []


def test_errors_are_listed_with_sheet_row_column_reason(client, django_capture_on_commit_callbacks):
    households, members, archives = families(3)
    for row in members:
        row[2] = row[2][:17] + ("1" if row[2][17] == "0" else "0")
    job_id = post_file(
        client, build_xlsx(households, members, archives), django_capture_on_commit_callbacks
    ).json()["id"]

    status = client.get(f"{BASE}{job_id}/").json()
    page = client.get(f"{BASE}{job_id}/errors/?page_size=5").json()

    assert status["status"] == "invalid"
    assert status["error_count"] == 9
    assert page["count"] == 9
    assert len(page["results"]) == 5
    first = next(e for e in page["results"] if e["sheet"] == "家庭成员")
    assert first == {
        "sheet": "家庭成员",
        "row": 2,
        "column": "身份证号",
        "reason": "身份证号校验位错误",
    }


def test_confirm_imports_and_replays_with_the_same_key(client, django_capture_on_commit_callbacks):
    job_id = post_file(client, build_xlsx(*families(2)), django_capture_on_commit_callbacks).json()[
        "id"
    ]
    key = str(uuid.uuid4())

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"{BASE}{job_id}/confirm/", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post(f"{BASE}{job_id}/confirm/", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 202, first.json()
    assert first.json()["status"] == "importing"
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    done = client.get(f"{BASE}{job_id}/").json()
    assert done["status"] == "done"
    assert done["counts"]["households"]["created"] == 2
    assert written_rows() == (2, 6, 2)


def test_confirm_of_an_invalid_file_needs_the_explicit_flag(
    client, django_capture_on_commit_callbacks
):
    households, members, archives = families(2)
    households[0][1] = "141002990099"
    job_id = post_file(
        client, build_xlsx(households, members, archives), django_capture_on_commit_callbacks
    ).json()["id"]

    refused = client.post(
        f"{BASE}{job_id}/confirm/", {}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    with django_capture_on_commit_callbacks(execute=True):
        accepted = client.post(
            f"{BASE}{job_id}/confirm/",
            {"import_valid_rows_only": True},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    assert refused.status_code == 400
    assert refused.json()["code"] == "import_has_errors"
    assert "仅导入有效行" in refused.json()["message"]
    assert accepted.status_code == 202
    assert written_rows() == (1, 3, 1)


def test_bad_uploads_are_refused_with_the_uniform_error_body(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    empty = client.post(BASE, {"file": SimpleUploadedFile("a.xlsx", b"")}, format="multipart")
    text = client.post(
        BASE, {"file": SimpleUploadedFile("a.xlsx", b"just,text\n")}, format="multipart"
    )
    settings.VILLAGE_IMPORT_MAX_BYTES = 1024
    large = client.post(
        BASE,
        {"file": SimpleUploadedFile("a.xlsx", b"PK\x03\x04" + b"x" * 200_000)},
        format="multipart",
    )

    assert empty.status_code == 400
    assert empty.json()["code"] == "invalid"
    assert "文件为空" in empty.json()["fields"]["file"][0]
    assert "不是有效的Excel" in text.json()["fields"]["file"][0]
    assert large.status_code == 400
    assert "上限" in large.json()["fields"]["file"][0]
    assert ImportJob.objects.count() == 0


def test_another_banks_job_is_not_found(login_as, import_staff, django_capture_on_commit_callbacks):
    job_id = post_file(
        login_as("b1_admin"), build_xlsx(*family(1)), django_capture_on_commit_callbacks
    ).json()["id"]
    other = login_as("b2_admin")

    assert other.get(f"{BASE}{job_id}/").status_code == 404
    assert other.get(f"{BASE}{job_id}/errors/").status_code == 404
    confirm = other.post(
        f"{BASE}{job_id}/confirm/", {}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert confirm.status_code == 404
    assert confirm.json()["code"] == "not_found"
    assert other.get(BASE).json()["count"] == 0
    assert login_as("b1_admin").get(BASE).json()["count"] == 1


def test_account_managers_may_not_import(login_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = login_as("b1_am1").post(
        BASE, {"file": SimpleUploadedFile("a.xlsx", b"PK")}, format="multipart"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_template_download(client):
    import io

    from openpyxl import load_workbook

    response = client.get(f"{BASE}template/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["农户", "家庭成员", "经济档案", "说明"]
