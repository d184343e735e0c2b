"""Writes of the back-tests: ``backtest_create`` checks a request and enqueues its run;
``backtest_run`` (the Celery task's one call) runs it and writes the report, doing nothing for
a back-test already done; ``backtest_fail`` records why a run stopped."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from common.clock import business_today
from common.errors import describe_error
from org.models import Institution
from org.tenancy import scope_for
from products.models import Product
from risk.decisions.backtest.compare import (
    OUTCOMES,
    Changes,
    Resolver,
    Tally,
    chunk_run,
    problem_sources,
)
from risk.decisions.backtest.snapshots import (
    NONE,
    chunk_read,
    parts,
    period_sql,
    ranges,
)
from risk.decisions.models import DecisionLayout, StrategyVersion
from risk.decisions.report_models import (
    Backtest,
    BacktestChange,
    BacktestStatus,
)

CHUNK_SIZE = 100_000
BACKTEST_PERMISSION = "risk.add_backtest"


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


@dataclass
class _Report:
    decisions: int
    changed: int
    changes: Changes
    summary: dict


def _compute(backtest: Backtest, chunk_size: int) -> _Report:
    started = time.perf_counter()
    where, params = period_sql(backtest)
    resolver = Resolver(backtest.candidate, backtest.as_of)
    sources_of_problems = problem_sources()
    tally = Tally()
    skipped = 0
    rule_texts: dict[str, str] = {}
    layouts = dict(DecisionLayout.objects.values_list("pk", "names"))
    for part in parts(where, params):
        names = layouts.get(part.layout_id)
        if names is None or part.length != 8 * len(names):
            skipped += part.count  # a snapshot that does not fit its layout cannot be re-run
            continue
        for first, last in ranges(part, chunk_size):
            records = chunk_read(
                where=where, params=params, part=part, width=len(names), first=first, last=last
            )
            if len(records):
                new = chunk_run(records, names, part, resolver, sources_of_problems, rule_texts)
                tally.add(records, new)
    summary = {
        **tally.summary(rule_texts),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return _Report(
        decisions=tally.decisions, changed=tally.changed, changes=tally.changes, summary=summary
    )


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
    if value == NONE:
        return "\\N"
    return str(Decimal(value).scaleb(-places))


def _changes_copy(backtest_id: int, changes: Changes) -> None:
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
