"""Writes of the risk app, one import for admin, API, tasks and other apps."""

from risk.registry import (
    scorecard_promote,
    scorecard_register_from_training,
    scorecard_retire,
    scorecard_set_grade_cutoffs,
    scorecard_submit,
    scorecard_training_create,
    scorecard_training_request,
    scorecard_training_run,
)
from risk.scoring import score_household

__all__ = [
    "score_household",
    "scorecard_promote",
    "scorecard_register_from_training",
    "scorecard_retire",
    "scorecard_set_grade_cutoffs",
    "scorecard_submit",
    "scorecard_training_create",
    "scorecard_training_request",
    "scorecard_training_run",
]
