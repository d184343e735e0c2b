"""Trained scorecards for the modelling tests: trained once per process (a few seconds), then
registered per test through the real registry."""

from __future__ import annotations

import functools

import pytest

from org.models import Staff
from org.roles import Role
from org.services import staff_create
from risk.models import Scorecard, ScoringSegment
from risk.registry import scorecard_register_from_training
from risk.synthetic import generate_history
from risk.training import TrainingSettings, train_scorecard_model


@functools.cache
def trained(segment: str = "farmer", rows: int = 4000, seed: int = 5, **overrides):
    """(synthetic history, training result); cached, so treat both as read-only."""
    history = generate_history(rows, seed=seed, segment=segment)
    settings = TrainingSettings(random_seed=seed, **overrides)
    return history, train_scorecard_model(history.frame, settings=settings)


@pytest.fixture
def media(settings, tmp_path):
    """Artefacts and datasets go to a temporary media root, not the project's var/."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def staff(province):
    """Demo staff by username, plus a second federation modeller and a second bank-1 risk
    officer so maker-checker has someone to check."""
    from risk.demo import _modeller

    _modeller()
    bank1 = province["bank1"]
    if not Staff.objects.filter(user__username="b1_risk2").exists():
        staff_create(
            username="b1_risk2",
            password="Demo@2026x",
            full_name="风险复核岗",
            institution=bank1,
            employee_no="B1009",
            phone="13800109999",
            roles=[Role.RISK_OFFICER],
        )
    return {s.user.username: s for s in Staff.objects.select_related("user", "bank")}


@pytest.fixture
def register(db, media):
    def make(segment: str = "farmer", *, bank=None, trained_by=None, result=None, **kwargs):
        result = result or trained()[1]
        return scorecard_register_from_training(
            segment=ScoringSegment.objects.get(code=segment, bank=None),
            result=result,
            source=Scorecard.Source.SYNTHETIC,
            trained_by=trained_by,
            bank=bank,
            **kwargs,
        )

    return make
