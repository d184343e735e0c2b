"""Fixtures of the risk-list tests: ID numbers nobody in the villages fixture holds, and a
proposal made and approved through the services."""

from __future__ import annotations

import datetime

import pytest

from risk.lists.services import risk_list_entry_approve, risk_list_entry_propose
from villages.demo import make_id_number


def outsider_id(n: int) -> str:
    """A valid ID number (Yaodu district, born 1980) for person ``n``."""
    return make_id_number("141002", datetime.date(1980, 1, 1) + datetime.timedelta(days=n), 7, True)


@pytest.fixture
def listed(staff):
    """``listed(id_number, level=..., maker="b1_risk", checker="b1_risk2", **kwargs)`` → an
    active entry, proposed and approved by two people."""

    def make(id_number: str, *, level="prohibit", maker="b1_risk", checker="b1_risk2", **kwargs):
        kwargs.setdefault("reason", "骗贷，经核实")
        entry = risk_list_entry_propose(
            by=staff[maker].user, id_number=id_number, level=level, **kwargs
        )
        return risk_list_entry_approve(entry=entry, by=staff[checker].user)

    return make
