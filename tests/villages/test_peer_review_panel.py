"""Peer review that villagers can run: staff open a round and seat villagers (admin and API);
villagers sign in on a phone with a password or an SMS code, vote, and reach nothing else; the
round closes when everyone has voted, after its last day, or by hand."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from common.clock import business_today
from common.models import SandboxSmsMessage
from org.models import DeviceToken, Staff
from org.roles import Role, group_name
from villages.models import (
    EvaluatorLoginCode,
    Household,
    PeerReviewEvaluator,
    PeerReviewResult,
    PeerReviewRound,
)
from villages.services.peer_review import (
    LOGIN_CODE_TTL,
    peer_review_evaluator_add,
    peer_review_round_open,
    peer_review_rounds_close_due,
    peer_review_vote_cast,
)

User = get_user_model()
PASSWORD = "Cun-ping2026!"
PHONE = "13903571201"


def api(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    return client


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def password_login(username, password, address="10.1.0.1"):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/login/",
        {"username": username, "password": password, "device_id": "phone-1"},
        format="json",
    )


def request_code(phone, capture, address="10.1.0.1"):
    with capture(execute=True):
        response = APIClient(REMOTE_ADDR=address).post(
            "/api/v1/peer-review/login/code/", {"phone": phone}, format="json"
        )
    return response


def code_login(phone, code, address="10.1.0.1"):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/peer-review/login/",
        {"phone": phone, "code": code, "device_id": "phone-1"},
        format="json",
    )


def last_code(phone) -> str:
    message = SandboxSmsMessage.objects.filter(phone_hash=phone).order_by("-pk").first()
    return re.search(r"验证码为(\d{6})", message.text).group(1)


@pytest.fixture
def round_(villages):
    manager = Staff.objects.get(user__username="b1_am2")
    return peer_review_round_open(village=villages["v1"], title="北杜村评议", opened_by=manager)


@pytest.fixture
def panel(round_):
    """Two villagers: one with a password, one with only a phone."""
    with_password = peer_review_evaluator_add(
        round=round_, name="王支书", kind="cadre", username="pr_wang", password=PASSWORD
    )
    with_phone = peer_review_evaluator_add(round=round_, name="李大爷", kind="elder", phone=PHONE)
    return with_password, with_phone


# --- opening a round and seating villagers -----------------------------------------------------


def test_bank_admin_opens_a_round_over_the_api(villages):
    response = api("b1_admin").post(
        "/api/v1/peer-review/rounds/",
        {"village": villages["v1"].pk, "title": "2026年评议", "closes_on": "2099-12-31"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["village"], body["status_display"], body["closes_on"]) == (
        "北杜村",
        "评议中",
        "2099-12-31",
    )
    round_ = PeerReviewRound.objects.get(pk=body["id"])
    assert round_.opened_by.user.username == "b1_admin"


def test_opening_a_second_round_for_a_village_is_refused_in_chinese(round_):
    response = api("b1_admin").post(
        "/api/v1/peer-review/rounds/",
        {"village": round_.village_id, "title": "重复"},
        format="json",
    )
    assert response.status_code == 400
    assert "已有进行中的评议" in response.json()["fields"]["village"][0]
    assert PeerReviewRound.objects.count() == 1


def test_a_role_without_the_right_is_refused_before_its_body_is_read(villages):
    # b1_risk may not open rounds: an invalid body still gets 403, not a 400 listing the fields.
    response = api("b1_risk").post("/api/v1/peer-review/rounds/", {}, format="json")
    assert response.status_code == 403
    assert not PeerReviewRound.objects.exists()


def test_another_banks_village_is_a_404(villages):
    response = api("b2_admin").post(
        "/api/v1/peer-review/rounds/",
        {"village": villages["v1"].pk, "title": "越权"},
        format="json",
    )
    assert response.status_code == 404
    assert not PeerReviewRound.objects.exists()


def test_staff_seat_an_evaluator_over_the_api_with_a_masked_encrypted_phone(round_):
    url = f"/api/v1/peer-review/rounds/{round_.pk}/evaluators/"
    response = api("b1_am2").post(
        url, {"name": "赵金融", "kind": "liaison", "phone": "139-0357-1201"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone"] == "139****1201"
    assert body["kind_display"] == "金融村官"
    assert body["username"] == f"pr_{round_.pk}_1"
    evaluator = PeerReviewEvaluator.objects.get(pk=body["id"])
    assert evaluator.phone == PHONE
    user = evaluator.user
    assert not user.is_staff
    assert not hasattr(user, "staff")
    assert [g.name for g in user.groups.all()] == [group_name(Role.PEER_EVALUATOR)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT phone FROM villages_peerreviewevaluator WHERE id = %s", [evaluator.pk]
        )
        stored = bytes(cursor.fetchone()[0])
    assert PHONE.encode() not in stored
    listed = api("b1_admin").get(url).json()
    assert [(row["name"], row["phone"], row["votes_cast"]) for row in listed] == [
        ("赵金融", "139****1201", 0)
    ]


def test_an_evaluator_needs_a_phone_or_a_password_and_a_strong_one(round_):
    url = f"/api/v1/peer-review/rounds/{round_.pk}/evaluators/"
    neither = api("b1_admin").post(url, {"name": "甲", "kind": "elder"}, format="json")
    weak = api("b1_admin").post(
        url, {"name": "乙", "kind": "elder", "password": "12345678"}, format="json"
    )
    letters = api("b1_admin").post(
        url, {"name": "丙", "kind": "elder", "phone": "1390357abcd"}, format="json"
    )

    assert neither.status_code == 400
    assert "phone" in neither.json()["fields"]
    assert weak.status_code == 400
    assert "password" in weak.json()["fields"]
    assert letters.status_code == 400
    assert "phone" in letters.json()["fields"]
    assert not PeerReviewEvaluator.objects.exists()
    assert not User.objects.filter(first_name__in=["甲", "乙", "丙"]).exists()


def test_another_banks_login_cannot_be_seated_by_name(villages, panel):
    manager = Staff.objects.get(user__username="b2_am1")
    other = peer_review_round_open(village=villages["v2"], title="魏村评议", opened_by=manager)
    response = api("b2_admin").post(
        f"/api/v1/peer-review/rounds/{other.pk}/evaluators/",
        {"name": "冒名", "kind": "elder", "username": "pr_wang", "phone": "13903579999"},
        format="json",
    )
    assert response.status_code == 400
    assert "已被使用" in response.json()["fields"]["username"][0]


def test_admin_opens_a_round_and_seats_an_evaluator(villages):
    client = Client()
    client.force_login(User.objects.get(username="b1_admin"))

    opened = client.post(
        "/admin/villages/peerreviewround/add/",
        {
            "village": villages["v1"].pk,
            "title": "后台发起的评议",
            "closes_on": "2099-12-31",
            "close_when_all_voted": "on",
            "black_veto_count": "2",
        },
    )
    assert opened.status_code == 302, opened.content.decode()[:2000]
    round_ = PeerReviewRound.objects.get(title="后台发起的评议")
    assert round_.opened_by.user.username == "b1_admin"
    page = client.get(f"/admin/villages/peerreviewround/{round_.pk}/change/").content.decode()
    assert "添加评议员" in page
    assert "投票进度" in page

    seated = client.post(
        "/admin/villages/peerreviewevaluator/add/",
        {"round": round_.pk, "name": "钱乡贤", "kind": "elder", "phone": PHONE},
    )
    assert seated.status_code == 302, seated.content.decode()[:2000]
    evaluator = PeerReviewEvaluator.objects.get(name="钱乡贤")
    listing = client.get("/admin/villages/peerreviewevaluator/").content.decode()
    assert "139****1201" in listing
    assert PHONE not in listing

    weak = client.post(
        "/admin/villages/peerreviewevaluator/add/",
        {"round": round_.pk, "name": "孙", "kind": "elder", "password": "12345678"},
    )
    assert weak.status_code == 200
    assert "密码" in weak.content.decode()
    assert PeerReviewEvaluator.objects.filter(round=round_).count() == 1

    changed = client.post(
        f"/admin/villages/peerreviewevaluator/{evaluator.pk}/change/", {"password": PASSWORD}
    )
    assert changed.status_code == 302
    assert password_login(evaluator.user.username, PASSWORD).status_code == 200


# --- signing in --------------------------------------------------------------------------------


def test_evaluator_logs_in_with_the_password_set_for_them(panel):
    response = password_login("pr_wang", PASSWORD)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["me"] is None
    assert body["evaluator"]["full_name"] == "王支书"
    rounds = token_client(body["token"]).get("/api/v1/peer-review/rounds/").json()["results"]
    assert [r["title"] for r in rounds] == ["北杜村评议"]


def test_a_login_without_the_evaluator_role_or_staff_record_is_refused(db, province):
    User.objects.create_user("villager", password=PASSWORD)
    assert password_login("villager", PASSWORD).status_code == 401


def test_evaluator_logs_in_with_a_code_texted_to_their_phone(
    panel, django_capture_on_commit_callbacks
):
    requested = request_code("139 0357 1201", django_capture_on_commit_callbacks)

    assert requested.status_code == 202
    message = SandboxSmsMessage.objects.get()
    assert message.phone == PHONE
    assert "10分钟内有效" in message.text
    code = last_code(PHONE)
    stored = EvaluatorLoginCode.objects.get()
    assert code not in stored.code_hash  # only a keyed hash is kept
    response = code_login(PHONE, code)
    assert response.status_code == 200, response.json()
    assert response.json()["evaluator"]["full_name"] == "李大爷"
    assert DeviceToken.objects.filter(user=panel[1].user).count() == 1

    reused = code_login(PHONE, code, address="10.1.0.2")
    assert reused.status_code == 401
    assert "验证码" in reused.json()["message"]


def test_an_unknown_phone_hears_the_same_and_no_message_is_sent(
    panel, django_capture_on_commit_callbacks
):
    response = request_code("13800000000", django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert not SandboxSmsMessage.objects.exists()


def test_wrong_and_expired_codes_are_refused(panel, django_capture_on_commit_callbacks):
    request_code(PHONE, django_capture_on_commit_callbacks)
    code = last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert code_login(PHONE, wrong).status_code == 401

    later = datetime.datetime.now(datetime.UTC) + LOGIN_CODE_TTL + datetime.timedelta(minutes=1)
    with time_machine.travel(later):
        assert code_login(PHONE, code).status_code == 401
    assert not DeviceToken.objects.exists()


def test_a_new_code_voids_the_earlier_one(panel, django_capture_on_commit_callbacks):
    request_code(PHONE, django_capture_on_commit_callbacks)
    first = last_code(PHONE)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=2)
    with time_machine.travel(later):
        request_code(PHONE, django_capture_on_commit_callbacks)
        second = last_code(PHONE)
        if first != second:
            assert code_login(PHONE, first).status_code == 401
        assert code_login(PHONE, second).status_code == 200


def test_a_second_code_within_a_minute_is_refused(panel, django_capture_on_commit_callbacks):
    request_code(PHONE, django_capture_on_commit_callbacks)
    again = request_code(PHONE, django_capture_on_commit_callbacks)
    assert again.status_code == 400
    assert "1 分钟" in again.json()["fields"]["phone"][0]
    assert SandboxSmsMessage.objects.count() == 1


def test_wrong_codes_count_toward_the_lockout(panel, settings, django_capture_on_commit_callbacks):
    request_code(PHONE, django_capture_on_commit_callbacks)
    code = last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert code_login(PHONE, wrong, address=f"10.2.0.{n}").status_code == 401
    # The failure that reaches the limit locks the phone, whatever address the next try comes from.
    assert code_login(PHONE, wrong, address="10.2.1.1").status_code == 429

    locked = code_login(PHONE, code, address="10.3.0.1")
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert not DeviceToken.objects.exists()


# --- voting and what an evaluator can reach -----------------------------------------------------


def _evaluator_token(username="pr_wang") -> APIClient:
    return token_client(password_login(username, PASSWORD).json()["token"])


def test_evaluator_votes_and_sees_only_their_own_votes(panel, villages):
    wang, li = panel
    household = villages["v1_households"][0]
    peer_review_vote_cast(evaluator=li, household=household, colour="black", reason="赌博")
    client = _evaluator_token()
    url = f"/api/v1/peer-review/rounds/{wang.round_id}/votes/{household.pk}/"

    voted = client.put(url, {"colour": "green", "suggested_amount": "50000"}, format="json")

    assert voted.status_code == 200, voted.json()
    rows = client.get(f"/api/v1/peer-review/rounds/{wang.round_id}/households/").json()
    assert {row["household_id"]: row["my_colour"] for row in rows} == {
        str(household.pk): "green",
        str(villages["v1_households"][1].pk): None,
        str(villages["v1_households"][2].pk): None,
    }
    assert "black" not in str(rows)
    assert "赌博" not in str(rows)


def test_evaluator_cannot_reach_another_round_or_staff_endpoints(panel, villages):
    manager = Staff.objects.get(user__username="b2_am1")
    other = peer_review_round_open(village=villages["v2"], title="魏村评议", opened_by=manager)
    client = _evaluator_token()
    household = villages["v1_households"][0]

    assert client.get(f"/api/v1/peer-review/rounds/{other.pk}/households/").status_code == 404
    foreign_vote = client.put(
        f"/api/v1/peer-review/rounds/{other.pk}/votes/{villages['v2_households'][0].pk}/",
        {"colour": "green"},
        format="json",
    )
    assert foreign_vote.status_code == 404
    staff_only = [
        ("get", "/api/v1/villages/"),
        ("get", "/api/v1/campaigns/"),
        ("get", f"/api/v1/villages/{villages['v1'].pk}/households/"),
        ("get", f"/api/v1/households/{household.pk}/"),
        ("get", "/api/v1/org/staff/"),
        ("get", "/api/v1/org/me/"),
        ("get", f"/api/v1/peer-review/rounds/{panel[0].round_id}/evaluators/"),
        ("post", f"/api/v1/peer-review/rounds/{panel[0].round_id}/close/"),
        ("post", "/api/v1/peer-review/rounds/"),
    ]
    for method, url in staff_only:
        response = getattr(client, method)(url, {}, format="json")
        if response.status_code == 200:
            # A list may answer, but with nothing in it.
            body = response.json()
            assert body.get("results", body) in ([], {}), (url, body)
        else:
            assert response.status_code in (403, 404), (url, response.status_code)
    assert PeerReviewRound.objects.get(pk=panel[0].round_id).status == "open"

    admin = Client()
    admin.force_login(panel[0].user)
    assert admin.get("/admin/").status_code == 302  # to the login page: not staff


# --- closing --------------------------------------------------------------------------------------


def test_the_round_closes_itself_when_everyone_has_voted_on_everyone(panel, villages):
    wang, li = panel
    households = villages["v1_households"]
    for household in households:
        peer_review_vote_cast(evaluator=wang, household=household, colour="green")
    for household in households[:-1]:
        peer_review_vote_cast(evaluator=li, household=household, colour="white")
    assert PeerReviewRound.objects.get(pk=wang.round_id).status == "open"

    token = code_free_token(li)  # the last vote comes from a phone
    response = token.put(
        f"/api/v1/peer-review/rounds/{li.round_id}/votes/{households[-1].pk}/",
        {"colour": "grey", "reason": "欠款未还"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    round_ = PeerReviewRound.objects.get(pk=wang.round_id)
    assert (round_.status, round_.close_reason) == ("closed", "all_voted")
    assert round_.get_close_reason_display() == "全部评议员已评完"
    assert PeerReviewResult.objects.filter(round=round_).count() == 3
    assert Household.objects.get(pk=households[-1].pk).list_colour == "grey"


def code_free_token(evaluator) -> APIClient:
    client = APIClient()
    client.force_authenticate(evaluator.user)
    return client


def test_staff_close_a_round_by_hand_over_the_api(panel, villages):
    wang, _ = panel
    peer_review_vote_cast(evaluator=wang, household=villages["v1_households"][0], colour="white")

    assert (
        api("b2_admin").post(f"/api/v1/peer-review/rounds/{wang.round_id}/close/").status_code
        == 404
    )
    response = api("b1_admin").post(f"/api/v1/peer-review/rounds/{wang.round_id}/close/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["households_with_result"] == 1
    assert (body["round"]["status"], body["round"]["close_reason_display"]) == (
        "closed",
        "手工结束",
    )
    again = api("b1_admin").post(f"/api/v1/peer-review/rounds/{wang.round_id}/close/")
    assert again.status_code == 400


def test_staff_close_a_round_with_the_admin_action(panel):
    client = Client()
    client.force_login(User.objects.get(username="b1_admin"))
    response = client.post(
        "/admin/villages/peerreviewround/",
        {"action": "close_rounds", "_selected_action": [panel[0].round_id]},
        follow=True,
    )
    assert response.status_code == 200
    assert "已结束评议并汇总结果" in response.content.decode()
    assert PeerReviewRound.objects.get(pk=panel[0].round_id).close_reason == "manual"


def test_a_round_past_its_last_day_closes_at_night_and_refuses_votes(villages):
    manager = Staff.objects.get(user__username="b1_am2")
    round_ = peer_review_round_open(
        village=villages["v1"], title="限期评议", opened_by=manager, closes_on=business_today()
    )
    evaluator = peer_review_evaluator_add(round=round_, name="周", kind="elder", phone=PHONE)
    household = villages["v1_households"][0]
    peer_review_vote_cast(evaluator=evaluator, household=household, colour="green")

    assert peer_review_rounds_close_due(today=business_today()) == 0
    tomorrow = business_today() + datetime.timedelta(days=1)
    with time_machine.travel(
        datetime.datetime.combine(tomorrow, datetime.time(9), tzinfo=datetime.UTC)
    ):
        refused = code_free_token(evaluator).put(
            f"/api/v1/peer-review/rounds/{round_.pk}/votes/{household.pk}/",
            {"colour": "white"},
            format="json",
        )
        assert refused.status_code == 400
        assert "截止" in refused.json()["fields"]["round"][0]
    assert peer_review_rounds_close_due(today=tomorrow) == 1
    round_.refresh_from_db()
    assert (round_.status, round_.close_reason) == ("closed", "deadline")
    assert Household.objects.get(pk=household.pk).list_colour == "green"


def test_a_banks_round_is_invisible_to_another_bank(panel):
    round_id = panel[0].round_id
    assert api("b2_admin").get("/api/v1/peer-review/rounds/").json()["results"] == []
    assert api("b1_admin").get("/api/v1/peer-review/rounds/").json()["results"][0]["id"] == round_id
    evaluators = f"/api/v1/peer-review/rounds/{round_id}/evaluators/"
    assert api("b2_admin").get(evaluators).status_code == 404
    client = Client()
    client.force_login(User.objects.get(username="b2_admin"))
    assert client.get(f"/admin/villages/peerreviewround/{round_id}/change/").status_code == 404
    evaluator_page = f"/admin/villages/peerreviewevaluator/{panel[0].pk}/change/"
    assert client.get(evaluator_page).status_code == 404


# --- the demo ---------------------------------------------------------------------------------------


def test_demo_evaluators_log_in_and_vote_in_an_open_round(province):
    from villages.demo import seed_villages

    seed_villages()
    closed = PeerReviewRound.objects.closed().get(village__division__code="141002101201")
    opened = PeerReviewRound.objects.open().get(village__division__code="141002101201")
    assert closed.results.exists()

    response = password_login("pr_201_1", "Demo@2026")
    assert response.status_code == 200, response.json()
    client = token_client(response.json()["token"])
    titles = {
        r["title"]: r["status"] for r in client.get("/api/v1/peer-review/rounds/").json()["results"]
    }
    assert titles[opened.title] == "open"
    assert titles[closed.title] == "closed"
    household = opened.village.households.order_by("address").first()
    voted = client.put(
        f"/api/v1/peer-review/rounds/{opened.pk}/votes/{household.pk}/",
        {"colour": "white"},
        format="json",
    )
    assert voted.status_code == 200, voted.json()

    seed_villages()  # idempotent: no second open round
    assert PeerReviewRound.objects.filter(village=opened.village).count() == 2


def test_five_wrong_tries_void_the_code(panel, django_capture_on_commit_callbacks):
    request_code(PHONE, django_capture_on_commit_callbacks)
    code = last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for n in range(5):
        assert code_login(PHONE, wrong, address=f"10.4.0.{n}").status_code == 401

    assert code_login(PHONE, code, address="10.4.1.1").status_code == 401
    assert not DeviceToken.objects.exists()


def test_closing_moves_the_coloured_households_into_the_delta_sync(panel, villages):
    wang, _ = panel
    household = villages["v1_households"][0]
    before = Household.objects.get(pk=household.pk).updated_at
    peer_review_vote_cast(evaluator=wang, household=household, colour="white")

    api("b1_admin").post(f"/api/v1/peer-review/rounds/{wang.round_id}/close/")

    assert Household.objects.get(pk=household.pk).updated_at > before
    since = before.isoformat()
    synced = api("b1_am2").get(
        f"/api/v1/villages/{villages['v1'].pk}/households/", {"updated_since": since}
    )
    assert str(household.pk) in str(synced.json())
