"""The decision engine: a strategy's flow over columns of applicants.

One application is a column of length one, so an online decision, a campaign of a million
households, a replay and a back-test all run this one function and cannot disagree.

Nodes run in the flow's order. Each adds reasons (a code, the outcome it asks for, and the
source the rejection statistics count it under) to the rows it concerns; a row's outcome is the
most severe reason it collected (REJECT > REFER > APPROVE). External data are asked only for rows
no earlier node has rejected (a credit report costs money); a row rejected later keeps the
answers it was given. The outcome node then applies the product's amount rules: an amount above
the model's limit, or above the product's automatic-approval limit, is referred, and a referred
row gets the approval levels of its amount band (``ProductTerms.approval_levels_for``) raised to
what its reasons require (``refer_levels`` of the outcome node, by reason code).

Bad input is an outcome, never an exception: an applicant without a valid ID number, a household
without an archive, a provider that timed out, a limit the formula could not compute each add a
named REFER or REJECT reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from products.models import ApprovalLevel
from risk.decisions.definition import (
    EXTERNAL,
    LIMIT,
    LISTS,
    OUTCOME,
    PRICING,
    RULE_SET,
    SCORECARD,
    Flow,
)
from risk.pricing.limits import LIMIT_PROBLEMS, limits_for_columns
from risk.pricing.rates import RATE_PROBLEMS, rates_for_columns
from risk.rules.evaluation import (
    CompiledRuleSet,
    rule_set_evaluate_columns,
    rule_set_evaluate_row,
)
from risk.rules.models import OUTCOME_SEVERITY, RuleOutcome
from risk.scoring import PointsTable

APPROVE, REFER, REJECT = 0, 1, 2
OUTCOME_NAMES = ("approve", "refer", "reject")
_SEVERITY_OF_RULE = {RuleOutcome.FLAG: -1, RuleOutcome.REFER: REFER, RuleOutcome.REJECT: REJECT}
LEVEL_ORDER = tuple(ApprovalLevel.values)  # branch → central review → approval centre

# Where a reason comes from, as the rejection statistics count it (the Linfen table first).
REASON_SOURCES = {
    "credit_report": "征信",
    "court": "法院限高",
    "dishonest": "失信被执行人",
    "antifraud": "外部反欺诈",
    "borrowing": "互联网借贷",
    "internal": "行内规则",
    "list": "风险名单",
    "data": "数据缺失或异常",
    "scorecard": "评分评级",
    "limit": "额度与金额",
}

# The reasons the engine gives itself: code → (中文原因, source). Rules bring their own.
SUBJECT_PROBLEMS: tuple[tuple[str, str] | None, ...] = (
    None,
    ("SUBJECT_NO_HEAD", "农户未登记户主，无法确定申请人"),
    ("SUBJECT_ID_INVALID", "申请人身份证号无效，无法核实身份"),
    ("SUBJECT_NO_ARCHIVE", "缺少经济档案"),
)
SUBJECT_NO_HEAD, SUBJECT_ID_INVALID, SUBJECT_NO_ARCHIVE = 1, 2, 3
ENGINE_REASONS: dict[str, tuple[str, str]] = {
    "SUBJECT_NO_HEAD": (SUBJECT_PROBLEMS[1][1], "internal"),
    "SUBJECT_ID_INVALID": (SUBJECT_PROBLEMS[2][1], "internal"),
    "SUBJECT_NO_ARCHIVE": (SUBJECT_PROBLEMS[3][1], "data"),
    "LIST_PROHIBIT": ("命中黑名单(禁止级)", "list"),
    "LIST_RESTRICT": ("命中黑名单(限制级)，未经风险经理豁免", "list"),
    "LIST_RESTRICT_OVERRIDDEN": ("命中黑名单(限制级)，风险经理已豁免，需人工审批", "list"),
    "LIST_GREY": ("命中灰名单，需人工审查", "list"),
    "NO_SCORECARD": ("没有可用的评分卡，无法评级", "scorecard"),
    "GRADE_REJECT": ("信用评级不满足准入要求", "scorecard"),
    "GRADE_REFER": ("信用评级需人工审查", "scorecard"),
    "NO_LIMIT": ("测算额度为零(评级、评议结论或产品金额下限所致)", "limit"),
    "REQUESTED_OVER_LIMIT": ("申请金额超过模型测算额度", "limit"),
    "OVER_AUTO_APPROVE": ("金额超过产品自动审批权限，需人工审批", "limit"),
}
for _problem in LIMIT_PROBLEMS[1:]:
    ENGINE_REASONS[_problem[0]] = (_problem[1], "data")
for _problem in RATE_PROBLEMS[1:]:
    ENGINE_REASONS[_problem[0]] = (_problem[1], "data")


ExternalHook = Callable[[np.ndarray], tuple[dict[str, np.ndarray], np.ndarray]]


@dataclass
class EngineInputs:
    """What the engine reads, as columns of ``n`` rows.

    ``features``: every catalogue feature the flow may read (household, application context;
    external ones are filled by the external node), float64, NaN missing. ``scorecards``: the
    champion's id per row (0: none) and ``tables`` their points tables; ``challengers`` likewise
    (0: not in the challenger's shadow share). ``list_severity``: 0 none, 1 grey, 2 restrict,
    3 prohibit (``risk.lists``). ``requested_amount``: NaN when the decision is a campaign's
    pre-approval (the amount is then the limit)."""

    features: dict[str, np.ndarray]
    scorecards: np.ndarray
    tables: Mapping[int, PointsTable]
    list_severity: np.ndarray
    list_override: np.ndarray
    subject_problem: np.ndarray
    requested_amount: np.ndarray
    challengers: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.scorecards)


@dataclass(frozen=True)
class Resolved:
    """The versions a run uses (looked up once per decision or batch; a replay gives the stored
    ones): the compiled rule set of each rule-set node in flow order, the limit and pricing model
    versions, the product's terms and the LPR of the decision date."""

    rule_sets: tuple[CompiledRuleSet, ...]
    limit_version: object | None
    pricing_version: object | None
    terms: object
    lpr: Decimal | None


@dataclass
class EngineResult:
    outcome: np.ndarray  # int8: APPROVE / REFER / REJECT
    reasons: list[tuple[str, ...]]  # per row, flow order
    primary: list[str]
    primary_source: list[str]
    approval_levels: list[tuple[str, ...]]
    rule_hits: list[tuple[int, ...]]
    features: dict[str, np.ndarray]  # with the external answers as used
    provider_problems: np.ndarray  # (n, sources) uint8 indexes of the providers' problems
    score: np.ndarray
    grade: np.ndarray  # object: str or None
    probability_of_default: np.ndarray
    challenger_score: np.ndarray
    challenger_grade: np.ndarray
    limit: np.ndarray  # int64 yuan
    limit_problem: np.ndarray
    rate_units: np.ndarray  # int64, rate × 10,000 (``risk.pricing.rates.rate_from_units``)
    rate_problem: np.ndarray
    amount: np.ndarray  # float64 yuan: the amount approved or referred (NaN: none)
    hit_texts: dict[str, str] = field(default_factory=dict)  # rule reason code → 中文原因


class _Reasons:
    """Reasons collected in flow order: per reason, the rows it applies to."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.masks: list[np.ndarray] = []
        self.codes: list[str] = []
        self.severities: list[int] = []
        self.sources: list[str] = []
        self.outcome = np.zeros(size, dtype=np.int8)

    def add(self, rows: np.ndarray, code: str, severity: int, source: str) -> None:
        if not rows.any():
            return
        self.masks.append(rows)
        self.codes.append(code)
        self.severities.append(severity)
        self.sources.append(source)
        if severity > 0:
            np.maximum(self.outcome, np.int8(severity), out=self.outcome, where=rows)

    def engine(self, rows: np.ndarray, code: str, severity: int) -> None:
        self.add(rows, code, severity, ENGINE_REASONS[code][1])

    def per_row(self) -> tuple[list[tuple[str, ...]], list[str], list[str]]:
        n = self.size
        reasons: list[tuple[str, ...]] = [()] * n
        primary = [""] * n
        source = [""] * n
        if not self.masks:
            return reasons, primary, source
        matrix = np.stack(self.masks, axis=1)
        rows, cols = np.nonzero(matrix)
        if not len(rows):
            return reasons, primary, source
        bounds = np.flatnonzero(np.diff(rows)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(rows)]))
        codes, severities, sources = self.codes, self.severities, self.sources
        outcome = self.outcome
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            row = int(rows[start])
            picked = cols[start:end].tolist()
            reasons[row] = tuple(codes[c] for c in picked)
            final = int(outcome[row])
            if final:
                first = next(c for c in picked if severities[c] == final)
                primary[row] = codes[first]
                source[row] = sources[first]
        return reasons, primary, source


def _score(inputs: EngineInputs, ids: np.ndarray, features: Mapping[str, np.ndarray]):
    n = inputs.size
    score = np.full(n, np.nan)
    probability = np.full(n, np.nan)
    grade = np.full(n, None, dtype=object)
    for card_id in np.unique(ids).tolist():
        if card_id == 0:
            continue
        rows = ids == card_id
        table = inputs.tables[card_id]
        if n == 1:  # one application: the bins' scalar lookup, equal to the column's
            values = [float(features[f][0]) for f in table.features]
            positions = np.array(
                [[b.position_of(v) for b, v in zip(table.bins, values, strict=True)]],
                dtype=np.intp,
            )
        else:
            positions = table.bin_positions(
                np.column_stack([features[f][rows] for f in table.features])
            )
        points = table.points_at(positions)
        scores = points.sum(axis=1)
        score[rows] = scores
        grade[rows] = np.asarray(table.grades(scores), dtype=object)
        probability[rows] = table.probabilities_of_default(scores)
    return score, grade, probability


def _rule_set_hits(compiled: CompiledRuleSet, features: Mapping[str, np.ndarray], n: int):
    """``(hit, rows it fired on)`` per rule of the set. One application takes the rule
    language's row path (compiled closures: a few microseconds a rule, where each numpy step
    over a column of one costs more than the comparison); the two paths give the same hits row
    for row, as ``tests/risk/rules`` proves on random rows."""
    if n != 1:
        evaluated = rule_set_evaluate_columns(compiled, features)
        return [
            (rule.hit, fired) for rule, fired in zip(evaluated.rules, evaluated.hits, strict=True)
        ]
    row = {}
    for name in compiled.inputs:
        value = float(features[name][0]) if name in features else math.nan
        row[name] = None if value != value else value
    fired_positions = {hit.position for hit in rule_set_evaluate_row(compiled, row)}
    yes, no = np.ones(1, dtype=bool), np.zeros(1, dtype=bool)
    return [
        (rule.hit, yes if rule.hit.position in fired_positions else no) for rule in compiled.rules
    ]


def _approval_levels(terms, amount: np.ndarray, required: np.ndarray) -> list[tuple[str, ...]]:
    """Per row: the levels of its amount band, then any higher level its reasons require."""
    bands = list(terms.approval_bands or ())
    band_index = np.full(len(amount), max(len(bands) - 1, 0), dtype=np.int64)
    if bands:
        limits = np.array([float(b["up_to"]) for b in bands])
        found = np.searchsorted(limits, np.nan_to_num(amount, nan=0.0), side="left")
        band_index = np.minimum(found, len(bands) - 1)
    cache: dict[tuple[int, int], tuple[str, ...]] = {}
    levels = []
    for band, need in zip(band_index.tolist(), required.tolist(), strict=True):
        key = (band, need)
        if key not in cache:
            own = tuple(bands[band]["levels"]) if bands else ()
            top = max((LEVEL_ORDER.index(x) for x in own if x in LEVEL_ORDER), default=-1)
            extra = tuple(LEVEL_ORDER[top + 1 : need + 1]) if need > top else ()
            cache[key] = own + extra if (own or extra) else (LEVEL_ORDER[0],)
        levels.append(cache[key])
    return levels


def strategy_run(
    flow: Flow,
    resolved: Resolved,
    inputs: EngineInputs,
    *,
    external: ExternalHook | None,
    sources: Sequence[str] = (),
) -> EngineResult:
    """Run ``flow`` over ``inputs``. ``external(rows)`` answers the external node for the rows
    still alive (a bool mask): ``(columns, problems)`` with columns of length ``n`` (NaN where
    not asked) and ``problems`` an ``(n, len(sources))`` uint8 array of the providers' problem
    indexes; ``provider_problem_text``/``_code`` turn them into reasons."""
    from risk.decisions.reasons import provider_problem  # the providers' catalogue of problems

    n = inputs.size
    features = dict(inputs.features)
    reasons = _Reasons(n)
    rule_hits: list[list[int]] = [[] for _ in range(n)]
    hit_texts: dict[str, str] = {}
    problems = np.zeros((n, len(sources)), dtype=np.uint8)
    score = np.full(n, np.nan)
    probability = np.full(n, np.nan)
    grade = np.full(n, None, dtype=object)
    challenger_score = np.full(n, np.nan)
    challenger_grade = np.full(n, None, dtype=object)
    limit = np.zeros(n, dtype=np.int64)
    limit_problem = np.zeros(n, dtype=np.uint8)
    rate_units = np.zeros(n, dtype=np.int64)
    rate_problem = np.zeros(n, dtype=np.uint8)
    amount = np.full(n, np.nan)
    refer_required = np.full(n, -1, dtype=np.int64)
    levels: list[tuple[str, ...]] = [()] * n

    subject = inputs.subject_problem
    # An applicant who cannot be identified, or a household without an archive, is not rated:
    # a score over missing data would only add a misleading grade to the named reason.
    cards = np.where(subject == 0, inputs.scorecards, 0)
    graded = cards != 0
    reasons.engine(subject == SUBJECT_NO_HEAD, "SUBJECT_NO_HEAD", REJECT)
    reasons.engine(subject == SUBJECT_ID_INVALID, "SUBJECT_ID_INVALID", REJECT)
    reasons.engine(subject == SUBJECT_NO_ARCHIVE, "SUBJECT_NO_ARCHIVE", REFER)

    rule_set_index = 0
    outcome_params: Mapping = {}
    for node in flow.nodes:
        if node.kind == LISTS:
            severity = inputs.list_severity
            reasons.engine(severity == 3, "LIST_PROHIBIT", REJECT)
            restricted = severity == 2
            reasons.engine(restricted & ~inputs.list_override, "LIST_RESTRICT", REJECT)
            reasons.engine(restricted & inputs.list_override, "LIST_RESTRICT_OVERRIDDEN", REFER)
            reasons.engine(severity == 1, "LIST_GREY", REFER)
        elif node.kind == EXTERNAL:
            alive = reasons.outcome < REJECT
            if external is not None and alive.any():
                columns, problems = external(alive)
                features.update(columns)
                for j in range(len(sources)):
                    column = problems[:, j]
                    for index in np.unique(column[column > 0]).tolist():
                        code, _text = provider_problem(int(index))
                        reasons.add(column == index, code, REFER, "data")
        elif node.kind == RULE_SET:
            compiled = resolved.rule_sets[rule_set_index]
            for hit, fired in _rule_set_hits(compiled, features, n):
                if not fired.any():
                    continue
                hit_texts[hit.reason_code] = hit.reason_text
                reasons.add(fired, hit.reason_code, _SEVERITY_OF_RULE[hit.outcome], hit.source)
                code = rule_set_index * 1000 + hit.position
                for row in np.flatnonzero(fired).tolist():
                    rule_hits[row].append(code)
            rule_set_index += 1
        elif node.kind == SCORECARD:
            score, grade, probability = _score(inputs, cards, features)
            if inputs.challengers is not None:
                shadow = np.where(subject == 0, inputs.challengers, 0)
                challenger_score, challenger_grade, _ = _score(inputs, shadow, features)
            reasons.engine((subject == 0) & ~graded, "NO_SCORECARD", REFER)
            rejected_grades = set(node.params.get("reject_grades", ()))
            referred_grades = set(node.params.get("refer_grades", ()))
            if rejected_grades:
                reasons.engine(np.isin(grade, list(rejected_grades)), "GRADE_REJECT", REJECT)
            if referred_grades:
                reasons.engine(np.isin(grade, list(referred_grades)), "GRADE_REFER", REFER)
        elif node.kind == LIMIT:
            limit, limit_problem = limits_for_columns(
                resolved.limit_version,
                {
                    "grade": grade,
                    "net_income": features["net_income"],
                    "total_assets": features["total_assets"],
                    "debts": features["debts"],
                    "peer_colour_rank": features["peer_colour_rank"],
                    "peer_suggested_amount": features["peer_suggested_amount"],
                },
                resolved.terms,
            )
            for index in np.unique(limit_problem[graded & (limit_problem > 0)]).tolist():
                code = LIMIT_PROBLEMS[index][0]
                reasons.engine(graded & (limit_problem == index), code, REFER)
            reasons.engine((limit_problem == 0) & (limit == 0) & graded, "NO_LIMIT", REJECT)
        elif node.kind == PRICING:
            rate_units, rate_problem = rates_for_columns(
                resolved.pricing_version,
                {"grade": grade, "peer_colour_rank": features["peer_colour_rank"]},
                resolved.terms,
                lpr=resolved.lpr,
            )
            for index in np.unique(rate_problem[graded & (rate_problem > 0)]).tolist():
                code = RATE_PROBLEMS[index][0]
                reasons.engine(graded & (rate_problem == index), code, REFER)
        elif node.kind == OUTCOME:
            outcome_params = node.params

    requested = inputs.requested_amount
    has_limit = flow.first(LIMIT) is not None
    limit_float = limit.astype(np.float64)
    if has_limit:
        over = ~np.isnan(requested) & (requested > limit_float) & (limit > 0)
        reasons.engine(over, "REQUESTED_OVER_LIMIT", REFER)
        amount = np.where(np.isnan(requested), limit_float, requested)
    else:
        amount = requested.copy()
    auto_limit = float(resolved.terms.auto_approve_limit or 0)
    reasons.engine(
        (reasons.outcome == APPROVE)
        & ~np.isnan(amount)
        & (amount > auto_limit)
        & (auto_limit >= 0),
        "OVER_AUTO_APPROVE",
        REFER,
    )
    per_row, primary, primary_source = reasons.per_row()
    refer_levels = outcome_params.get("refer_levels", {}) or {}
    if refer_levels:
        for code, level in refer_levels.items():
            if code in reasons.codes and level in LEVEL_ORDER:
                rows = reasons.masks[reasons.codes.index(code)]
                np.maximum(refer_required, LEVEL_ORDER.index(level), out=refer_required, where=rows)
    referred = reasons.outcome == REFER
    if referred.any():
        picked = np.flatnonzero(referred)
        band_levels = _approval_levels(resolved.terms, amount[picked], refer_required[picked])
        levels = list(levels)
        for row, value in zip(picked.tolist(), band_levels, strict=True):
            levels[row] = value
    rejected = reasons.outcome == REJECT
    amount = np.where(rejected, np.nan, amount)
    return EngineResult(
        outcome=reasons.outcome,
        reasons=per_row,
        primary=primary,
        primary_source=primary_source,
        approval_levels=levels,
        rule_hits=[tuple(h) for h in rule_hits],
        features=features,
        provider_problems=problems,
        score=score,
        grade=grade,
        probability_of_default=probability,
        challenger_score=challenger_score,
        challenger_grade=challenger_grade,
        limit=limit,
        limit_problem=limit_problem,
        rate_units=rate_units,
        rate_problem=rate_problem,
        amount=amount,
        hit_texts=hit_texts,
    )


OUTCOME_BY_RULE = OUTCOME_SEVERITY  # re-exported for the reason rendering
