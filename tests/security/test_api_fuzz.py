"""Schemathesis over the project's OpenAPI schema, in-process against the WSGI app and the test
database (two banks' villages from ``tests.conftest``), as an account manager with a device token.

Bounded: a few examples per operation with a fixed seed (``derandomize``), so a run takes seconds
and fails the same way twice. Asserts no server error and no response outside the schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.security.walk import api_schema

schema = schemathesis.openapi.from_dict(api_schema())
schema.app = get_wsgi_application()
EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def connection_kept():
    """The WSGI handler closes the database connection after each request, which would end the
    test's transaction; Django's own test client stands aside the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(villages, connection_kept):
    from django.contrib.auth import get_user_model

    from org.services import device_token_issue

    _, token = device_token_issue(
        user=get_user_model().objects.get(username="b1_am2"), device_id="schemathesis"
    )
    return token


def _throwaway_token() -> str:
    from django.contrib.auth import get_user_model

    from org.services import device_token_issue

    _, token = device_token_issue(
        user=get_user_model().objects.get(username="b1_am1"), device_id="schemathesis-logout"
    )
    return token


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_within_its_schema_and_never_a_server_error(case, token):
    if case.path in ("/api/v1/auth/logout/", "/api/v1/auth/logoutall/"):
        # Logging out revokes the token it is sent with: these cases get a tablet of their own
        # (log-out-all would still revoke the shared one, so the shared one is issued again).
        token = _throwaway_token()
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
