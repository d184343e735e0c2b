"""The one filter every request's text passes: no NUL, no lone surrogate, no invisible control.

What it refuses, and why refusing (400, naming the field) beats storing or echoing:
- NUL (U+0000): PostgreSQL stores it in neither text nor jsonb; it answered a server error;
- a lone surrogate (U+D800–U+DFFF, sent as ``"\\ud800"`` in JSON): it cannot be encoded as UTF-8,
  so it fails when stored and when echoed back in an error body — a server error either way;
- the other C0 controls except tab, newline and carriage return (U+0001–U+0008, U+000B, U+000C,
  U+000E–U+001F): nobody types them, they are invisible on the screen, and XML 1.0 cannot hold
  them, so one stored in a name would break every xlsx export and contract PDF that shows it.
  Tab, newline and CR are what multi-line notes and pasted text legitimately carry.

Where it runs — one walker (``bad_text_fields``), two doors, so no view or field needs its own
check:
- ``BadTextMiddleware`` (settings.MIDDLEWARE): every request's query string (``?village=%00`` on
  a list answers 400 before a filter sends it to PostgreSQL), and the form bodies of every
  request outside the API — the admin's forms, inlines, actions and search — before any view
  reads them;
- ``common.api.parsers`` (REST_FRAMEWORK's parsers): the API's JSON, form and multipart bodies,
  nested dicts and lists included, when the view first reads ``request.data``. The API's bodies
  are left to the parsers so that a view may still refuse an oversized upload by its
  Content-Length before anything is parsed or spooled.
The refusal names each field by its path (``crops[0].name``) with the reason in Chinese; the
offending text itself is never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.http import HttpResponse, JsonResponse
from django.utils.datastructures import MultiValueDict
from django.utils.html import format_html, format_html_join

# Paths the REST API answers under: its refusals are JSON in the API's error format.
API_PREFIX = "/api/"
MESSAGE = "提交的内容含有不允许的字符，请检查标出的字段"
# A body is walked to the end, but a refusal names at most this many fields.
MAX_FIELDS_NAMED = 20

_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def bad_text_reason(text: str) -> str | None:
    """Why ``text`` may not be stored (in Chinese), or ``None`` when it may."""
    found = _BAD.search(text)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        return f"含有空字符（{code}），请删除后重新提交"
    if "\ud800" <= char <= "\udfff":
        return f"含有无效的Unicode字符（单独的代理码位{code}），请删除后重新提交"
    return f"含有不可见的控制字符（{code}），请删除后重新提交"


def printable_name(name: str) -> str:
    """A field name safe to show: bad characters in it written as ``\\uXXXX``."""
    return _BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


def bad_text_fields(data, path: str = "") -> dict[str, list[str]]:
    """Every string in ``data`` (dicts, lists, a ``QueryDict``) that may not be stored, by its
    path: ``{"crops[0].name": ["含有空字符（U+0000），请删除后重新提交"]}``. Keys are checked
    like values."""
    found: dict[str, list[str]] = {}
    _walk(data, path, found)
    return found


def _walk(value, path: str, found: dict[str, list[str]]) -> None:
    if isinstance(value, str):
        reason = bad_text_reason(value)
        if reason is not None:
            found.setdefault(path or "non_field_errors", []).append(reason)
        return
    if isinstance(value, MultiValueDict):  # a QueryDict: every value of a repeated key
        for key, values in value.lists():
            _walk_key(key, path, found)
            for item in values:
                _walk(item, _join(path, key), found)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            key = str(key)
            _walk_key(key, path, found)
            _walk(item, _join(path, key), found)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", found)


def _walk_key(key: str, path: str, found: dict[str, list[str]]) -> None:
    reason = bad_text_reason(key)
    if reason is not None:
        found.setdefault(_join(path, key), []).append(f"字段名{reason}")


def _join(path: str, key: str) -> str:
    key = printable_name(key)
    return f"{path}.{key}" if path else key


def refusal_body(fields: dict[str, list[str]]) -> dict:
    """The API's error body (``common.api.errors``) for a refusal of this filter."""
    named = dict(list(fields.items())[:MAX_FIELDS_NAMED])
    return {"code": "invalid", "message": MESSAGE, "fields": named}


class BadTextMiddleware:
    """Answer 400 to a request whose query string, or (outside the API) form body, holds text
    that ``bad_text_reason`` refuses; see the module docstring."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        fields = bad_text_fields(request.GET)
        is_api = request.path_info.startswith(API_PREFIX)
        if not is_api and request.method == "POST":
            # The admin reads request.POST anyway (CsrfViewMiddleware already does for every
            # POST), so parsing it here costs nothing extra.
            for name, reasons in bad_text_fields(request.POST).items():
                fields.setdefault(name, []).extend(reasons)
        if not fields:
            return self.get_response(request)
        if is_api:
            return JsonResponse(
                refusal_body(fields), status=400, json_dumps_params={"ensure_ascii": False}
            )
        return _html_refusal(fields)


def _html_refusal(fields: dict[str, list[str]]) -> HttpResponse:
    items = format_html_join(
        "",
        "<li><code>{}</code>：{}</li>",
        ((name, "；".join(reasons)) for name, reasons in list(fields.items())[:MAX_FIELDS_NAMED]),
    )
    page = format_html(
        '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8"><title>{}</title>'
        "</head><body><h1>{}</h1><ul>{}</ul><p>请返回上一页，删除这些字符后重新提交。</p>"
        "</body></html>",
        MESSAGE,
        MESSAGE,
        items,
    )
    return HttpResponse(page, status=400, content_type="text/html; charset=utf-8")
