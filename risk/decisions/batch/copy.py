"""Writing a chunk of decisions with one COPY: the values ``decision_fields`` gives a row."""

from __future__ import annotations

import io

import numpy as np
from django.db import connection

from common import pii
from risk.decisions.batch.inputs import _Heads
from risk.decisions.definition import LIMIT, PRICING
from risk.decisions.engine import (
    OUTCOME_NAMES,
    EngineInputs,
    EngineResult,
)
from risk.decisions.inputs import layout_id, snapshot_matrix
from risk.decisions.models import Decision, DecisionJob, DecisionKind
from risk.decisions.services import Prepared
from risk.pricing.rates import RATE_PLACES

# --- writing ---------------------------------------------------------------------------------------

COPY_COLUMNS = (
    "kind",
    "bank_id",
    "product_id",
    "product_version_id",
    "product_chain",
    "strategy_version_id",
    "job_id",
    "decision_date",
    "decided_at",
    "decided_by_id",
    "rule_set_versions",
    "limit_model_version_id",
    "pricing_model_version_id",
    "lpr",
    "layout_id",
    "device_id",
    "list_override",
    "requested_amount",
    # per row
    "household_id",
    "branch_id",
    "member_id",
    "outcome",
    "primary_reason",
    "reason_source",
    "reason_codes",
    "approval_levels",
    "limit_amount",
    "rate",
    "score",
    "grade",
    "probability_of_default",
    "scorecard_id",
    "challenger_scorecard_id",
    "challenger_score",
    "challenger_grade",
    "rule_hits",
    "list_level",
    "list_entries",
    "provider_problems",
    "subject_problem",
    "limit_problem",
    "rate_problem",
    "inputs",
)

_N = "\\N"


def _array(values) -> str:
    return "{" + ",".join(map(str, values)) + "}" if values else "{}"


def _fixed(values: np.ndarray, places: int) -> list[str]:
    """Half-up to ``places`` decimals as text (NULL for NaN), as ``decision_fields`` rounds."""
    out = []
    for value in values.tolist():
        if value != value:
            out.append(_N)
        else:
            out.append(f"{_half_up(value, places)}")
    return out


def _half_up(value: float, places: int):
    from decimal import ROUND_HALF_UP, Decimal

    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _hex_rows(matrix: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(matrix).view(np.uint8)
    text = pii.hex_ascii(raw).tobytes().decode("ascii")
    width = raw.shape[1] * 2
    return ["\\\\x" + text[i : i + width] for i in range(0, len(text), width)]


def decisions_copy(
    *,
    job: DecisionJob,
    prepared: Prepared,
    rows: list[tuple],
    heads: _Heads,
    entries: list,
    inputs: EngineInputs,
    result: EngineResult,
    decided_at,
) -> int:
    """COPY one bank's chunk of decisions; the same values ``decision_fields`` gives a row."""
    resolved = prepared.resolved
    terms = resolved.terms
    limit_ran = prepared.flow.first(LIMIT) is not None
    pricing_ran = prepared.flow.first(PRICING) is not None
    constant = "\t".join(
        [
            str(int(DecisionKind.CAMPAIGN)),
            str(rows[0][1]),
            str(job.product_id),
            str(terms.version_id),
            _array(terms.version_ids),
            str(prepared.version.pk),
            str(job.pk),
            job.decision_date.isoformat(),
            decided_at.isoformat(),
            str(job.created_by_id) if job.created_by_id else _N,
            _array(prepared.rule_set_version_ids),
            str(resolved.limit_version.pk) if resolved.limit_version else _N,
            str(resolved.pricing_version.pk) if resolved.pricing_version else _N,
            str(resolved.lpr) if resolved.lpr is not None else _N,
            str(layout_id()),
            "",
            "f",
            _N,
        ]
    )
    scores = _fixed(result.score, 2)
    pds = _fixed(result.probability_of_default, 6)
    challenger_scores = _fixed(result.challenger_score, 2)
    graded = np.array([g is not None for g in result.grade.tolist()], dtype=bool)
    rates = (
        np.where((result.rate_problem == 0) & graded, result.rate_units, -1).tolist()
        if pricing_ran
        else [-1] * len(rows)
    )
    limits = result.limit.tolist()
    hexes = _hex_rows(snapshot_matrix(result.features))
    buffer = io.StringIO()
    write = buffer.write
    scale = 10**RATE_PLACES
    for i, (household_id, _bank, branch_id, _head) in enumerate(rows):
        member = heads.member_ids[i]
        grade = result.grade[i]
        challenger_grade = result.challenger_grade[i]
        problems = [int(p) for p in result.provider_problems[i].tolist() if p]
        rate = rates[i]
        fields = (
            str(household_id),
            str(branch_id) if branch_id is not None else _N,
            str(member) if member is not None else _N,
            OUTCOME_NAMES[int(result.outcome[i])],
            result.primary[i],
            result.primary_source[i],
            _array(result.reasons[i]),
            _array(result.approval_levels[i]),
            str(limits[i]) if limit_ran else _N,
            f"{rate // scale}.{rate % scale:0{RATE_PLACES}d}" if rate >= 0 else _N,
            scores[i],
            grade or "",
            pds[i],
            str(inputs.scorecards[i]) if inputs.scorecards[i] else _N,
            str(inputs.challengers[i]) if inputs.challengers[i] else _N,
            challenger_scores[i],
            challenger_grade or "",
            _array(result.rule_hits[i]),
            str(int(inputs.list_severity[i])),
            _array(entries[i]),
            _array(problems),
            str(int(inputs.subject_problem[i])),
            str(int(result.limit_problem[i])),
            str(int(result.rate_problem[i])),
            hexes[i],
        )
        write(constant)
        write("\t")
        write("\t".join(fields))
        write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {Decision._meta.db_table} ({', '.join(COPY_COLUMNS)}) FROM STDIN",
            buffer,
        )
    return len(rows)
