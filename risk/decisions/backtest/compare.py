"""The candidate over one chunk of stored decisions, and the two sides counted.

Rows are grouped by what resolves differently (bank, product chain, LPR), each group one
``strategy_run`` with the decision's own answers given to its external node: no provider is
called again. Counts and sums per side are integers (fen, rate units, PD in millionths) so the
averages are exact."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from products.selectors import product_terms_of_chain
from risk.decisions.backtest.snapshots import NONE, Part, primary_reasons
from risk.decisions.definition import LIMIT, PRICING
from risk.decisions.engine import APPROVE, REJECT, EngineInputs, strategy_run
from risk.decisions.inputs import LAYOUT_NAMES
from risk.decisions.models import StrategyVersion
from risk.decisions.reasons import provider_problems_catalogue
from risk.decisions.report_models import CHANGES_LISTED
from risk.decisions.services import Prepared, strategy_prepare
from risk.decisions.statistics import reason_texts_for
from risk.external_features import EXTERNAL_FEATURE_NAMES, EXTERNAL_SOURCES
from risk.models.scorecards import Scorecard
from risk.scoring import PointsTable

OUTCOMES = ("approve", "refer", "reject")  # the engine's codes 0, 1, 2


@dataclass
class Side:
    """Counts and exact integer sums of one side over every chunk."""

    outcomes: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.int64))
    limit_fen: int = 0
    limits: int = 0
    rate_units: int = 0
    rates: int = 0
    pd_millionths: int = 0
    pds: int = 0

    def add(self, outcome, limit, rate, pd) -> None:
        self.outcomes += np.bincount(outcome, minlength=3)[:3]
        approved = outcome == APPROVE
        for values, total, count in (
            (limit[approved], "limit_fen", "limits"),
            (rate[approved], "rate_units", "rates"),
            (pd[approved], "pd_millionths", "pds"),
        ):
            present = values[values != NONE]
            setattr(self, total, getattr(self, total) + int(present.sum()))
            setattr(self, count, getattr(self, count) + len(present))

    def summary(self) -> dict:
        decisions = int(self.outcomes.sum())

        def share(count) -> float | None:
            return round(int(count) / decisions, 6) if decisions else None

        def mean(total: int, count: int, scale: int, places: str) -> str | None:
            if not count:
                return None
            value = Decimal(total) / Decimal(count) / Decimal(scale)
            return str(value.quantize(Decimal(places), ROUND_HALF_UP))

        approved, referred, rejected = (int(c) for c in self.outcomes)
        return {
            "decisions": decisions,
            "approved": approved,
            "referred": referred,
            "rejected": rejected,
            "approval_rate": share(approved),
            "referral_rate": share(referred),
            "rejection_rate": share(rejected),
            "average_limit": mean(self.limit_fen, self.limits, 100, "0.01"),
            "average_rate": mean(self.rate_units, self.rates, 10_000, "0.0001"),
            "expected_bad_rate": mean(self.pd_millionths, self.pds, 1_000_000, "0.000001"),
        }


@dataclass
class Changes:
    """The changed decisions listed in the report (up to ``CHANGES_LISTED``), as columns."""

    ids: list = field(default_factory=list)
    old_outcome: list = field(default_factory=list)
    new_outcome: list = field(default_factory=list)
    old_limit: list = field(default_factory=list)
    new_limit: list = field(default_factory=list)
    old_rate: list = field(default_factory=list)
    new_rate: list = field(default_factory=list)
    old_reason: list = field(default_factory=list)
    new_reason: list = field(default_factory=list)


@dataclass
class Tally:
    """Both sides, the outcome transitions, why decisions change, and the changes listed."""

    baseline: Side = field(default_factory=Side)
    candidate: Side = field(default_factory=Side)
    transitions: np.ndarray = field(default_factory=lambda: np.zeros(9, dtype=np.int64))
    why: Counter = field(default_factory=Counter)
    changes: Changes = field(default_factory=Changes)
    decisions: int = 0
    changed: int = 0

    def add(self, records: np.ndarray, new: ChunkOutcome) -> None:
        """A chunk: its stored columns against the candidate's. A decision changes when its
        outcome does, or, unless rejected either way, its limit or rate."""
        outcome = records["outcome"].astype(np.int64)
        limit = records["limit"].astype(np.int64)
        rate = records["rate"].astype(np.int64)
        self.decisions += len(records)
        self.baseline.add(outcome, limit, rate, records["pd"].astype(np.int64))
        self.candidate.add(new.outcome, new.limit, new.rate, new.pd)
        self.transitions += np.bincount(outcome * 3 + new.outcome, minlength=9)[:9]
        moved = (outcome != new.outcome) | (
            (new.outcome != REJECT) & ((limit != new.limit) | (rate != new.rate))
        )
        rows = np.flatnonzero(moved)
        if not len(rows):
            return
        ids = records["id"][rows].astype(np.int64)
        order = np.argsort(ids, kind="stable")
        rows, ids = rows[order], ids[order]
        old_reasons = primary_reasons(ids)
        self.changed += len(rows)
        room = CHANGES_LISTED - len(self.changes.ids)
        listed = self.changes
        for position, (row, decision_id) in enumerate(
            zip(rows.tolist(), ids.tolist(), strict=True)
        ):
            was, now = int(outcome[row]), int(new.outcome[row])
            old_reason, new_reason = old_reasons.get(decision_id, ""), new.primary[row]
            # Why: the candidate's reason for what it rejects or refers, the stored reason that
            # no longer holds for what it approves; nothing for a limit or rate alone.
            reason = "" if was == now else (old_reason if now == APPROVE else new_reason)
            self.why[(was, now, reason)] += 1
            if position >= room:
                continue
            listed.ids.append(decision_id)
            listed.old_outcome.append(was)
            listed.new_outcome.append(now)
            listed.old_limit.append(int(limit[row]))
            listed.new_limit.append(int(new.limit[row]))
            listed.old_rate.append(int(rate[row]))
            listed.new_rate.append(int(new.rate[row]))
            listed.old_reason.append(old_reason)
            listed.new_reason.append(new_reason)

    def summary(self, rule_texts: Mapping[str, str]) -> dict:
        codes = {code for (_, _, code) in self.why}
        codes |= set(self.changes.old_reason) | set(self.changes.new_reason)
        return {
            "baseline": self.baseline.summary(),
            "candidate": self.candidate.summary(),
            "transitions": self.transitions.reshape(3, 3).tolist(),
            "why": [
                {"from": OUTCOMES[was], "to": OUTCOMES[now], "reason": code, "count": count}
                for (was, now, code), count in sorted(
                    self.why.items(), key=lambda item: (-item[1], item[0])
                )
            ],
            "reason_texts": reason_texts_for(codes, dict(rule_texts)),
        }


class Resolver:
    """What the candidate resolves, once per bank (rule sets, models), product chain (terms)
    and scorecard (points table) for the whole run."""

    def __init__(self, candidate: StrategyVersion, as_of: date) -> None:
        self.candidate = candidate
        self.as_of = as_of
        self._prepared: dict[int, Prepared] = {}
        self._terms: dict[tuple[int, ...], object] = {}
        self.tables: dict[int, PointsTable] = {}

    def terms(self, chain: tuple[int, ...]):
        if chain not in self._terms:
            self._terms[chain] = product_terms_of_chain(version_ids=chain)
        return self._terms[chain]

    def prepared(self, bank_id: int, chain: tuple[int, ...], lpr_units: int) -> Prepared:
        terms = self.terms(chain)
        if bank_id not in self._prepared:
            self._prepared[bank_id] = strategy_prepare(
                version=self.candidate, bank_id=bank_id, terms=terms, on_date=self.as_of
            )
        prepared = self._prepared[bank_id]
        lpr = None if lpr_units == NONE else Decimal(lpr_units).scaleb(-4)
        resolved = dataclasses.replace(prepared.resolved, terms=terms, lpr=lpr)
        return dataclasses.replace(prepared, resolved=resolved)

    def load_tables(self, ids: np.ndarray) -> None:
        wanted = [int(i) for i in np.unique(ids).tolist() if i and int(i) not in self.tables]
        for card in Scorecard.objects.filter(pk__in=wanted):
            self.tables[card.pk] = PointsTable.load(card)


def problem_sources() -> dict[int, str]:
    """The source of each provider problem index (codes are ``<source>_<kind>``)."""
    sources = sorted(EXTERNAL_SOURCES, key=len, reverse=True)
    found = {}
    for index, entry in enumerate(provider_problems_catalogue()):
        if entry is None:
            continue
        source = next((s for s in sources if entry[0].startswith(s + "_")), None)
        if source is not None:
            found[index] = source
    return found


@dataclass
class ChunkOutcome:
    outcome: np.ndarray  # int64 codes 0/1/2
    limit: np.ndarray  # int64 fen, NONE without a limit
    rate: np.ndarray  # int64 rate × 10,000, NONE without a rate
    pd: np.ndarray  # int64 millionths, NONE without a score
    primary: list[str]


def chunk_run(records, names, part, resolver, sources_of_problems, rule_texts) -> ChunkOutcome:
    """The candidate over one chunk: rows grouped by bank, product chain and LPR."""
    n = len(records)
    matrix = records["inputs"]
    stored = {
        name: np.ascontiguousarray(matrix[:, j], dtype=np.float64) for j, name in enumerate(names)
    }
    features = {
        name: stored[name] if name in stored else np.full(n, np.nan) for name in LAYOUT_NAMES
    }
    external = {name: features.pop(name) for name in EXTERNAL_FEATURE_NAMES}
    for name in EXTERNAL_FEATURE_NAMES:
        features[name] = np.full(n, np.nan)  # filled by the external node, as when decided
    problems = _stored_problems(records, part, sources_of_problems)
    scorecards = records["scorecard"].astype(np.int64)
    resolver.load_tables(scorecards)
    chain = (
        np.column_stack([records[f"chain{i}"].astype(np.int64) for i in range(part.chain_width)])
        if part.chain_width
        else np.zeros((n, 0), dtype=np.int64)
    )
    keys = np.column_stack(
        [records["bank"].astype(np.int64), records["lpr"].astype(np.int64), chain]
    )
    groups, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)

    out = ChunkOutcome(
        outcome=np.zeros(n, dtype=np.int64),
        limit=np.full(n, NONE, dtype=np.int64),
        rate=np.full(n, NONE, dtype=np.int64),
        pd=np.full(n, NONE, dtype=np.int64),
        primary=[""] * n,
    )
    base = EngineInputs(
        features=features,
        scorecards=scorecards,
        tables=resolver.tables,
        list_severity=records["list_level"].astype(np.int8),
        list_override=records["list_override"] != 0,
        subject_problem=records["subject"].astype(np.uint8),
        requested_amount=records["requested"].astype(np.float64),
    )
    for g, key in enumerate(groups.tolist()):
        bank_id, lpr_units, *chain_ids = key
        prepared = resolver.prepared(bank_id, tuple(c for c in chain_ids if c), lpr_units)
        rows = None if len(groups) == 1 else np.flatnonzero(inverse == g)
        _group_run(prepared, base, external, problems, rows, out, rule_texts)
    return out


def _take(values, rows):
    return values if rows is None else values[rows]


def _group_run(prepared: Prepared, base: EngineInputs, external, problems, rows, out, rule_texts):
    inputs = EngineInputs(
        features={name: _take(column, rows) for name, column in base.features.items()},
        scorecards=_take(base.scorecards, rows),
        tables=base.tables,
        list_severity=_take(base.list_severity, rows),
        list_override=_take(base.list_override, rows),
        subject_problem=_take(base.subject_problem, rows),
        requested_amount=_take(base.requested_amount, rows),
    )
    answers = {name: _take(column, rows) for name, column in external.items()}
    met = {source: _take(column, rows) for source, column in problems.items()}
    sources = prepared.sources

    def hook(alive: np.ndarray):
        # The answers the decision was given, to the rows the candidate asks about: no provider
        # is called again (a back-test costs no credit reports).
        columns = {name: np.where(alive, column, np.nan) for name, column in answers.items()}
        found = np.zeros((len(alive), len(sources)), dtype=np.uint8)
        for j, source in enumerate(sources):
            if source in met:
                found[:, j] = np.where(alive, met[source], 0)
        return columns, found

    result = strategy_run(prepared.flow, prepared.resolved, inputs, external=hook, sources=sources)
    outcome = result.outcome.astype(np.int64)
    graded = np.array([g is not None for g in result.grade.tolist()], dtype=bool)
    limit = (
        result.limit.astype(np.int64) * 100
        if prepared.flow.first(LIMIT) is not None
        else np.full(len(outcome), NONE, dtype=np.int64)
    )
    rate = np.full(len(outcome), NONE, dtype=np.int64)
    if prepared.flow.first(PRICING) is not None:
        priced = graded & (result.rate_problem == 0)
        rate = np.where(priced, result.rate_units.astype(np.int64), NONE)
    pd = _millionths(result.probability_of_default)
    target = slice(None) if rows is None else rows
    out.outcome[target] = outcome
    out.limit[target] = limit
    out.rate[target] = rate
    out.pd[target] = pd
    if rows is None:
        out.primary[:] = result.primary
    else:
        for row, code in zip(rows.tolist(), result.primary, strict=True):
            out.primary[row] = code
    rule_texts.update(result.hit_texts)


def _millionths(values: np.ndarray) -> np.ndarray:
    """PDs in millionths, rounded half-up as a stored decision rounds them (a score takes few
    distinct values, so each is rounded once)."""
    out = np.full(len(values), NONE, dtype=np.int64)
    present = ~np.isnan(values)
    distinct, inverse = np.unique(values[present], return_inverse=True)
    rounded = np.array(
        [
            int(Decimal(repr(float(v))).quantize(Decimal("0.000001"), ROUND_HALF_UP).scaleb(6))
            for v in distinct.tolist()
        ],
        dtype=np.int64,
    )
    out[present] = rounded[inverse.reshape(-1)] if len(distinct) else rounded
    return out


def _stored_problems(records, part: Part, sources_of: Mapping[int, str]) -> dict:
    """Per source, the provider problem each decision met (0: none)."""
    n = len(records)
    found: dict[str, np.ndarray] = {}
    for i in range(part.problems_width):
        column = records[f"problem{i}"].astype(np.int64)
        for index in np.unique(column[column > 0]).tolist():
            source = sources_of.get(index)
            if source is None:
                continue
            target = found.setdefault(source, np.zeros(n, dtype=np.uint8))
            target[column == index] = index
    return found


def why_text(
    *, old_outcome: str, new_outcome: str, old_reason: str, new_reason: str, texts: Mapping
) -> str:
    """Why a decision changes, in Chinese: the candidate's reason for a rejection or a referral
    it gives, the stored reason that no longer holds for one it approves."""
    if old_outcome == new_outcome:
        return "额度或利率变化"
    if new_outcome != "approve":
        return texts.get(new_reason, "其他原因")
    return f"原因不再成立：{texts.get(old_reason, '其他原因')}"
