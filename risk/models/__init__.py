from risk.decisions.models import (
    Decision,
    DecisionJob,
    DecisionLayout,
    Strategy,
    StrategyChange,
    StrategyVersion,
)
from risk.decisions.report_models import Backtest, BacktestChange, RejectionStatistics
from risk.derived_features.models import DerivedFeature, DerivedFeatureVersion
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
from risk.pricing.models import (
    LimitModel,
    LimitModelChange,
    LimitModelVersion,
    PricingModel,
    PricingModelChange,
    PricingModelVersion,
)
from risk.providers.models import ProviderCacheEntry, ProviderCall
from risk.rules.models import (
    Rule,
    RuleSet,
    RuleSetMember,
    RuleSetVersion,
    RuleSetVersionMember,
    RuleVersion,
)

__all__ = [
    "Backtest",
    "BacktestChange",
    "Decision",
    "DecisionJob",
    "DecisionLayout",
    "DerivedFeature",
    "DerivedFeatureVersion",
    "HouseholdFeatures",
    "HouseholdScore",
    "LimitModel",
    "LimitModelChange",
    "LimitModelVersion",
    "MonitoringRun",
    "PricingModel",
    "PricingModelChange",
    "PricingModelVersion",
    "ProviderCacheEntry",
    "ProviderCall",
    "RejectionStatistics",
    "RiskListEntry",
    "RiskListEntryChange",
    "Rule",
    "RuleSet",
    "RuleSetMember",
    "RuleSetVersion",
    "RuleSetVersionMember",
    "RuleVersion",
    "Scorecard",
    "ScorecardBin",
    "ScorecardStatusChange",
    "ScorecardTraining",
    "ScoringChunk",
    "ScoringJob",
    "ScoringSegment",
    "Strategy",
    "StrategyChange",
    "StrategyVersion",
]
