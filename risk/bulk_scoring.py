"""Scoring many feature rows at once, and writing their scores in bulk.

Used by batch jobs (``risk.batch``) and by the scoring benchmark. Every step is vectorised over
the rows of one (bank, segment) group — the points table, grades, PDs, limits and the text the
database receives — and the rows reach ``HouseholdScore`` through COPY: straight into the table
on a chunk's first attempt, through a temporary table and ``INSERT … ON CONFLICT (job,
household, role) DO UPDATE`` when the chunk has written before (a retry).
"""

from __future__ import annotations

import io
import itertools
import logging
import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction

from risk.features import FEATURE_NAMES
from risk.models import HouseholdScore, Scorecard
from risk.scoring import SCORE_COLUMNS, PointsTable, challenger_mask, scorecards_for

logger = logging.getLogger(__name__)

COPY_BLOCK = 1 << 20
NULL = "\\N"


@dataclass
class ScoredRows:
    """One scorecard's results for some households, as the text COPY needs (TSV fields)."""

    scorecard_id: int
    role: str
    bank_id: int
    household_ids: list[str]
    scores: np.ndarray
    grades: np.ndarray
    probabilities: np.ndarray
    features_text: list[str]  # PostgreSQL array literals
    reasons_text: list[str]  # JSON

    def __len__(self) -> int:
        return len(self.household_ids)


class Scorecards:
    """Champion and challenger of each (bank, segment), looked up once per batch
    (``risk.scoring.scorecards_for``: a bank's own scorecard first, then the federation's; a
    segment without a champion is scored by the farmer champion)."""

    def __init__(self) -> None:
        self._pairs: dict = {}

    def pair(self, bank_id: int, segment: str) -> tuple[Scorecard | None, Scorecard | None]:
        key = (bank_id, segment)
        if key not in self._pairs:
            self._pairs[key] = scorecards_for(bank_id=bank_id, segment=segment)
        return self._pairs[key]

    def champion(self, bank_id: int, segment: str) -> Scorecard | None:
        return self.pair(bank_id, segment)[0]

    def challenger(self, bank_id: int, segment: str) -> Scorecard | None:
        return self.pair(bank_id, segment)[1]

    @staticmethod
    def table(scorecard: Scorecard) -> PointsTable:
        return PointsTable.load(scorecard)


def reason_codes_text(table: PointsTable, points: np.ndarray, positions: np.ndarray, top: int = 3):
    """``PointsTable.codes`` of every row as the JSON text stored in ``reason_codes``,
    vectorised: the worst ``top`` features against their best bin, worst first (ties: column
    order)."""
    n = len(points)
    if not n:
        return []
    best = np.array([feature_bins.best_points for feature_bins in table.bins], dtype=np.float64)
    shortfall = best - points
    order = np.argsort(-shortfall, axis=1, kind="stable")[:, :top]
    lost = np.take_along_axis(shortfall, order, axis=1)
    chosen = np.take_along_axis(positions, order, axis=1)
    # The text of every (feature, position) pair, looked up by fancy indexing: no per-row work
    # beyond one join.
    width = max(len(feature_bins.points) for feature_bins in table.bins)
    pairs = np.full((len(table.features), width), "", dtype=object)
    for j, (feature, feature_bins) in enumerate(zip(table.features, table.bins, strict=True)):
        for position, bin_index in enumerate(feature_bins.bin_index.tolist()):
            pairs[j, position] = f'["{feature}", {bin_index}]'
    texts = np.where(lost > 1e-9, pairs[order, chosen], "")
    return ["[" + ", ".join(filter(None, row)) + "]" for row in texts.tolist()]


def array_text(X: np.ndarray) -> list[str]:
    """Each row of ``X`` as a PostgreSQL array literal (``NULL`` for NaN), shortest round-trip
    digits."""
    if not X.size:
        return ["{}"] * len(X)
    width = X.shape[1]
    cells = [("NULL" if v != v else repr(v)) for v in X.ravel().tolist()]
    return ["{" + ",".join(cells[i : i + width]) + "}" for i in range(0, len(cells), width)]


# A frame read from the database (``risk.batch.chunk_features``) may carry, in this column, each
# row's CSV line as PostgreSQL printed it (``CHUNK_COLUMNS`` order, ``NULL`` for missing; ids,
# numbers and segment codes, so never a quoted field and a comma always separates): the
# stored feature values are then those very digits, and no float is formatted twice (Python's
# ``repr`` of half a million floats was a fifth of a chunk's time).
SOURCE_FIELDS = "source_fields"
CHUNK_COLUMNS = ("household_id", "bank_id", "segment", *FEATURE_NAMES)


def source_array_text(lines: list[str], features: tuple[str, ...]) -> list[str]:
    """Array literals of ``features`` from printed CSV lines (``CHUNK_COLUMNS`` order)."""
    pick = operator.itemgetter(*(CHUNK_COLUMNS.index(f) for f in features))
    if len(features) == 1:
        return ["{" + pick(line.split(",")) + "}" for line in lines]
    return ["{" + ",".join(pick(line.split(","))) + "}" for line in lines]


def score_frame(
    table, frame: pd.DataFrame, *, scorecard_id: int, role: str, bank_id: int
) -> ScoredRows:
    """Score ``frame``'s rows (``household_id``, ``net_income`` and the table's features by
    name), households of one bank, with one points table."""
    features = list(table.features)
    X = frame[features].to_numpy(dtype=np.float64, copy=True)
    positions = table.bin_positions(X)
    points = table.points_at(positions)
    scores = points.sum(axis=1)
    grades = np.asarray(table.grades(scores), dtype=object)
    return ScoredRows(
        scorecard_id=scorecard_id,
        role=role,
        bank_id=bank_id,
        household_ids=[str(h) for h in frame["household_id"].tolist()],
        scores=scores,
        grades=grades,
        probabilities=np.asarray(table.probabilities_of_default(scores), dtype=np.float64),
        features_text=source_array_text(frame[SOURCE_FIELDS].tolist(), table.features)
        if SOURCE_FIELDS in frame
        else array_text(X),
        reasons_text=reason_codes_text(table, points, positions),
    )


def score_rows(frame: pd.DataFrame, scorecards: Scorecards | None = None) -> list[ScoredRows]:
    """Champion scores for every row of ``frame`` (``bank_id``, ``segment``, features), and
    challenger shadow scores for the rows stickily assigned to a challenger."""
    scorecards = scorecards or Scorecards()
    results = []
    for (bank_id, segment), group in frame.groupby(["bank_id", "segment"], sort=False):
        champion = scorecards.champion(int(bank_id), str(segment))
        if champion is None:
            logger.warning("no champion scorecard for bank %s segment %s", bank_id, segment)
            continue
        results.append(
            score_frame(
                scorecards.table(champion),
                group,
                scorecard_id=champion.pk,
                role=HouseholdScore.Role.CHAMPION,
                bank_id=int(bank_id),
            )
        )
        challenger = scorecards.challenger(int(bank_id), str(segment))
        if challenger is not None:
            shadow = group[challenger_mask(group["household_id"].tolist(), challenger)]
            if len(shadow):
                results.append(
                    score_frame(
                        scorecards.table(challenger),
                        shadow,
                        scorecard_id=challenger.pk,
                        role=HouseholdScore.Role.CHALLENGER,
                        bank_id=int(bank_id),
                    )
                )
    return results


# --- writing -----------------------------------------------------------------------------------


def copy_text(value: str) -> str:
    """A value as a field of COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _decimal_text(values: np.ndarray, places: int) -> list[str]:
    return list(map(f"{{:.{places}f}}".format, values.tolist()))


def scores_tsv(results: list[ScoredRows], *, job_id, scored_at) -> str:
    """The rows in COPY text format, columns as ``SCORE_COLUMNS``; ``job_id=None`` writes scores
    that belong to no job (the nightly re-rating of changed households)."""
    parts = []
    job = NULL if job_id is None else str(job_id)
    stamp = copy_text(scored_at.isoformat())
    for rows in results:
        n = len(rows)
        if not n:
            continue
        grade_text = {grade: copy_text(str(grade)) for grade in set(rows.grades)}
        columns = (
            itertools.repeat(job, n),
            itertools.repeat(stamp, n),
            rows.household_ids,
            itertools.repeat(str(rows.bank_id), n),
            itertools.repeat(str(rows.scorecard_id), n),
            itertools.repeat(rows.role, n),
            _decimal_text(rows.scores, 2),
            (grade_text[g] for g in rows.grades),
            _decimal_text(rows.probabilities, 6),
            rows.features_text,
            rows.reasons_text,  # feature names and numbers: nothing COPY would need escaped
        )
        parts.append("\n".join(map("\t".join, zip(*columns, strict=True))))
        parts.append("\n")
    return "".join(parts)


def scores_write(*, job_id, results: list[ScoredRows], scored_at, first_write: bool) -> int:
    """Write the scores of one job, keyed by (job, household, role); returns the rows written.

    Must run inside a transaction. A ``first_write`` (a chunk's first attempt: nothing of it can
    exist yet) COPYs straight into the table; a rewrite — or a first write that finds rows after
    all, e.g. a duplicate delivery running at the same time — upserts through a temporary table.
    """
    text = scores_tsv(results, job_id=job_id, scored_at=scored_at)
    if not text:
        return 0
    table = HouseholdScore._meta.db_table
    columns = ", ".join(SCORE_COLUMNS)
    if first_write:
        try:
            # (Django does not translate driver errors raised by COPY by itself.)
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                connection.wrap_database_errors,
            ):
                cursor.copy_expert(
                    f"COPY {table} ({columns}) FROM STDIN", io.StringIO(text), COPY_BLOCK
                )
                return sum(len(rows) for rows in results)
        except IntegrityError:
            logger.info("job %s: scores appeared meanwhile; upserting instead", job_id)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in SCORE_COLUMNS[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE scores_incoming ON COMMIT DROP AS "
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        cursor.copy_expert(
            f"COPY scores_incoming ({columns}) FROM STDIN", io.StringIO(text), COPY_BLOCK
        )
        cursor.execute(
            f"""
            INSERT INTO {table} ({columns}) SELECT {columns} FROM scores_incoming
            ON CONFLICT (job_id, household_id, role) WHERE job_id IS NOT NULL
            DO UPDATE SET {updates}
            """
        )
        written = cursor.rowcount
        cursor.execute("DROP TABLE scores_incoming")
    return written
