"""Back-testing (回测): a candidate strategy version run over the decisions stored in a period,
from their input snapshots, and compared side by side with what was decided.

What the candidate reads is what each decision stored: the features and external answers of
its snapshot, its list level and override, its applicant problem, its requested amount, the
scorecard that rated it (with its points table), the providers' problems it met and the LPR of
its day; the product terms are those of its stored product version chain. What the candidate
brings is its own flow, the rule sets published now, and the limit and pricing model versions in
force on the back-test's date (``as_of``). So the active version back-tested against its own
decisions changes nothing, and a draft's report shows what it alone would change. A decision the
stored flow rejected before asking for external data has no answers in its snapshot: a
candidate that would have asked runs its rules on those features missing.

The run is column-wise, never a replay per row. The period's decisions are read in chunks of
consecutive ids, one ``COPY … TO STDOUT (FORMAT binary)`` each, every selected value made fixed
width in SQL (codes and amounts as integers, the product chain and provider problems padded to
the period's longest), so a chunk is one ``np.frombuffer`` with a record dtype whose last field
is the snapshot matrix. Rows are grouped by what resolves differently (bank, product chain,
LPR), each group one ``strategy_run``. Counts and sums per side are integers (fen, rate units,
PD in millionths) so averages are exact; the changed decisions are kept up to
``CHANGES_LISTED`` and counted beyond.

``backtest_create`` checks and enqueues; ``backtest_run`` (the Celery task's one call) runs it,
and does nothing for a back-test already done.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from common.clock import business_today
from common.errors import describe_error
from org.models import Institution
from org.tenancy import scope_for
from products.models import Product
from products.selectors import product_terms_of_chain
from risk.decisions.definition import LIMIT, PRICING
from risk.decisions.engine import APPROVE, REJECT, EngineInputs, strategy_run
from risk.decisions.inputs import LAYOUT_NAMES
from risk.decisions.models import Decision, DecisionKind, DecisionLayout, StrategyVersion
from risk.decisions.reasons import provider_problems_catalogue
from risk.decisions.report_models import (
    CHANGES_LISTED,
    Backtest,
    BacktestChange,
    BacktestStatus,
)
from risk.decisions.services import Prepared, strategy_prepare
from risk.decisions.statistics import reason_texts_for
from risk.external_features import EXTERNAL_FEATURE_NAMES, EXTERNAL_SOURCES
from risk.models.scorecards import Scorecard
from risk.scoring import PointsTable

CHUNK_SIZE = 100_000
BACKTEST_PERMISSION = "risk.add_backtest"
OUTCOMES = ("approve", "refer", "reject")  # the engine's codes 0, 1, 2
_NONE = -1  # an integer column's "no value" (amounts and rates are never negative)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


# --- asking for one --------------------------------------------------------------------------


def backtest_check(
    *,
    actor,
    candidate: StrategyVersion,
    period_from: date,
    period_to: date,
    product: Product | None = None,
    bank: Institution | None = None,
) -> Institution | None:
    """The bank whose decisions the back-test reads (``None``: the province), or a
    ``ValidationError`` naming the field. ``actor=None`` is the system (benchmarks, commands)."""
    if actor is not None and not actor.has_perm(BACKTEST_PERMISSION):
        raise PermissionDenied("没有发起回测的权限")
    if period_from is None or period_to is None:
        raise ValidationError({"period_from": "请填写决策日期区间"})
    if period_from > period_to:
        raise ValidationError({"period_to": "结束日期不能早于开始日期"})
    if actor is not None:
        scope = scope_for(actor)
        if scope.sees_nothing:
            raise PermissionDenied("没有发起回测的权限")
        if scope.village_restricted:
            raise PermissionDenied("回测须由行社风险岗位或省联社发起")
        if not StrategyVersion.objects.visible_to(actor).filter(pk=candidate.pk).exists():
            raise ValidationError({"candidate": "决策流版本不存在"})
        visible = Product.objects.visible_to(actor)
        if product is not None and not visible.filter(pk=product.pk).exists():
            raise ValidationError({"product": "产品不存在"})
        if not scope.all_banks:
            if bank is not None and bank.pk != scope.bank_id:
                raise ValidationError({"bank": "法人行社不存在"})
            bank = Institution.objects.get(pk=scope.bank_id)
    owner = candidate.model.owner_id
    if owner is not None and (bank is None or bank.pk != owner):
        # A bank's strategy resolves that bank's rule sets and models: it decides nobody else.
        raise ValidationError({"bank": "行社自有的决策流只能回测该行社的决策，请选择该行社"})
    if product is not None and bank is not None and product.owner_id not in (None, bank.pk):
        raise ValidationError({"product": "该产品不属于本行社，也不是省联社产品"})
    return bank


def backtest_create(
    *,
    actor,
    candidate: StrategyVersion,
    period_from: date,
    period_to: date,
    product: Product | None = None,
    bank: Institution | None = None,
    enqueue: bool = True,
) -> Backtest:
    """A back-test of ``candidate`` over the stored decisions (what-ifs aside) decided from
    ``period_from`` to ``period_to``, of ``product`` when given; run by a Celery task enqueued
    after commit."""
    bank = backtest_check(
        actor=actor,
        candidate=candidate,
        period_from=period_from,
        period_to=period_to,
        product=product,
        bank=bank,
    )
    backtest = Backtest.objects.create(
        bank=bank,
        candidate=candidate,
        product=product,
        period_from=period_from,
        period_to=period_to,
        as_of=business_today(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if enqueue:
        from risk.decisions.report_tasks import run_backtest

        transaction.on_commit(lambda: run_backtest.delay(backtest.pk))
    return backtest


# --- running it -------------------------------------------------------------------------------


def backtest_run(*, backtest_id: int, chunk_size: int = CHUNK_SIZE) -> Backtest:
    """Run the back-test unless it is done already. A refusal of the candidate (a rule set
    without a published version, a model not in force) fails it with that reason; any other
    error fails it too and is raised for the task's log."""
    with transaction.atomic():
        backtest = Backtest.objects.select_for_update().get(pk=backtest_id)
        if backtest.status == BacktestStatus.DONE:
            return backtest
        backtest.start()
        backtest.attempt += 1
        backtest.started_at = timezone.now()
        backtest.finished_at = None
        backtest.error = ""
        backtest.save(update_fields=["status", "attempt", "started_at", "finished_at", "error"])
    attempt = backtest.attempt
    try:
        report = _compute(
            Backtest.objects.select_related("candidate__model").get(pk=backtest_id), chunk_size
        )
        with transaction.atomic():
            backtest = Backtest.objects.select_for_update().get(pk=backtest_id)
            if backtest.attempt != attempt or backtest.status != BacktestStatus.RUNNING:
                return backtest  # a later run took over; its results are the ones kept
            _changes_copy(backtest.pk, report.changes)
            backtest.decisions = report.decisions
            backtest.changed = report.changed
            backtest.changes_listed = len(report.changes.ids)
            backtest.summary = report.summary
            backtest.finish()
            backtest.finished_at = timezone.now()
            backtest.save(
                update_fields=[
                    "decisions",
                    "changed",
                    "changes_listed",
                    "summary",
                    "status",
                    "finished_at",
                ]
            )
            return backtest
    except ValidationError as exc:
        return backtest_fail(backtest_id=backtest_id, attempt=attempt, error=describe_error(exc))
    except Exception as exc:
        backtest_fail(
            backtest_id=backtest_id, attempt=attempt, error=f"回测运行出错：{type(exc).__name__}"
        )
        raise


@transaction.atomic
def backtest_fail(*, backtest_id: int, error: str, attempt: int | None = None) -> Backtest:
    backtest = Backtest.objects.select_for_update().get(pk=backtest_id)
    current = attempt is None or backtest.attempt == attempt
    if current and backtest.status in (BacktestStatus.PENDING, BacktestStatus.RUNNING):
        backtest.fail()
        backtest.error = error[:2000]
        backtest.finished_at = timezone.now()
        backtest.save(update_fields=["status", "error", "finished_at"])
    return backtest


# --- reading the stored decisions --------------------------------------------------------------


def _period_sql(backtest: Backtest) -> tuple[str, dict]:
    """The decisions a back-test reads: its period and scope, what-ifs never (a trial)."""
    sql = (
        "d.decision_date >= %(start)s AND d.decision_date <= %(end)s "
        f"AND d.kind <> {int(DecisionKind.WHAT_IF)}"
    )
    params: dict = {"start": backtest.period_from, "end": backtest.period_to}
    if backtest.bank_id is not None:
        sql += " AND d.bank_id = %(bank)s"
        params["bank"] = backtest.bank_id
    if backtest.product_id is not None:
        sql += " AND d.product_id = %(product)s"
        params["product"] = backtest.product_id
    return sql, params


@dataclass(frozen=True)
class _Part:
    """Decisions of the period sharing a layout and a snapshot length (one record width)."""

    layout_id: int
    length: int  # bytes of each snapshot
    count: int
    first_id: int
    last_id: int
    chain_width: int
    problems_width: int


def _parts(where: str, params: dict) -> list[_Part]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.layout_id, length(d.inputs), count(*), min(d.id), max(d.id),
                   max(cardinality(d.product_chain)), max(cardinality(d.provider_problems))
            FROM {Decision._meta.db_table} d WHERE {where}
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            params,
        )
        return [_Part(*(int(v or 0) for v in row)) for row in cursor.fetchall()]


def _columns(part: _Part, width: int) -> list[tuple[str, str, object]]:
    """(name, SQL, dtype) of each selected value: all fixed width, none NULL."""
    return [
        ("id", "d.id", ">i8"),
        ("bank", "d.bank_id::int8", ">i8"),
        (
            "outcome",
            "(CASE d.outcome WHEN 'approve' THEN 0 WHEN 'refer' THEN 1 ELSE 2 END)::int2",
            ">i2",
        ),
        ("limit", f"coalesce(round(d.limit_amount * 100)::int8, {_NONE})", ">i8"),
        ("rate", f"coalesce(round(d.rate * 10000)::int8, {_NONE})", ">i8"),
        ("pd", f"coalesce(round(d.probability_of_default * 1000000)::int8, {_NONE})", ">i8"),
        ("requested", "coalesce(d.requested_amount::float8, 'NaN')", ">f8"),
        ("lpr", f"coalesce(round(d.lpr * 10000)::int8, {_NONE})", ">i8"),
        ("scorecard", "coalesce(d.scorecard_id, 0)::int8", ">i8"),
        ("list_level", "d.list_level::int2", ">i2"),
        ("list_override", "d.list_override::int::int2", ">i2"),
        ("subject", "d.subject_problem::int2", ">i2"),
        *(
            (f"chain{i}", f"coalesce(d.product_chain[{i + 1}], 0)::int8", ">i8")
            for i in range(part.chain_width)
        ),
        *(
            (f"problem{i}", f"coalesce(d.provider_problems[{i + 1}], 0)::int2", ">i2")
            for i in range(part.problems_width)
        ),
        ("inputs", "d.inputs", ("<f8", (width,))),
    ]


def _record_dtype(columns) -> np.dtype:
    """A binary COPY tuple: a field count, then each field as its length and its bytes."""
    fields: list = [("_fields", ">i2")]
    for i, (name, _sql, dtype) in enumerate(columns):
        fields.append((f"_length{i}", ">i4"))
        fields.append((name, dtype))
    return np.dtype(fields)


def chunk_read(
    *, where: str, params: dict, part: _Part, width: int, first: int, last: int
) -> np.ndarray:
    """The decisions of ``part`` with ids in ``[first, last]``: one COPY, one record array."""
    columns = _columns(part, width)
    select = ", ".join(sql for _, sql, _ in columns)
    with connection.cursor() as cursor:
        query = cursor.mogrify(
            f"SELECT {select} FROM {Decision._meta.db_table} d WHERE {where} "
            "AND d.layout_id = %(layout)s AND length(d.inputs) = %(length)s "
            "AND d.id BETWEEN %(first)s AND %(last)s",
            {
                **params,
                "layout": part.layout_id,
                "length": part.length,
                "first": first,
                "last": last,
            },
        ).decode()
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT (FORMAT binary)", buffer)
    return copy_records(buffer.getbuffer(), _record_dtype(columns), len(columns))


def copy_records(raw, dtype: np.dtype, fields: int) -> np.ndarray:
    """The tuples of a binary COPY whose every field has a fixed width, as records."""
    if bytes(raw[: len(_COPY_SIGNATURE)]) != _COPY_SIGNATURE:
        raise ValueError("COPY 输出格式不符")
    extension = int.from_bytes(bytes(raw[15:19]), "big")
    start = 19 + extension
    body = len(raw) - start - 2  # the trailer: a field count of -1
    if body % dtype.itemsize:
        raise ValueError("COPY 输出长度与记录宽度不符")
    records = np.frombuffer(raw, dtype=dtype, count=body // dtype.itemsize, offset=start)
    if len(records) and (records["_fields"] != fields).any():
        raise ValueError("COPY 输出字段数不符")
    return records


def _ranges(part: _Part, size: int) -> list[tuple[int, int]]:
    """Id ranges of about ``size`` decisions each (ids of a period are near consecutive)."""
    chunks = max(1, -(-part.count // size))
    bounds = np.linspace(part.first_id, part.last_id + 1, chunks + 1).astype(np.int64)
    return [(int(bounds[i]), int(bounds[i + 1]) - 1) for i in range(chunks)]


# --- the comparison -------------------------------------------------------------------------------


@dataclass
class _Side:
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
            present = values[values != _NONE]
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
class _Changes:
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
class _Report:
    decisions: int
    changed: int
    changes: _Changes
    summary: dict


class _Resolver:
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
        lpr = None if lpr_units == _NONE else Decimal(lpr_units).scaleb(-4)
        resolved = dataclasses.replace(prepared.resolved, terms=terms, lpr=lpr)
        return dataclasses.replace(prepared, resolved=resolved)

    def load_tables(self, ids: np.ndarray) -> None:
        wanted = [int(i) for i in np.unique(ids).tolist() if i and int(i) not in self.tables]
        for card in Scorecard.objects.filter(pk__in=wanted):
            self.tables[card.pk] = PointsTable.load(card)


def _problem_sources() -> dict[int, str]:
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


def _compute(backtest: Backtest, chunk_size: int) -> _Report:
    started = time.perf_counter()
    where, params = _period_sql(backtest)
    resolver = _Resolver(backtest.candidate, backtest.as_of)
    problem_sources = _problem_sources()
    baseline, candidate = _Side(), _Side()
    transitions = np.zeros(9, dtype=np.int64)
    why: Counter = Counter()
    changes = _Changes()
    changed = decisions = skipped = 0
    rule_texts: dict[str, str] = {}
    layouts = dict(DecisionLayout.objects.values_list("pk", "names"))
    for part in _parts(where, params):
        names = layouts.get(part.layout_id)
        if names is None or part.length != 8 * len(names):
            skipped += part.count  # a snapshot that does not fit its layout cannot be re-run
            continue
        for first, last in _ranges(part, chunk_size):
            records = chunk_read(
                where=where, params=params, part=part, width=len(names), first=first, last=last
            )
            if not len(records):
                continue
            outcome = _chunk_run(records, names, part, resolver, problem_sources, rule_texts)
            decisions += len(records)
            old = (
                records["outcome"].astype(np.int8),
                records["limit"].astype(np.int64),
                records["rate"].astype(np.int64),
                records["pd"].astype(np.int64),
            )
            baseline.add(*old)
            candidate.add(outcome.outcome, outcome.limit, outcome.rate, outcome.pd)
            transitions += np.bincount(old[0].astype(np.int64) * 3 + outcome.outcome, minlength=9)[
                :9
            ]
            moved = (old[0] != outcome.outcome) | (
                (outcome.outcome != REJECT) & ((old[1] != outcome.limit) | (old[2] != outcome.rate))
            )
            rows = np.flatnonzero(moved)
            if not len(rows):
                continue
            ids = records["id"][rows].astype(np.int64)
            order = np.argsort(ids, kind="stable")
            rows, ids = rows[order], ids[order]
            old_reasons = _primary_reasons(ids)
            changed += len(rows)
            room = CHANGES_LISTED - len(changes.ids)
            for position, (row, decision_id) in enumerate(
                zip(rows.tolist(), ids.tolist(), strict=True)
            ):
                was, now = int(old[0][row]), int(outcome.outcome[row])
                new_reason = outcome.primary[row]
                old_reason = old_reasons.get(decision_id, "")
                if was == now:
                    why[(was, now, "")] += 1
                else:
                    why[(was, now, new_reason if now != APPROVE else old_reason)] += 1
                if position >= room:
                    continue
                changes.ids.append(decision_id)
                changes.old_outcome.append(was)
                changes.new_outcome.append(now)
                changes.old_limit.append(int(old[1][row]))
                changes.new_limit.append(int(outcome.limit[row]))
                changes.old_rate.append(int(old[2][row]))
                changes.new_rate.append(int(outcome.rate[row]))
                changes.old_reason.append(old_reason)
                changes.new_reason.append(new_reason)
    codes = {code for (_, _, code) in why} | set(changes.old_reason) | set(changes.new_reason)
    summary = {
        "baseline": baseline.summary(),
        "candidate": candidate.summary(),
        "transitions": transitions.reshape(3, 3).tolist(),
        "why": [
            {"from": OUTCOMES[was], "to": OUTCOMES[now], "reason": code, "count": count}
            for (was, now, code), count in sorted(why.items(), key=lambda i: (-i[1], i[0]))
        ],
        "reason_texts": reason_texts_for(codes, rule_texts),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return _Report(decisions=decisions, changed=changed, changes=changes, summary=summary)


@dataclass
class _Outcome:
    outcome: np.ndarray  # int64 codes 0/1/2
    limit: np.ndarray  # int64 fen, _NONE without a limit
    rate: np.ndarray  # int64 rate × 10,000, _NONE without a rate
    pd: np.ndarray  # int64 millionths, _NONE without a score
    primary: list[str]


def _chunk_run(records, names, part, resolver, problem_sources, rule_texts) -> _Outcome:
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
    problems = _stored_problems(records, part, problem_sources)
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

    out = _Outcome(
        outcome=np.zeros(n, dtype=np.int64),
        limit=np.full(n, _NONE, dtype=np.int64),
        rate=np.full(n, _NONE, dtype=np.int64),
        pd=np.full(n, _NONE, dtype=np.int64),
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
        else np.full(len(outcome), _NONE, dtype=np.int64)
    )
    rate = np.full(len(outcome), _NONE, dtype=np.int64)
    if prepared.flow.first(PRICING) is not None:
        priced = graded & (result.rate_problem == 0)
        rate = np.where(priced, result.rate_units.astype(np.int64), _NONE)
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
    out = np.full(len(values), _NONE, dtype=np.int64)
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


def _stored_problems(records, part: _Part, problem_sources: Mapping[int, str]) -> dict:
    """Per source, the provider problem each decision met (0: none)."""
    n = len(records)
    found: dict[str, np.ndarray] = {}
    for i in range(part.problems_width):
        column = records[f"problem{i}"].astype(np.int64)
        for index in np.unique(column[column > 0]).tolist():
            source = problem_sources.get(index)
            if source is None:
                continue
            target = found.setdefault(source, np.zeros(n, dtype=np.uint8))
            target[column == index] = index
    return found


def _primary_reasons(ids: np.ndarray) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, primary_reason FROM {Decision._meta.db_table} WHERE id = ANY(%s)",
            [ids.tolist()],
        )
        return dict(cursor.fetchall())


# --- writing the report ----------------------------------------------------------------------------

_CHANGE_COLUMNS = (
    "backtest_id",
    "decision_id",
    "old_outcome",
    "new_outcome",
    "old_limit",
    "new_limit",
    "old_rate",
    "new_rate",
    "old_reason",
    "new_reason",
)


def _scaled(value: int, places: int) -> str:
    if value == _NONE:
        return "\\N"
    return str(Decimal(value).scaleb(-places))


def _changes_copy(backtest_id: int, changes: _Changes) -> None:
    if not changes.ids:
        return
    buffer = io.StringIO()
    for i, decision_id in enumerate(changes.ids):
        buffer.write(
            "\t".join(
                (
                    str(backtest_id),
                    str(decision_id),
                    OUTCOMES[changes.old_outcome[i]],
                    OUTCOMES[changes.new_outcome[i]],
                    _scaled(changes.old_limit[i], 2),
                    _scaled(changes.new_limit[i], 2),
                    _scaled(changes.old_rate[i], 4),
                    _scaled(changes.new_rate[i], 4),
                    changes.old_reason[i],
                    changes.new_reason[i],
                )
            )
        )
        buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {BacktestChange._meta.db_table} ({', '.join(_CHANGE_COLUMNS)}) FROM STDIN",
            buffer,
        )


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
