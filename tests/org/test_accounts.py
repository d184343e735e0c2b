"""Accounts and sign-in: password rules on every path, lockout shared by admin and API, device
token lifetime, and the forced change of a password an administrator chose."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from org.demo import DEMO_PASSWORD
from org.models import DeviceToken, Institution, LoginLockout, Staff
from org.roles import Role
from org.services import staff_create, user_password_reset

User = get_user_model()
STRONG = "Wq7!field-visit"


def api_login(username, password, device_id="pad-001", address="10.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/login/",
        {"username": username, "password": password, "device_id": device_id},
        format="json",
    )


def admin_login(username, password, address="10.0.0.1"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )
    return client, response


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- password rules ------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["12345678", "password", "b1_newcomer1"])
def test_staff_create_refuses_a_weak_password_and_writes_nothing(province, weak):
    with pytest.raises(ValidationError) as refused:
        staff_create(
            username="b1_newcomer1",
            password=weak,
            full_name="新员工",
            institution=province["bank1"],
            employee_no="B1900",
        )
    assert list(refused.value.message_dict) == ["password"]
    assert not User.objects.filter(username="b1_newcomer1").exists()


def test_admin_add_staff_form_refuses_12345678_beside_the_password(province):
    client = Client()
    client.force_login(User.objects.get(username="b1_admin"))
    branch = Institution.objects.get(code="SXRCU-YD-B01")
    response = client.post(
        "/admin/org/staff/add/",
        {
            "username": "b1_newcomer",
            "password": "12345678",
            "full_name": "新员工",
            "institution": branch.pk,
            "employee_no": "B1901",
            "is_active": "on",
            "roles": ["account_manager"],
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "password" in errors
    assert any("常见" in e or "数字" in e for e in errors["password"]), errors
    assert not User.objects.filter(username="b1_newcomer").exists()


def test_admin_reset_of_someone_elses_password_is_validated(province):
    client = Client()
    client.force_login(User.objects.get(username="b1_admin"))
    target = User.objects.get(username="b1_am1")
    response = client.post(
        f"/admin/auth/user/{target.pk}/password/",
        {"password1": "12345678", "password2": "12345678", "usable_password": "true"},
    )
    assert response.status_code == 200
    target.refresh_from_db()
    assert target.check_password(DEMO_PASSWORD)


def test_peer_review_evaluator_password_is_validated(villages):
    from villages.services import peer_review_evaluator_add, peer_review_round_open

    round_ = peer_review_round_open(village=villages["v1"], title="评议", opened_by=None)
    with pytest.raises(ValidationError) as refused:
        peer_review_evaluator_add(
            round=round_, name="村民", kind="elder", username="pr_999_1", password="12345678"
        )
    assert list(refused.value.message_dict) == ["password"]
    assert not User.objects.filter(username="pr_999_1").exists()


# --- lockout -------------------------------------------------------------------------------


def test_admin_locks_after_repeated_failures_even_with_the_right_password(province, settings):
    for _ in range(30):
        admin_login("b1_admin", "wrong-password")

    client, response = admin_login("b1_admin", DEMO_PASSWORD)

    assert not signed_in(client)
    assert response.status_code == 429
    assert "登录已锁定" in response.content.decode()


def test_api_login_counts_and_a_locked_account_gets_a_chinese_429(province, settings):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert api_login("b1_am1", "wrong", address=f"10.0.1.{n}").status_code == 401

    # The limit is reached from yet another address: the account, not the address, is locked.
    locked = api_login("b1_am1", "wrong", address="10.0.2.1")
    right = api_login("b1_am1", DEMO_PASSWORD, address="10.0.2.2")

    for response in (locked, right):
        assert response.status_code == 429
        body = response.json()
        assert body["code"] == "login_locked"
        assert "锁定" in body["message"]
        assert body["fields"] == {}
    assert not DeviceToken.objects.exists()


def test_failures_at_the_admin_lock_the_api_too(province, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_login("b1_am1", "wrong")
    assert api_login("b1_am1", DEMO_PASSWORD).status_code == 429


def test_one_address_guessing_many_accounts_is_locked(province, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        api_login(f"b1_nobody{n}", "wrong", address="10.9.9.9")

    assert api_login("b1_am1", DEMO_PASSWORD, address="10.9.9.9").status_code == 429
    assert api_login("b1_am1", DEMO_PASSWORD, address="10.9.9.10").status_code == 200


def test_lock_expires_after_the_cool_off(province, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_login("b1_am1", "wrong")
    later = datetime.datetime.now(datetime.UTC) + settings.AXES_COOLOFF_TIME
    with time_machine.travel(later + datetime.timedelta(minutes=1)):
        assert api_login("b1_am1", DEMO_PASSWORD).status_code == 200


def test_federation_admin_sees_and_lifts_a_lock_in_the_admin(province, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_login("b1_am1", "wrong")
    client = Client()
    client.force_login(User.objects.get(username="fed_admin"))

    page = client.get("/admin/org/loginlockout/")
    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("登录锁定", "b1_am1", "失败次数"):
        assert shown in text

    lock = LoginLockout.objects.get(username="b1_am1")
    client.post("/admin/org/loginlockout/", {"action": "lift_locks", "_selected_action": [lock.pk]})

    assert not LoginLockout.objects.filter(username="b1_am1").exists()
    assert api_login("b1_am1", DEMO_PASSWORD).status_code == 200


def test_a_bank_admin_does_not_see_the_province_wide_locks(province):
    client = Client()
    client.force_login(User.objects.get(username="b1_admin"))
    assert client.get("/admin/org/loginlockout/").status_code == 403


def test_throttle_counts_live_in_the_shared_cache_table(province):
    api_login("b1_am1", DEMO_PASSWORD)
    # DRF's login throttle wrote its count where every server process reads it (no Redis here).
    assert type(caches["default"]).__name__ == "DatabaseCache"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_cache WHERE cache_key LIKE %s", ["%throttle%"])
        assert cursor.fetchone()[0] >= 1


# --- device token lifetime -----------------------------------------------------------------


def test_a_token_used_daily_dies_at_its_maximum_age(province, settings):
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        token = api_login("b1_am1", DEMO_PASSWORD).json()["token"]
    headers = {"Authorization": f"Token {token}"}

    for day in range(1, 30):
        with time_machine.travel(start + datetime.timedelta(days=day), tick=False):
            assert APIClient().get("/api/v1/me/", headers=headers).status_code == 200

    past = start + settings.DEVICE_TOKEN_MAX_AGE + datetime.timedelta(seconds=1)
    with time_machine.travel(past, tick=False):
        response = APIClient().get("/api/v1/me/", headers=headers)
    assert response.status_code == 401
    assert not DeviceToken.objects.filter(user__username="b1_am1").exists()


# --- forced password change ----------------------------------------------------------------


@pytest.fixture
def newcomer(province):
    """b1_admin adds a staff member in the admin, choosing the password."""
    client = Client()
    client.force_login(User.objects.get(username="b1_admin"))
    branch = Institution.objects.get(code="SXRCU-YD-B01")
    response = client.post(
        "/admin/org/staff/add/",
        {
            "username": "b1_newcomer",
            "password": STRONG,
            "full_name": "新员工",
            "institution": branch.pk,
            "employee_no": "B1901",
            "is_active": "on",
            "roles": ["account_manager"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Staff.objects.get(user__username="b1_newcomer")


def test_staff_added_by_an_administrator_must_change_the_password(newcomer):
    assert newcomer.must_change_password
    client, _ = admin_login("b1_newcomer", STRONG)
    assert signed_in(client)

    page = client.get("/admin/villages/household/")
    assert page.status_code == 302
    assert page["Location"].startswith("/admin/password_change/")

    changed = client.post(
        "/admin/password_change/",
        {
            "old_password": STRONG,
            "new_password1": "Zr8#own-choice",
            "new_password2": "Zr8#own-choice",
        },
    )
    assert changed.status_code == 302
    newcomer.refresh_from_db()
    assert not newcomer.must_change_password
    assert client.get("/admin/").status_code == 200


def test_the_new_password_may_not_be_the_one_handed_out(newcomer):
    client, _ = admin_login("b1_newcomer", STRONG)
    response = client.post(
        "/admin/password_change/",
        {"old_password": STRONG, "new_password1": STRONG, "new_password2": STRONG},
    )
    assert response.status_code == 200
    assert "新密码不能与原密码相同" in response.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.must_change_password


def test_api_login_refuses_until_the_password_is_changed(newcomer):
    response = api_login("b1_newcomer", STRONG)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "password_change_required"
    assert "修改密码" in body["message"]
    assert not DeviceToken.objects.filter(user__username="b1_newcomer").exists()


def test_an_administrator_reset_forces_a_change_and_signs_tablets_out(province):
    user = User.objects.get(username="b1_am1")
    api_login("b1_am1", DEMO_PASSWORD)
    assert DeviceToken.objects.filter(user=user).exists()

    user_password_reset(user=user, new_password=STRONG)

    assert Staff.objects.get(user=user).must_change_password
    assert not DeviceToken.objects.filter(user=user).exists()
    assert api_login("b1_am1", STRONG).json()["code"] == "password_change_required"


def test_demo_and_service_created_logins_are_not_forced(province):
    assert not Staff.objects.filter(must_change_password=True).exists()
    staff = staff_create(
        username="b1_script",
        password=STRONG,
        full_name="脚本创建",
        institution=province["bank1"],
        employee_no="B1950",
        roles=[Role.RISK_OFFICER],
    )
    assert not staff.must_change_password
    assert api_login("b1_am1", DEMO_PASSWORD).status_code == 200
