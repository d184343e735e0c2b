"""One error body for the whole API: ``{"code", "message", "fields"}``.

PAD and self-service clients show ``message`` to the user and highlight ``fields`` (field name →
list of messages) next to the inputs; ``code`` is stable and machine-readable.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import translation
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

_MESSAGES = {
    "invalid": "提交的数据有误，请检查标出的字段",
    "not_found": "未找到该记录",
    "not_authenticated": "未登录或登录已过期",
    "authentication_failed": "身份验证失败",
    "permission_denied": "没有执行此操作的权限",
    "method_not_allowed": "不支持该请求方法",
    "throttled": "请求过于频繁，请稍后再试",
    "unsupported_media_type": "不支持该请求内容类型，请以 application/json 提交",
    "not_acceptable": "无法按请求的格式(Accept)返回，本接口只返回 JSON",
    "server_error": "服务器内部错误，请稍后重试；如持续出现请联系管理员",
}
# DRF's parse errors quote the parser's English exception ("JSON parse error - Expecting
# value: line 1 column 1"); the client is told in Chinese what kind of body was unreadable.
_PARSE_MESSAGES = {
    "application/json": "请求体不是有效的 JSON，请检查格式(引号、逗号、括号)",
    "multipart/form-data": "请求体不是有效的 multipart 表单数据",
    "application/x-www-form-urlencoded": "请求体不是有效的表单数据",
}
_NO_BODY = "请求体为空，请提交数据"
API_PREFIX = "/api/"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _first_code(codes) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    return "invalid"


def _encodable(value):
    """``value`` with any lone surrogate replaced by U+FFFD: a validation message may quote what
    the client sent (``"\\ud800" is not a valid choice``), and a body that cannot be encoded as
    UTF-8 would turn the client's 400 into a server error."""
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value
        replaced = _SURROGATE.sub("\ufffd", value)
        code = getattr(value, "code", None)
        return exceptions.ErrorDetail(replaced, code) if code is not None else replaced
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value


def exception_handler(exc, context):
    response = _exception_handler(exc, context)
    if response is not None:
        response.data = _encodable(response.data)
    return response


def _exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        if list(fields) == ["non_field_errors"] and _first_code(exc.get_codes()) == "null":
            # A body of JSON ``null``: DRF's "No data provided" has no translation.
            response.data = {"code": "no_data", "message": _NO_BODY, "fields": {}}
            return response
        code = "invalid"
        message = _MESSAGES["invalid"]
        # A single non-field error is the message itself ("额度不足" reads better than a generic).
        non_field = fields.get("non_field_errors")
        if non_field and len(fields) == 1:
            message = str(non_field[0])
            code = _first_code(exc.get_codes())
        response.data = {"code": code, "message": message, "fields": fields}
        return response

    code = exc.default_code if hasattr(exc, "default_code") else "error"
    codes = exc.get_codes() if hasattr(exc, "get_codes") else code
    if isinstance(codes, str):
        code = codes
    detail = getattr(exc, "detail", "")
    message = str(detail) if detail else _MESSAGES.get(code, "请求失败")
    if code in _MESSAGES and str(detail) == str(type(exc).default_detail):
        message = _MESSAGES[code]
    if isinstance(exc, exceptions.UnsupportedMediaType | exceptions.NotAcceptable):
        message = _MESSAGES[code]
    if isinstance(exc, exceptions.ParseError):
        request = context.get("request")
        media_type = (getattr(request, "content_type", "") or "").split(";")[0].strip().lower()
        message = _PARSE_MESSAGES.get(media_type, "请求体无法解析，请检查提交的数据格式")
    response.data = {"code": code, "message": message, "fields": {}}
    return response


@contextmanager
def service_errors():
    """Answer a service's Django ``ValidationError`` (field → messages) with the uniform 400."""
    try:
        yield
    except DjangoValidationError as exc:
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        raise exceptions.ValidationError(detail) from exc


# --- Outside DRF's views: unknown paths, server errors, the language --------------------------


def api_error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"code": code, "message": message, "fields": {}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


@csrf_exempt  # a tablet's POST to a wrong path gets the 404 body, not a CSRF page
def api_not_found(request, path: str = ""):
    """Every path under ``/api/`` that no view serves: the API's 404 body, not Django's HTML
    page (a PAD cannot show the debug page and would report "network error"). Mounted last in
    ``config.urls``. A path that lacks only its trailing slash names the right one: Django's
    APPEND_SLASH redirect cannot be used (this pattern matches first), and a redirect would make
    a tablet resend a POST as GET anyway."""
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return api_error_response(404, "not_found", f"接口地址须以“/”结尾：{request.path}/")
    return api_error_response(404, "not_found", f"接口不存在：{request.path}")


def api_aware_page_not_found(request, exception=None):
    """``handler404``: the API's body for ``/api/`` paths, Django's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return api_error_response(404, "not_found", _MESSAGES["not_found"])
    return defaults.page_not_found(request, exception)


def api_aware_server_error(request):
    """``handler500``: a server error under ``/api/`` answers the API's body (no traceback)."""
    if request.path.startswith(API_PREFIX):
        return api_error_response(500, "server_error", _MESSAGES["server_error"])
    return defaults.server_error(request)


class ApiLanguageMiddleware:
    """The API answers in Chinese whatever ``Accept-Language`` a tablet sends: its messages are
    shown to account managers and villagers as they are, and a device set to English otherwise
    turned DRF's messages ("This field is required.") English. Placed after LocaleMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
