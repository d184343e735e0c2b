"""Every API error answers ``{"code", "message", "fields"}`` in Chinese: unknown paths, bodies
that do not parse, an empty body, and a tablet whose language is English."""

import json

import pytest
from django.test import Client


def body(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    data = json.loads(response.content)
    assert set(data) == {"code", "message", "fields"}
    return data


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize(
    "path", ["/api/v1/nonexistent/", "/api/v1/villages/1/nothing/", "/api/nothing", "/api/"]
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_answers_the_api_404(db, path, method):
    response = getattr(Client(), method)(path)
    assert response.status_code == 404
    data = body(response)
    assert data["code"] == "not_found"
    assert is_chinese(data["message"])


def test_a_path_missing_its_slash_names_the_right_one(db):
    data = body(Client().post("/api/v1/auth/login", {}, content_type="application/json"))
    assert data["message"] == "接口地址须以“/”结尾：/api/v1/auth/login/"


def test_paths_outside_the_api_keep_django_pages(db):
    response = Client().get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_malformed_json_is_told_in_chinese(db):
    response = Client().post(
        "/api/v1/auth/login/", data='{"username": "b1_am2",', content_type="application/json"
    )
    assert response.status_code == 400
    data = body(response)
    assert data["code"] == "parse_error"
    assert data["message"] == "请求体不是有效的 JSON，请检查格式(引号、逗号、括号)"
    assert "Expecting" not in response.content.decode()


def test_a_broken_multipart_body_is_told_in_chinese(db):
    response = Client().post(
        "/api/v1/auth/login/", data="--x\r\nbroken", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert body(response)["message"] == "请求体不是有效的 multipart 表单数据"


def test_a_null_body_is_told_in_chinese(db):
    response = Client().post("/api/v1/auth/login/", data="null", content_type="application/json")
    assert response.status_code == 400
    data = body(response)
    assert (data["code"], data["message"]) == ("no_data", "请求体为空，请提交数据")


def test_an_empty_body_from_an_english_tablet_is_answered_in_chinese(db):
    response = Client().post(
        "/api/v1/auth/login/",
        data="",
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9",
    )
    assert response.status_code == 400
    data = body(response)
    assert data["fields"]["username"] == ["该字段是必填项。"]
    assert "required" not in response.content.decode()


def test_an_unsupported_content_type_is_told_in_chinese(db):
    response = Client().post("/api/v1/auth/login/", data="a", content_type="text/plain")
    assert response.status_code == 415
    assert is_chinese(body(response)["message"])


def test_a_server_error_under_the_api_answers_the_api_body(rf):
    from common.api.errors import api_aware_server_error

    response = api_aware_server_error(rf.get("/api/v1/villages/"))
    assert response.status_code == 500
    assert body(response)["code"] == "server_error"
