"""Tablets log in with a device id; one token per tablet; revoking all logs every tablet out."""

from rest_framework.test import APIClient

from org.demo import DEMO_PASSWORD
from org.models import Staff


def login(device_id, username="b1_am1", password=DEMO_PASSWORD):
    return APIClient().post(
        "/api/v1/auth/login/",
        {"username": username, "password": password, "device_id": device_id, "device_name": "PAD"},
        format="json",
    )


def me(token):
    return APIClient().get("/api/v1/me/", headers={"Authorization": f"Token {token}"})


def test_login_then_me_returns_staff_roles_and_institution(province):
    response = login("pad-001")
    assert response.status_code == 200
    token = response.json()["token"]

    body = me(token).json()
    assert body["username"] == "b1_am1"
    assert body["roles"] == [{"code": "account_manager", "name": "客户经理"}]
    assert body["institution"]["code"] == "SXRCU-YD-B01"
    assert body["bank"]["code"] == "SXRCU-YD"
    assert body["is_federation"] is False


def test_new_login_from_same_tablet_replaces_its_token(province):
    old = login("pad-001").json()["token"]
    new = login("pad-001").json()["token"]
    other_tablet = login("pad-002").json()["token"]

    assert me(old).status_code == 401
    assert me(new).status_code == 200
    assert me(other_tablet).status_code == 200


def test_logout_all_revokes_every_tablet(province):
    first = login("pad-001").json()["token"]
    second = login("pad-002").json()["token"]

    response = APIClient().post(
        "/api/v1/auth/logoutall/", headers={"Authorization": f"Token {first}"}
    )

    assert response.status_code == 204
    assert me(first).status_code == 401
    assert me(second).status_code == 401


def test_wrong_password_is_401_with_uniform_body(province):
    response = login("pad-001", password="wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.json()["fields"] == {}


def test_validation_error_names_the_missing_fields(province):
    response = APIClient().post("/api/v1/auth/login/", {"username": "b1_am1"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"password", "device_id"}
    assert body["message"]


def test_me_without_token_is_401(db):
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_schema_and_docs_refuse_anonymous_visitors(client, db):
    assert client.get("/api/v1/schema/").status_code == 401
    docs = client.get("/api/v1/docs/")
    # A browser is sent to the admin's login page and back.
    assert docs.status_code == 302
    assert docs["Location"].startswith("/admin/login/?next=/api/v1/docs/")


def test_schema_and_offline_swagger_ui_for_signed_in_staff(client, province):
    client.force_login(Staff.objects.get(user__username="b1_am1").user)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me/" in schema.content

    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    # Swagger UI is served from the sidecar package's static files, not from a CDN.
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in docs.content
    assert b"cdn.jsdelivr" not in docs.content


def test_schema_with_a_device_token(province):
    token = login("pad-001").json()["token"]
    response = APIClient().get("/api/v1/schema/", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
