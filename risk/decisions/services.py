"""Writes of decision flows and decisions.

Strategies are versioned with the maker-checker of the limit and pricing models
(``risk.pricing.services``): ``strategy_create`` makes a strategy and its first draft,
``strategy_version_derive`` a new draft from the latest version, ``…_update`` edits a draft,
``…_submit`` hands it to a second person who ``…_activate``s it or ``…_send_back``s it.

``decision_make`` decides one application now and stores the immutable decision;
``decision_what_if`` does the same for an account manager's trial, stored and marked so that no
credit line is ever granted from it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from common.clock import business_today
from products.selectors import product_terms_effective
from risk.decisions.definition import (
    EXTERNAL,
    LIMIT,
    PRICING,
    RULE_SET,
    Flow,
    default_definition,
    external_sources_before,
    features_needing_sources,
    flow_parse,
)
from risk.decisions.engine import (
    OUTCOME_NAMES,
    EngineResult,
    Resolved,
    strategy_run,
)
from risk.decisions.inputs import Applicant, applicant_gather, layout_id, snapshot_bytes
from risk.decisions.models import (
    Decision,
    DecisionKind,
    Strategy,
    StrategyChange,
    StrategyVersion,
)
from risk.decisions.reasons import provider_problem_index
from risk.decisions.selectors import rule_set_version_current, strategy_version_effective
from risk.external_features import EXTERNAL_FEATURE_NAMES
from risk.pricing import services as versioning
from risk.pricing.models import LimitModel, PricingModel
from risk.pricing.rates import rate_from_units
from risk.pricing.selectors import decision_lpr, limit_model_effective, pricing_model_effective
from risk.rules.evaluation import rule_set_compile
from risk.rules.models import RuleCategory, RuleSet

FEN = Decimal("0.01")
PD_PLACES = Decimal("0.000001")
UNSET: Any = object()


# --- the flow's references -----------------------------------------------------------------------


def strategy_definition_check(definition: Any) -> Flow:
    """The flow of ``definition`` with every reference checked: rule sets exist and are
    published, anti-fraud and admission sets sit in rule-set nodes, each external feature a rule
    set reads is asked for by an earlier external node, limit and pricing models exist."""
    flow = flow_parse(definition)
    for node in flow.nodes:
        if node.kind == RULE_SET:
            code = node.params["rule_set"]
            rule_set = RuleSet.objects.filter(code=code).order_by("owner_id").first()
            if rule_set is None:
                raise ValidationError({"definition": f"{node.label}：规则集“{code}”不存在"})
            if rule_set.category == RuleCategory.POST_LOAN:
                raise ValidationError(
                    {"definition": f"{node.label}：贷后预警规则集不能用于贷前决策"}
                )
            version = rule_set.versions.order_by("-version").first()
            if version is None:
                raise ValidationError(
                    {"definition": f"{node.label}：规则集“{code}”尚未发布任何版本"}
                )
            needed = features_needing_sources(set(rule_set_compile(version).inputs))
            asked = external_sources_before(flow, node)
            missing = sorted({source for source in needed.values() if source not in asked})
            if missing:
                from risk.external_features import EXTERNAL_SOURCES

                names = "、".join(EXTERNAL_SOURCES[s] for s in missing)
                raise ValidationError(
                    {
                        "definition": f"{node.label}：规则读取{names}的数据，"
                        "但此前没有查询该数据源的外部数据节点"
                    }
                )
        elif node.kind in (LIMIT, PRICING) and node.params.get("model"):
            model = LimitModel if node.kind == LIMIT else PricingModel
            if not model.objects.filter(code=node.params["model"]).exists():
                raise ValidationError(
                    {"definition": f"{node.label}：模型“{node.params['model']}”不存在"}
                )
    return flow


def _clean_definition(values: Mapping[str, Any]) -> tuple[Any, dict]:
    try:
        strategy_definition_check(values.get("definition"))
    except ValidationError as exc:
        return None, exc.message_dict
    return values.get("definition"), {}


STRATEGY = versioning.VersionKind(
    model=Strategy,
    version=StrategyVersion,
    change=StrategyChange,
    label="决策流",
    fields=("definition",),
    clean=_clean_definition,
    to_fields=lambda definition: {"definition": definition},
    manage_perm="risk.change_strategyversion",
    activate_perm="risk.activate_strategyversion",
)


@transaction.atomic
def strategy_create(
    *,
    actor,
    code: str,
    name: str,
    definition: Mapping[str, Any],
    products: Sequence = (),
    **kwargs,
) -> StrategyVersion:
    """A new strategy with its first draft (owner: the actor's bank, or the federation)."""
    version = versioning.versioned_model_create(
        STRATEGY, actor=actor, code=code, name=name, parameters={"definition": definition}, **kwargs
    )
    if products:
        version.model.products.set(products)
    return version


@transaction.atomic
def strategy_products_set(*, strategy: Strategy, actor, products: Sequence) -> Strategy:
    versioning.version_check_can_act(STRATEGY, actor, strategy.owner_id, perm=STRATEGY.manage_perm)
    strategy.products.set(products)
    return strategy


@transaction.atomic
def strategy_version_derive(*, strategy: Strategy, actor, change_note: str = ""):
    return versioning.version_derive(STRATEGY, model=strategy, actor=actor, change_note=change_note)


@transaction.atomic
def strategy_version_update(*, version: StrategyVersion, actor, definition, **kwargs):
    return versioning.version_update(
        STRATEGY, version=version, actor=actor, parameters={"definition": definition}, **kwargs
    )


@transaction.atomic
def strategy_version_submit(*, version: StrategyVersion, actor):
    return versioning.version_submit(STRATEGY, version=version, actor=actor)


@transaction.atomic
def strategy_version_send_back(*, version: StrategyVersion, actor, reason: str):
    return versioning.version_send_back(STRATEGY, version=version, actor=actor, reason=reason)


@transaction.atomic
def strategy_version_activate(*, version: StrategyVersion, actor):
    return versioning.version_activate(STRATEGY, version=version, actor=actor)


DEFAULT_STRATEGY = {"code": "FED_DEFAULT_FLOW", "name": "省联社默认决策流"}
DEFAULT_EFFECTIVE_FROM = date(2020, 1, 1)


@transaction.atomic
def strategy_defaults_ensure() -> StrategyVersion:
    """The federation's default strategy, active from 2020 (idempotent; a seeded version names
    no people, as the seeded limit and pricing models do). Called by the data migration's
    successors: ``seed_demo`` and anything that empties the tables (tests)."""
    strategy, created = Strategy.objects.get_or_create(
        code=DEFAULT_STRATEGY["code"],
        defaults={**DEFAULT_STRATEGY, "owner": None, "is_default": True},
    )
    if not created:
        existing = strategy.versions.activated().order_by("-effective_from", "-number").first()
        if existing is not None:
            return existing
    definition = default_definition()
    strategy_definition_check(definition)
    now = timezone.now()
    version = StrategyVersion.objects.create(
        model=strategy,
        number=(strategy.versions.count() + 1),
        status="active",
        effective_from=DEFAULT_EFFECTIVE_FROM,
        change_note="系统预置",
        definition=definition,
        submitted_at=now,
        activated_at=now,
    )
    StrategyChange.objects.create(
        version=version, action="seed", from_status="", to_status="active", reason="系统预置"
    )
    return version


# --- running a strategy ----------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A strategy version resolved for one bank on one date: what a run needs besides inputs."""

    version: StrategyVersion
    flow: Flow
    resolved: Resolved
    rule_set_version_ids: tuple[int, ...]
    sources: tuple[str, ...]


def strategy_prepare(*, version: StrategyVersion, bank_id: int, terms, on_date: date) -> Prepared:
    flow = flow_parse(version.definition)
    rule_sets, ids = [], []
    for node in flow.of_kind(RULE_SET):
        current = rule_set_version_current(code=node.params["rule_set"], bank_id=bank_id)
        if current is None:
            raise ValidationError(
                {"strategy": f"{node.label}：规则集“{node.params['rule_set']}”没有已发布的版本"}
            )
        rule_sets.append(rule_set_compile(current.pk))
        ids.append(current.pk)
    limit_version = pricing_version = None
    if flow.first(LIMIT) is not None:
        limit_version = _model_version(flow.first(LIMIT), LimitModel, bank_id, on_date)
    if flow.first(PRICING) is not None:
        pricing_version = _model_version(flow.first(PRICING), PricingModel, bank_id, on_date)
    resolved = Resolved(
        rule_sets=tuple(rule_sets),
        limit_version=limit_version,
        pricing_version=pricing_version,
        terms=terms,
        lpr=decision_lpr(terms=terms, on_date=on_date),
    )
    external = flow.first(EXTERNAL)
    sources = tuple(external.params["sources"]) if external else ()
    return Prepared(version, flow, resolved, tuple(ids), sources)


# What a decision resolves before it reads the applicant (product terms, strategy version, rule
# set versions, limit and pricing model versions, LPR: nine queries) is the same for every
# application of a product at a bank on a day, so it is kept per process for a few seconds, as
# the scorecards are (``risk.scoring.LOOKUP_SECONDS``). A change saved in this process clears it
# at once (``risk.decisions.apps``' signal handlers); other processes see it within the delay.
RESOLUTION_SECONDS = 5.0
_RESOLVED: dict[tuple[int, int, date], tuple[float, Prepared]] = {}


def clear_prepared_cache(**_kwargs) -> None:
    _RESOLVED.clear()


def prepared_for(*, product, bank_id: int, on_date: date) -> Prepared:
    """The strategy a decision on ``product`` for ``bank_id`` runs on ``on_date``, resolved."""
    key, now = (product.pk, bank_id, on_date), time.monotonic()
    cached = _RESOLVED.get(key)
    if cached is not None and now - cached[0] < RESOLUTION_SECONDS:
        return cached[1]
    terms = product_terms_effective(product=product, on_date=on_date, bank_id=bank_id)
    version = strategy_version_effective(product=product, bank_id=bank_id, on_date=on_date)
    if version is None:
        raise ValidationError({"product": f"产品“{product.name}”在 {on_date} 没有生效的决策流"})
    prepared = strategy_prepare(version=version, bank_id=bank_id, terms=terms, on_date=on_date)
    _RESOLVED[key] = (now, prepared)
    return prepared


def _model_version(node, model, bank_id, on_date):
    code = node.params.get("model")
    if code:
        found = (
            model.objects.get(code=code)
            .versions.activated()
            .filter(effective_from__lte=on_date)
            .order_by("-effective_from", "-number")
            .first()
        )
    else:
        effective = limit_model_effective if model is LimitModel else pricing_model_effective
        found = effective(bank_id=bank_id, on_date=on_date)
    if found is None:
        raise ValidationError({"strategy": f"{node.label}：{on_date} 没有生效的模型版本"})
    return found


def external_columns_empty(n: int) -> dict[str, np.ndarray]:
    return {name: np.full(n, np.nan) for name in EXTERNAL_FEATURE_NAMES}


def _money(value: float | None) -> Decimal | None:
    if value is None or value != value:
        return None
    return Decimal(repr(float(value))).quantize(FEN, ROUND_HALF_UP)


def decision_fields(
    result: EngineResult, row: int, prepared: Prepared, *, limit_ran: bool, pricing_ran: bool
) -> dict[str, Any]:
    """The stored fields of row ``row`` of a run (the batch formats the same values as text)."""
    score = result.score[row]
    problems = result.provider_problems[row]
    return {
        "outcome": OUTCOME_NAMES[int(result.outcome[row])],
        "primary_reason": result.primary[row],
        "reason_source": result.primary_source[row],
        "reason_codes": list(result.reasons[row]),
        "approval_levels": list(result.approval_levels[row]),
        "limit_amount": Decimal(int(result.limit[row])) if limit_ran else None,
        "rate": rate_from_units(int(result.rate_units[row]))
        if pricing_ran and result.rate_problem[row] == 0 and result.grade[row] is not None
        else None,
        "score": None if score != score else _money(score),
        "grade": result.grade[row] or "",
        "probability_of_default": None
        if result.probability_of_default[row] != result.probability_of_default[row]
        else Decimal(repr(float(result.probability_of_default[row]))).quantize(
            PD_PLACES, ROUND_HALF_UP
        ),
        "challenger_score": _money(result.challenger_score[row]),
        "challenger_grade": result.challenger_grade[row] or "",
        "rule_hits": list(result.rule_hits[row]),
        "provider_problems": [int(p) for p in problems.tolist() if p],
        "limit_problem": int(result.limit_problem[row]),
        "rate_problem": int(result.rate_problem[row]),
    }


def _external_hook(applicant: Applicant, prepared: Prepared, *, bank_id, household, purpose, actor):
    def hook(alive: np.ndarray):
        from risk.providers.base import Subject
        from risk.providers.services import external_data_fetch

        columns = external_columns_empty(1)
        problems = np.zeros((1, len(prepared.sources)), dtype=np.uint8)
        if applicant.id_number is None or not alive[0]:
            return columns, problems
        answer = external_data_fetch(
            bank_id=bank_id,
            subject=Subject(id_number=applicant.id_number, phone=applicant.phone),
            purpose=purpose,
            asked_by=actor,
            sources=prepared.sources,
            household_id=household.pk,
            member_id=applicant.member.pk if applicant.member else None,
            subject_hash=bytes(applicant.member.id_number_hash) if applicant.member else None,
        )
        for name, value in answer.features.items():
            if name in columns:
                columns[name][0] = np.nan if value is None else float(value)
        for source, code, _text in answer.problems:
            problems[0, prepared.sources.index(source)] = provider_problem_index(code)
        return columns, problems

    return hook


def _decide(
    *,
    kind: int,
    household,
    product,
    member=None,
    requested_amount=None,
    actor=None,
    device_id: str = "",
    list_override: bool = False,
    on_date: date | None = None,
) -> Decision:
    if list_override and not (actor is not None and actor.has_perm("risk.override_list_restrict")):
        raise ValidationError({"list_override": "只有风险经理可以豁免限制级黑名单"})
    if member is not None and member.household_id != household.pk:
        raise ValidationError({"member": "申请人不是该农户的成员"})
    if requested_amount is not None:
        requested_amount = Decimal(str(requested_amount))
        if not requested_amount.is_finite() or requested_amount <= 0:
            raise ValidationError({"requested_amount": "申请金额必须大于0"})
    on_date = on_date or business_today()
    bank_id = household.bank_id
    prepared = prepared_for(product=product, bank_id=bank_id, on_date=on_date)
    terms = prepared.resolved.terms
    applicant = applicant_gather(
        household=household,
        member=member,
        terms=terms,
        on_date=on_date,
        requested_amount=requested_amount,
        device_id=device_id,
        list_override=list_override,
    )
    purpose = "what_if" if kind == DecisionKind.WHAT_IF else "application"
    result = strategy_run(
        prepared.flow,
        prepared.resolved,
        applicant.inputs,
        external=_external_hook(
            applicant, prepared, bank_id=bank_id, household=household, purpose=purpose, actor=actor
        ),
        sources=prepared.sources,
    )
    fields = decision_fields(
        result,
        0,
        prepared,
        limit_ran=prepared.flow.first(LIMIT) is not None,
        pricing_ran=prepared.flow.first(PRICING) is not None,
    )
    inputs = applicant.inputs
    return _insert(
        kind=kind,
        bank_id=bank_id,
        branch_id=household.village.branch_id if household.village_id else None,
        household=household,
        member=applicant.member,
        product=product,
        product_version_id=terms.version_id,
        product_chain=list(terms.version_ids),
        strategy_version=prepared.version,
        decision_date=on_date,
        decided_at=timezone.now(),
        decided_by=actor if actor is not None and actor.is_authenticated else None,
        requested_amount=requested_amount,
        scorecard_id=int(inputs.scorecards[0]) or None,
        challenger_scorecard_id=applicant.challenger_id or None,
        rule_set_versions=list(prepared.rule_set_version_ids),
        list_level=int(inputs.list_severity[0]),
        list_entries=list(applicant.list_entries),
        list_override=bool(inputs.list_override[0]),
        subject_problem=int(inputs.subject_problem[0]),
        limit_model_version=prepared.resolved.limit_version,
        pricing_model_version=prepared.resolved.pricing_version,
        lpr=prepared.resolved.lpr,
        layout_id=layout_id(),
        inputs=snapshot_bytes(result.features, 0),
        device_id=device_id or "",
        **fields,
    )


# Values psycopg2 sends as they are, with the meaning Django's preparation would give them (for
# these types ``get_db_prep_save`` returns its argument on PostgreSQL); anything else (a numpy
# scalar, a model instance, a list of other things) still goes through the field.
_SENT_AS_IS = frozenset({int, str, bool, Decimal, date, datetime, bytes, uuid.UUID, type(None)})


def _prepared(field, value):
    kind = type(value)
    if kind in _SENT_AS_IS:
        return value
    if kind is list and all(type(item) in (int, str) for item in value):
        return value
    return field.get_db_prep_save(value, connection)


def _insert(**values) -> Decision:
    """One INSERT, the row built here rather than by ``Model.save``, whose per-field preparation
    was a tenth of a decision's time; the instance returned is the row written."""
    decision = Decision(**values)
    columns, params = [], []
    for field in Decision._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        params.append(_prepared(field, getattr(decision, field.attname)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Decision._meta.db_table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
            params,
        )
        decision.pk = cursor.fetchone()[0]
    decision._state.adding = False
    return decision


def decision_make(
    *,
    household,
    product,
    actor=None,
    member=None,
    requested_amount=None,
    device_id: str = "",
    list_override: bool = False,
) -> Decision:
    """Decide one application now (lending's origination calls this) and store it."""
    return _decide(
        kind=DecisionKind.APPLICATION,
        household=household,
        product=product,
        member=member,
        requested_amount=requested_amount,
        actor=actor,
        device_id=device_id,
        list_override=list_override,
    )


def decision_what_if(*, household, product, actor, member=None, requested_amount=None) -> Decision:
    """An account manager's trial (试算): decided and stored like an application, marked
    what-if, never used for a credit line (``Decision.objects.for_lines`` leaves it out)."""
    return _decide(
        kind=DecisionKind.WHAT_IF,
        household=household,
        product=product,
        member=member,
        requested_amount=requested_amount,
        actor=actor,
    )
