"""The input filter: NUL, lone surrogates and invisible control characters are refused with a
400 naming the field — in API bodies (JSON, form, multipart), query strings and admin forms —
and nothing is written; no error body ever fails to encode."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from common.api.errors import exception_handler
from common.api.parsers import FILTERED_PARSERS
from villages.models import EconomicArchive, FieldVisit, Household, Member, VisitPhoto

NUL = "\x00"
SURROGATE = "\ud800"


def send_json(client, method: str, url: str, body):
    """``body`` as JSON with non-ASCII escaped, as a PAD's JSON library writes a lone
    surrogate (``"\\ud800"``); DRF's test renderer cannot encode one at all."""
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def archive_body(household, **extra):
    return {"household": str(household.pk), "survey_date": "2026-11-01", **extra}


def member_body(household, **extra):
    return {
        "household": str(household.pk),
        "name": "王小二",
        "id_number": "11010519491231002X",
        "relation": "child",
        **extra,
    }


def visit_body(household, **extra):
    return {
        "household": str(household.pk),
        "visited_at": "2026-11-20T10:30:00+08:00",
        "purpose": "archive",
        "notes": "看了大棚",
        **extra,
    }


def refused(response, field: str, reason: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body) == {"code", "message", "fields"}
    assert field in body["fields"], body["fields"]
    assert reason in body["fields"][field][0]


@pytest.mark.parametrize("field", ["crops", "livestock", "machinery", "debts"])
def test_nul_in_an_archive_list_field_is_refused_naming_its_path(login_as, villages, field):
    household = villages["v1_households"][0]
    archive_id = uuid.uuid4()
    response = send_json(
        login_as("b1_am2"),
        "put",
        f"/api/v1/archives/{archive_id}/",
        archive_body(household, **{field: [{"name": "玉米", "note": f"北{NUL}地"}]}),
    )

    refused(response, f"{field}[0].note", "空字符（U+0000）")
    assert not EconomicArchive.objects.filter(pk=archive_id).exists()
    assert EconomicArchive.objects.filter(household=household).count() == 1


def test_nul_deep_in_nested_lists_and_in_a_key_is_named(login_as, villages):
    household = villages["v1_households"][0]
    body = archive_body(
        household,
        debts=[
            {"lender": "信用社", "amount": "5000"},
            {"lender": "亲戚", "parts": [{"who": "舅舅"}, {"who": f"姨{NUL}"}]},
        ],
        crops=[{f"na{NUL}me": "玉米"}],
    )
    response = send_json(login_as("b1_am2"), "put", f"/api/v1/archives/{uuid.uuid4()}/", body)

    refused(response, "debts[1].parts[1].who", "U+0000")
    fields = response.json()["fields"]
    assert "crops[0].na\\u0000me" in fields  # the key named, the NUL itself not echoed
    assert NUL not in response.content.decode()
    assert EconomicArchive.objects.filter(household=household).count() == 1


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("member", "relation"),
        ("member", "education"),
        ("member", "health"),
        ("archive", "housing_structure"),
        ("archive", "business_industry"),
        ("visit", "purpose"),
    ],
)
def test_lone_surrogate_in_a_choice_field_is_refused_and_not_echoed(
    login_as, villages, kind, field
):
    household = villages["v1_households"][2]
    record_id = uuid.uuid4()
    url, body, model = {
        "member": (f"/api/v1/members/{record_id}/", member_body, Member),
        "archive": (f"/api/v1/archives/{record_id}/", archive_body, EconomicArchive),
        "visit": (f"/api/v1/field-visits/{record_id}/", visit_body, FieldVisit),
    }[kind]
    response = send_json(
        login_as("b1_am2"), "put", url, body(household, **{field: f"x{SURROGATE}"})
    )

    refused(response, field, "代理码位U+D800")
    assert not model.objects.filter(pk=record_id).exists()


def test_other_control_characters_are_refused_but_tab_and_newlines_pass(login_as, villages):
    household = villages["v1_households"][0]
    client = login_as("b1_am2")
    escape = send_json(
        client,
        "put",
        f"/api/v1/field-visits/{uuid.uuid4()}/",
        visit_body(household, notes="看了\x1b[31m大棚"),
    )
    refused(escape, "notes", "控制字符（U+001B）")

    visit_id = uuid.uuid4()
    lines = send_json(
        client,
        "put",
        f"/api/v1/field-visits/{visit_id}/",
        visit_body(household, notes="看了大棚\r\n\t两亩"),
    )
    assert lines.status_code == 201, lines.content
    assert FieldVisit.objects.get(pk=visit_id).notes == "看了大棚\r\n\t两亩"


def test_multipart_and_form_bodies_are_filtered_too(login_as, villages, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login_as("b1_am2")
    visit_id = uuid.uuid4()
    assert (
        send_json(
            client,
            "put",
            f"/api/v1/field-visits/{visit_id}/",
            visit_body(villages["v1_households"][0]),
        ).status_code
        == 201
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = client.put(
        f"/api/v1/field-visits/{visit_id}/photos/{uuid.uuid4()}/",
        {
            "kind": f"house{NUL}",
            "image": SimpleUploadedFile("house.jpg", b"\xff\xd8 not decoded"),
            "captured_at": "2026-11-20T10:35:00+08:00",
        },
        format="multipart",
    )
    refused(photo, "kind", "U+0000")
    assert not VisitPhoto.objects.exists()

    login = Client().post(
        "/api/v1/auth/login/", {"username": f"b1{NUL}_am2", "password": "x", "device_id": "pad"}
    )
    refused(login, "username", "U+0000")


@pytest.mark.parametrize(
    "url",
    ["/api/v1/campaigns/?village=%00", "/api/v1/villages/{v1}/households/?updated_since=1%00"],
)
def test_query_string_with_nul_is_refused_naming_the_parameter(login_as, villages, url):
    response = login_as("b1_admin").get(url.format(v1=villages["v1"].pk))
    name = url.split("?")[1].split("=")[0]
    refused(response, name, "U+0000")


def test_admin_form_post_with_nul_is_refused_naming_the_field(villages):
    from org.models import Staff

    household = villages["v1_households"][0]
    client = Client()
    client.force_login(Staff.objects.get(user__username="b1_admin").user)
    url = f"/admin/villages/household/{household.pk}/change/"
    response = client.post(
        url, {"village": villages["v1"].pk, "group_name": "第二组", "address": f"新{NUL}址"}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "<code>address</code>" in page
    assert "空字符（U+0000）" in page
    household.refresh_from_db()
    assert (household.group_name, household.address) == ("第一组", "北杜村1号")

    search = client.get("/admin/villages/household/?q=%00")
    assert search.status_code == 400
    assert "<code>q</code>" in search.content.decode()


def test_an_error_quoting_a_lone_surrogate_still_encodes():
    """Whatever reaches the handler, the body it answers with can be sent."""
    error = ValidationError({"relation": [f'"x{SURROGATE}" 不是合法选项。']})
    response = exception_handler(error, {})

    body = json.loads(JSONRenderer().render(response.data))
    assert body["fields"]["relation"] == ['"x\ufffd" 不是合法选项。']
    assert response.status_code == 400


def _api_views(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            view = getattr(pattern.callback, "cls", None)
            if view is not None and issubclass(view, APIView):
                yield route, view


def test_every_api_view_parses_bodies_through_the_filter():
    views = list(_api_views())
    assert len(views) > 20
    unfiltered = [
        (route, parser.__name__)
        for route, view in views
        for parser in view.parser_classes
        if not issubclass(parser, FILTERED_PARSERS)
    ]
    assert unfiltered == []


def test_a_surrogate_in_a_text_field_is_refused_and_no_household_written(login_as, villages):
    before = Household.objects.count()
    response = send_json(
        login_as("b1_am2"),
        "put",
        f"/api/v1/households/{uuid.uuid4()}/",
        {"village": villages["v1"].pk, "address": f"1号{SURROGATE}"},
    )
    refused(response, "address", "U+D800")
    assert Household.objects.count() == before
