"""Fixtures of the security tests: the two-bank world of ``tests.security.world``."""

import pytest

from tests.products.conftest import make_product, users  # noqa: F401
from tests.risk.model_setup import media  # noqa: F401


@pytest.fixture
def world(province, villages, make_product, media):  # noqa: F811
    from tests.security.world import build_world

    return build_world(province, villages, make_product)


def pytest_terminal_summary(terminalreporter):
    import sys

    matrix = sys.modules.get("tests.security.test_tenancy_matrix")
    if matrix is not None and matrix.COUNTS:
        terminalreporter.write_line(matrix.pytest_terminal_summary_line())
