"""Replay (决策重放): run a stored decision again from its snapshot and the versions it names.

Nothing is looked up as it is today: the strategy version, the rule set versions, the scorecards,
the limit and pricing model versions, the product's version chain (even one retired since) and
the LPR are the stored ones, the features and external answers come from the input snapshot,
and the list level and provider problems are the ones recorded. Writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from products.selectors import product_terms_of_chain
from risk.decisions.definition import EXTERNAL, LIMIT, PRICING, flow_parse
from risk.decisions.engine import EngineInputs, Resolved, strategy_run
from risk.decisions.models import Decision
from risk.decisions.reasons import provider_problems_catalogue
from risk.external_features import EXTERNAL_FEATURE_NAMES
from risk.models.scorecards import Scorecard
from risk.rules.evaluation import rule_set_compile
from risk.scoring import PointsTable

COMPARED = (
    "outcome",
    "primary_reason",
    "reason_codes",
    "approval_levels",
    "limit_amount",
    "rate",
    "score",
    "grade",
    "probability_of_default",
    "rule_hits",
    "provider_problems",
    "limit_problem",
    "rate_problem",
)


@dataclass(frozen=True)
class ReplayResult:
    decision_id: int
    identical: bool
    stored: dict
    replayed: dict
    differences: tuple[str, ...]


def _inputs(decision: Decision) -> tuple[EngineInputs, dict]:
    names = decision.layout.names
    values = np.frombuffer(bytes(decision.inputs), dtype="<f8")
    features = {name: np.array([values[i]]) for i, name in enumerate(names)}
    tables = {}
    for card_id in (decision.scorecard_id, decision.challenger_scorecard_id):
        if card_id:
            tables[card_id] = PointsTable.load(Scorecard.objects.get(pk=card_id))
    requested = np.nan if decision.requested_amount is None else float(decision.requested_amount)
    inputs = EngineInputs(
        features=features,
        scorecards=np.array([decision.scorecard_id or 0], dtype=np.int64),
        tables=tables,
        list_severity=np.array([decision.list_level], dtype=np.int8),
        list_override=np.array([decision.list_override]),
        subject_problem=np.array([decision.subject_problem], dtype=np.uint8),
        requested_amount=np.array([requested]),
        challengers=np.array([decision.challenger_scorecard_id or 0], dtype=np.int64),
    )
    return inputs, features


def decision_replay(decision: Decision) -> ReplayResult:
    from risk.decisions.services import Prepared, decision_fields

    flow = flow_parse(decision.strategy_version.definition)
    terms = product_terms_of_chain(version_ids=decision.product_chain)
    resolved = Resolved(
        rule_sets=tuple(rule_set_compile(v) for v in decision.rule_set_versions),
        limit_version=decision.limit_model_version,
        pricing_version=decision.pricing_model_version,
        terms=terms,
        lpr=decision.lpr,
    )
    external = flow.first(EXTERNAL)
    sources = tuple(external.params["sources"]) if external else ()
    inputs, features = _inputs(decision)

    def hook(alive):
        columns = {name: features[name] for name in EXTERNAL_FEATURE_NAMES}
        problems = np.zeros((1, len(sources)), dtype=np.uint8)
        catalogue = provider_problems_catalogue() if decision.provider_problems else ()
        for index in decision.provider_problems:
            code = catalogue[index][0]
            column = next(j for j, s in enumerate(sources) if code.startswith(s + "_"))
            problems[0, column] = index
        return columns, problems

    result = strategy_run(flow, resolved, inputs, external=hook, sources=sources)
    prepared = Prepared(
        decision.strategy_version, flow, resolved, tuple(decision.rule_set_versions), sources
    )
    replayed = decision_fields(
        result,
        0,
        prepared,
        limit_ran=flow.first(LIMIT) is not None,
        pricing_ran=flow.first(PRICING) is not None,
    )
    stored = {name: getattr(decision, name) for name in COMPARED}
    replayed = {name: replayed[name] for name in COMPARED}
    differences = tuple(name for name in COMPARED if stored[name] != replayed[name])
    return ReplayResult(decision.pk, not differences, stored, replayed, differences)
