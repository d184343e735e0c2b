"""Fixtures of the modelling tests (see ``tests.risk.model_setup``)."""

from tests.risk.model_setup import media, register, staff  # noqa: F401
