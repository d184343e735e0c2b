from risk.lists.models import RiskListEntry, RiskListEntryChange
from risk.models.features import HouseholdFeatures
from risk.models.scorecards import (
    Scorecard,
    ScorecardBin,
    ScorecardStatusChange,
    ScorecardTraining,
    ScoringSegment,
)
from risk.models.scoring import (
    HouseholdScore,
    MonitoringRun,
    ScoringChunk,
    ScoringJob,
)

__all__ = [
    "HouseholdFeatures",
    "HouseholdScore",
    "MonitoringRun",
    "RiskListEntry",
    "RiskListEntryChange",
    "Scorecard",
    "ScorecardBin",
    "ScorecardStatusChange",
    "ScorecardTraining",
    "ScoringChunk",
    "ScoringJob",
    "ScoringSegment",
]
