"""The admin flow: upload → dry-run report (errors by sheet, row, column) → confirm → done."""

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import path

import villages.admin_imports  # noqa: F401  (registers ImportJobAdmin)
from tests.villages.import_files import (  # noqa: F401  (fixtures)
    build_xlsx,
    families,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    validate,
    written_rows,
)
from villages.models import ImportJob

urlpatterns = [path("admin/", admin.site.urls)]
pytestmark = [
    pytest.mark.urls(__name__),
    pytest.mark.usefixtures("import_media_root", "import_villages"),
]
BASE = "/admin/villages/importjob/"


@pytest.fixture
def browser(client, import_staff):
    client.force_login(import_staff.user)
    return client


def test_upload_shows_the_dry_run_report_then_confirm_imports(
    browser, django_capture_on_commit_callbacks
):
    households, members, archives = families(2)
    members[1][2] = members[1][2][:17] + ("1" if members[1][2][17] == "0" else "0")
    bad = build_xlsx(households, members, archives)

    assert "上传农户数据文件" in browser.get(f"{BASE}add/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"{BASE}add/", {"file": SimpleUploadedFile("甲村.xlsx", bad)})
    assert response.status_code == 302
    page = browser.get(response["Location"]).content.decode()

    assert "校验未通过" in page
    assert 'id="import-errors"' in page
    assert "家庭成员" in page
    assert "身份证号校验位错误" in page
    assert "仅导入有效行" in page
    job = ImportJob.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"{BASE}{job.pk}/confirm/", {"import_valid_rows_only": "on"})
    done = browser.get(f"{BASE}{job.pk}/change/").content.decode()

    assert "已导入" in done
    assert written_rows() == (2, 5, 2)


def test_upload_of_a_wrong_file_shows_the_reason_on_the_form(browser):
    response = browser.post(f"{BASE}add/", {"file": SimpleUploadedFile("a.xlsx", b"hello")})

    assert response.status_code == 200
    assert "不是有效的Excel" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_changelist_and_template_download(browser, import_staff):
    validate(import_staff, build_xlsx(*families(1)))

    listing = browser.get(BASE).content.decode()
    template = browser.get(f"{BASE}template/")

    assert "村民.xlsx" in listing
    assert "下载导入模板" in listing
    assert template.status_code == 200
    assert template["Content-Type"].startswith("application/vnd.openxmlformats")


def test_another_banks_job_is_404(client, import_staff):
    from django.contrib.auth import get_user_model

    job = validate(import_staff, build_xlsx(*families(1)))
    client.force_login(get_user_model().objects.get(username="b2_admin"))

    assert client.get(f"{BASE}{job.pk}/change/").status_code == 404
    assert client.post(f"{BASE}{job.pk}/confirm/").status_code == 404
    assert "村民.xlsx" not in client.get(BASE).content.decode()
