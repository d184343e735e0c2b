from __future__ import annotations

import pytest
from rest_framework.test import APIClient


def pytest_configure(config):
    from django.conf import settings

    # Password hashing is deliberately slow; tests create dozens of logins.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def province(db):
    """The demo province's organisation: federation, two banks, branches, staff for every role."""
    from org.demo import seed_org
    from org.models import Institution

    seed_org()
    return {
        "federation": Institution.objects.get(code="SXRCU"),
        "bank1": Institution.objects.get(code="SXRCU-YD"),
        "bank2": Institution.objects.get(code="SXRCU-XF"),
    }


@pytest.fixture
def login_as(province):
    """``login_as("b1_admin")`` → an APIClient authenticated as that demo user."""
    from django.contrib.auth import get_user_model

    def make(username: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(get_user_model().objects.get(username=username))
        return client

    return make
