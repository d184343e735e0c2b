"""``Idempotency-Key`` for POST endpoints.

Put ``@idempotent()`` on a DRF view's ``post``. The client sends ``Idempotency-Key: <uuid>``:
- first time: the view runs; its response is stored in the same transaction as its writes;
- same key and same body again: the stored response is returned with
  ``Idempotent-Replayed: true`` and nothing runs;
- same key, different body: 422 ``idempotency_key_reused``;
- same key while the first request is still running: 409 ``idempotency_request_in_flight``.

A request that fails (exception or 5xx), or is told to retry later (an error with a
``Retry-After``), releases its key so the client can retry with it.
Keys are per user; a 4xx answer (e.g. a validation error) is stored and replayed like any other,
because replaying the same bad body must give the same answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable

from django.db import transaction
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common.services import (
    ClaimOutcome,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        "该幂等键已用于另一笔不同内容的请求 (Idempotency-Key was used with a different body)"
    )


class IdempotentRequestInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_request_in_flight"
    default_detail = "相同幂等键的请求正在处理中，请稍后重试 (the first request is still in flight)"


def request_fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.get_full_path().encode())
    digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _read_key(request, required: bool) -> str | None:
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        if required:
            raise ValidationError(
                {HEADER: ["此接口必须提供 Idempotency-Key 请求头 (header is required)"]}
            )
        return None
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            {HEADER: [f"Idempotency-Key 须为不超过 {MAX_KEY_LENGTH} 个可打印字符"]}
        )
    return key


def idempotent(required: bool = True) -> Callable:
    def decorator(view_method: Callable) -> Callable:
        @functools.wraps(view_method)
        def wrapper(view, request, *args, **kwargs):
            key = _read_key(request, required)
            if key is None:
                return view_method(view, request, *args, **kwargs)

            claim = idempotency_claim(
                user_id=request.user.pk,
                key=key,
                method=request.method,
                path=request.path,
                request_hash=request_fingerprint(request),
            )
            if claim.outcome is ClaimOutcome.MISMATCH:
                raise IdempotencyKeyReused()
            if claim.outcome is ClaimOutcome.IN_FLIGHT:
                raise IdempotentRequestInFlight()
            if claim.outcome is ClaimOutcome.REPLAY:
                return Response(
                    claim.record.response_body,
                    status=claim.record.response_status,
                    headers={REPLAYED_HEADER: "true"},
                )

            try:
                with transaction.atomic():
                    response = view_method(view, request, *args, **kwargs)
                    if response.status_code >= 500:
                        raise _ServerErrorResponse(response)
                    body = json.loads(JSONRenderer().render(response.data) or b"null")
                    idempotency_complete(
                        record=claim.record, status=response.status_code, body=body
                    )
            except _ServerErrorResponse as server_error:
                idempotency_release(record=claim.record)
                return server_error.response
            except APIException as exc:
                # DRF errors raised by the view (validation, permission, not found) are answers
                # too: store them so a replay gives the same one, then let DRF render it.
                if getattr(exc, "wait", None):
                    # "Retry later" (a loan held by the close of business, a core that did
                    # not answer): the same key must run again, not replay this answer.
                    idempotency_release(record=claim.record)
                else:
                    _store_error(claim.record, view, exc)
                raise
            except BaseException:
                idempotency_release(record=claim.record)
                raise
            return response

        return wrapper

    return decorator


class _ServerErrorResponse(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _store_error(record, view, exc: APIException) -> None:
    handler = view.get_exception_handler()
    response = handler(exc, view.get_exception_handler_context())
    body = json.loads(JSONRenderer().render(response.data) or b"null")
    idempotency_complete(record=record, status=response.status_code, body=body)
