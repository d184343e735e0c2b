"""A bank administrator's day, walked in a real browser (Debian chromium, headless, Playwright):
take on a new village of the county, import its households from a spreadsheet, open a
back-to-back peer review; a villager on the panel signs in from a phone and votes; the round
closes; the administrator grades the village and reads coverage and grades on the index page.

Screenshots of every page go to ``var/screenshots/`` (``make test`` leaves them there to look at).
Chromium comes from Debian through ``make browser``; without it this test fails, it never skips.
"""

from __future__ import annotations

import datetime
import os
import shutil
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.villages.import_files import build_xlsx, families
from villages.models import Division, Household, PeerReviewRound, Village

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "Demo@2026"
EVALUATOR_PASSWORD = "Pingyi#2026x"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make browser` (make test does)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls between its steps
    # are plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 1400, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def select_by_text(page, select: str, text: str) -> None:
    value = page.locator(f"{select} option", has_text=text).first.get_attribute("value")
    page.select_option(select, value=value)


def untaken_village_of_the_demo_county() -> Division:
    taken = Village.objects.values("division_id")
    return (
        Division.objects.filter(level=Division.Level.VILLAGE, code__startswith="141002")
        .exclude(pk__in=taken)
        .order_by("code")
        .first()
    )


@pytest.fixture
def demo_province():
    """The demo province, built before the browser starts: sealing the demo contracts runs
    pyHanko's own event loop, which cannot start inside Playwright's."""
    call_command("seed_demo", verbosity=0)
    call_command("load_divisions", "--province", "14", verbosity=0)


def test_bank_admin_takes_on_imports_reviews_and_grades_a_village(
    live_server, demo_province, browser_page, tmp_path
):
    division = untaken_village_of_the_demo_county()
    assert division is not None, "load_divisions left no village of 尧都区 to take on"
    page = browser_page
    base = live_server.url

    # 1. Sign in as the bank administrator.
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "b1_admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    shot(page, "01_index_before")

    # 2. Take on a village of the county (division chosen through the autocomplete).
    page.goto(f"{base}/admin/villages/village/add/")
    page.click("#id_division + .select2 .select2-selection")
    page.fill(".select2-search__field", division.name)
    page.click(f".select2-results__option:has-text('{division.name}')")
    select_by_text(page, "#id_branch", "支行")
    shot(page, "02_take_on_village_form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    shot(page, "03_village_taken_on")
    village = Village.objects.get(division=division)
    assert village.bank.code == "SXRCU-YD"

    # 2b. Plan its whole-village credit campaign (整村授信), which the index page follows.
    today = datetime.date.today()
    page.goto(f"{base}/admin/villages/campaign/add/")
    page.click("#id_village + .select2 .select2-selection")
    page.fill(".select2-search__field", village.name)
    page.click(f".select2-results__option:has-text('{village.name}')")
    page.fill("#id_name", f"{village.name}整村授信")
    page.fill("#id_starts_on", today.isoformat())
    page.fill("#id_ends_on", (today + datetime.timedelta(days=60)).isoformat())
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    # 3. Import its households from a spreadsheet: upload, check, confirm.
    workbook = tmp_path / "新村农户.xlsx"
    workbook.write_bytes(build_xlsx(*families(4, village=division.code)))
    page.goto(f"{base}/admin/villages/importjob/add/")
    page.set_input_files("input[type=file]", str(workbook))
    shot(page, "04_import_upload")
    page.click("input[type=submit]")
    page.wait_for_selector("text=确认导入")
    shot(page, "05_import_checked")
    page.click("text=确认导入")
    page.wait_for_selector(".messagelist .success")
    page.wait_for_selector("text=已导入")
    shot(page, "06_import_done")
    assert Household.objects.filter(village=village).count() == 4

    # 4. Open a peer review round and seat an evaluator with a password.
    page.goto(f"{base}/admin/villages/peerreviewround/add/")
    select_by_text(page, "#id_village", village.name)
    page.fill("#id_title", f"{division.name}背靠背评议")
    page.fill("#id_closes_on", (today + datetime.timedelta(days=7)).isoformat())
    page.check("#id_close_when_all_voted")
    shot(page, "07_round_open_form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    review = PeerReviewRound.objects.get(village=village)
    page.goto(f"{base}/admin/villages/peerreviewround/{review.pk}/change/")
    page.click("text=添加评议员")
    page.fill("#id_name", "张村医")
    page.select_option("#id_kind", index=1)
    page.fill("#id_username", "pr_new_1")
    page.fill("#id_password", EVALUATOR_PASSWORD)
    shot(page, "08_evaluator_form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    # 5. The evaluator signs in from a phone and votes on every household (the API the phone
    #    page calls); the last vote closes the round.
    api = page.request
    login = api.post(
        f"{base}/api/v1/auth/login/",
        data={"username": "pr_new_1", "password": EVALUATOR_PASSWORD, "device_id": "phone-1"},
    )
    assert login.status == 200, login.text()
    headers = {"Authorization": f"Token {login.json()['token']}"}
    rounds = api.get(f"{base}/api/v1/peer-review/rounds/", headers=headers).json()
    rows = rounds["results"] if isinstance(rounds, dict) else rounds
    assert [row["id"] for row in rows] == [review.pk]
    households = api.get(
        f"{base}/api/v1/peer-review/rounds/{review.pk}/households/", headers=headers
    ).json()
    assert len(households) == 4
    for index, household in enumerate(households):
        vote = api.put(
            f"{base}/api/v1/peer-review/rounds/{review.pk}/votes/{household['household_id']}/",
            data={"colour": "white" if index else "green", "reason": "勤劳守信"},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert vote.status == 200, vote.text()
    review.refresh_from_db()
    assert review.status == PeerReviewRound.Status.CLOSED
    page.goto(f"{base}/admin/villages/peerreviewround/{review.pk}/change/")
    shot(page, "09_round_closed")

    # 6. Grade the village from the village list.
    page.goto(f"{base}/admin/villages/village/?q={division.code}")
    page.check("input.action-select")
    page.select_option("select[name=action]", value="grade_villages")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist li")
    shot(page, "10_grading_started")
    graded = Household.objects.filter(village=village).exclude(credit_grade="")
    assert graded.count() == 4

    # 7. The index page shows the village's coverage and this week's grades.
    page.goto(f"{base}/admin/")
    shot(page, "11_index_after")
    coverage = page.inner_text("#content-main")
    assert village.name in coverage  # the coverage panel lists the new village
    row = page.locator("tr", has_text=village.name).first.inner_text()
    assert "4" in row  # its four households, archived and rated
    assert "本周评级农户" in coverage

    # 8. A branch reviewer finds a drawn application in 我的待办, reads the review page and
    #    approves it with a lower amount.
    from lending.applications.models import ApplicationStatus, ApprovalTask

    task = (
        ApprovalTask.objects.filter(status="open", level="branch", bank__code="SXRCU-YD")
        .select_related("assignee__user", "application")
        .order_by("opened_at")
        .first()
    )
    assert task is not None, "seed_demo left no application in a branch reviewer's queue"
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", task.assignee.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/lending/approvaltask/")
    shot(page, "12_my_review_queue")
    queue = page.inner_text("#changelist")
    assert "我的待办" in page.inner_text("#changelist-filter")
    assert str(task.application) in queue
    page.click(f"text={task.application}")
    page.wait_for_selector("#review-decision")
    review = page.inner_text("#content-main")
    for heading in ("决策结论与原因", "经济档案", "贷前调查", "审批流转", "审批意见"):
        assert heading in review
    assert task.application.applicant.id_number not in page.content()
    page.check("input[name=decide-outcome][value=approve]")
    page.fill("input[name=decide-amount]", "60000")
    page.fill("textarea[name=decide-comment]", "核实收入后调减")
    shot(page, "13_review_page")
    page.click("#review-form-decide input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    shot(page, "14_review_done")
    task.application.refresh_from_db()
    assert task.application.status == ApplicationStatus.APPROVED
    assert task.application.approved_amount == 60000
