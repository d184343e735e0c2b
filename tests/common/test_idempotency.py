import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from common.models import IdempotencyRecord
from org.models import Institution
from tests.common import idempotency_views

pytestmark = pytest.mark.urls("tests.common.idempotency_views")
URL = "/test/branches/"


def post(client, body, key):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(URL, body, format="json", headers=headers)


def test_same_key_same_body_replays_the_stored_response(login_as):
    client = login_as("b1_admin")
    key = str(uuid.uuid4())
    first = post(client, {"code": "T-001", "name": "试验支行"}, key)
    second = post(client, {"code": "T-001", "name": "试验支行"}, key)

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Institution.objects.filter(code="T-001").count() == 1


def test_same_key_different_body_is_422_and_changes_nothing(login_as):
    client = login_as("b1_admin")
    key = str(uuid.uuid4())
    post(client, {"code": "T-002", "name": "试验支行"}, key)
    response = post(client, {"code": "T-003", "name": "另一个支行"}, key)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Institution.objects.filter(code="T-003").exists()


def test_missing_key_is_rejected_naming_the_header(login_as):
    response = post(login_as("b1_admin"), {"code": "T-004", "name": "试验支行"}, None)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert not Institution.objects.filter(code="T-004").exists()


def test_keys_are_per_user(login_as):
    key = str(uuid.uuid4())
    assert post(login_as("b1_admin"), {"code": "T-005", "name": "甲"}, key).status_code == 201
    # Another user's identical key is a different request, not a replay of someone else's.
    other = post(login_as("b2_admin"), {"code": "T-006", "name": "乙"}, key)
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers


def test_validation_error_is_replayed_not_rerun(login_as):
    client = login_as("b1_admin")
    key = str(uuid.uuid4())
    first = post(client, {"code": "", "name": "试验支行"}, key)
    second = post(client, {"code": "", "name": "试验支行"}, key)

    assert first.status_code == 400
    assert first.json()["fields"]["code"]
    assert second.status_code == 400
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"


def test_failed_request_releases_the_key_and_rolls_back(login_as):
    client = login_as("b1_admin")
    key = str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        post(client, {"code": "T-007", "name": "试验支行", "fail": True}, key)

    assert not Institution.objects.filter(code="T-007").exists()
    assert not IdempotencyRecord.objects.filter(key=key).exists()
    retry = post(client, {"code": "T-007", "name": "试验支行"}, key)
    assert retry.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_second_request_while_first_in_flight_gets_409(province):
    user = get_user_model().objects.get(username="b1_admin")
    key = str(uuid.uuid4())
    body = {"code": "T-008", "name": "并发支行"}
    entered, release = threading.Event(), threading.Event()
    idempotency_views.gate.update(entered=entered, release=release)
    results = {}

    def first_request():
        client = APIClient()
        client.force_authenticate(user)
        try:
            results["first"] = post(client, body, key)
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert entered.wait(timeout=10), "first request never reached the view"
        idempotency_views.gate.update(entered=None, release=None)
        client = APIClient()
        client.force_authenticate(user)
        results["second"] = post(client, body, key)
    finally:
        release.set()
        thread.join(timeout=20)
        idempotency_views.gate.update(entered=None, release=None)

    assert results["second"].status_code == 409
    assert results["second"].json()["code"] == "idempotency_request_in_flight"
    assert results["first"].status_code == 201
    assert Institution.objects.filter(code="T-008").count() == 1
    third = post(client, body, key)
    assert third.status_code == 201
    assert third.headers["Idempotent-Replayed"] == "true"
