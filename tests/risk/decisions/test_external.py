"""The default strategy with external data: a provider that fails refers the application with the
failure's reason, never approves; the answers used are in the snapshot and replay."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from risk.decisions.models import Decision
from risk.decisions.replay import decision_replay
from risk.decisions.services import decision_make
from risk.providers.registry import clear
from tests.risk.decisions.test_outcomes import WELL_OFF, _household


@pytest.fixture(autouse=True)
def _fresh_registry():
    clear()
    yield
    clear()


@pytest.mark.parametrize(
    ("source", "kind", "code"),
    [
        ("credit_report", "timeout", "credit_report_timeout"),
        ("court", "unavailable", "court_unavailable"),
        ("antifraud", "malformed", "antifraud_malformed"),
        ("borrowing", "empty", "borrowing_empty"),
    ],
)
def test_a_failing_provider_refers_with_its_reason(world, source, kind, code):
    household = _household(world, figures=WELL_OFF, sequence=810)
    faults = {source: {"options": {"faults": {household.head.id_number: kind}}}}
    with override_settings(RISK_EXTERNAL_PROVIDERS=faults):
        decision = decision_make(
            household=household, product=world["product"], requested_amount=Decimal("20000")
        )
    assert decision.outcome in ("refer", "reject")
    assert code in decision.reason_codes
    assert decision.provider_problems
    result = decision_replay(Decision.objects.get(pk=decision.pk))
    assert result.identical, result.differences


def test_the_default_strategy_stores_the_external_answers_it_used(world):
    household = _household(world, figures=WELL_OFF, sequence=811)
    decision = decision_make(household=household, product=world["product"])
    values = dict(zip(decision.layout.names, decision.input_values(), strict=True))
    assert values["antifraud_score"] == values["antifraud_score"]  # answered, not NaN
    assert decision.rule_set_versions  # anti-fraud and admission sets
    result = decision_replay(Decision.objects.get(pk=decision.pk))
    assert result.identical, result.differences
