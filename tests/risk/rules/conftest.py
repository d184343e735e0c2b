"""Fixtures of the rules tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _seeded_catalogue(request):
    """The federation's rule catalogue a data migration seeds; a test that empties the database
    (transactional tests flush every table) takes it away from the tests after it, and from the
    next run that reuses the test database."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        from risk.rules.services import rules_seed_catalogue

        rules_seed_catalogue()
