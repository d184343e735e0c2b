"""One error body for the whole API: ``{"code", "message", "fields"}``.

PAD and self-service clients show ``message`` to the user and highlight ``fields`` (field name →
list of messages) next to the inputs; ``code`` is stable and machine-readable.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
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
}
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
