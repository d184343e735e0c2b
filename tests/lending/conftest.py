"""Fixtures of the lending tests: the decision tests' world (organisation, products, two small
villages, champion scorecards, seeded rules and strategy) and its local-data flow."""

from __future__ import annotations

from tests.lending.servicing_setup import active_line, loan  # noqa: F401
from tests.risk.decisions.conftest import _seeded, world  # noqa: F401
from tests.risk.decisions.test_decide import local_flow  # noqa: F401
from tests.risk.model_setup import media, register, staff  # noqa: F401
