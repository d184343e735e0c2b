"""Scoring from the points table: one household in a request, or a matrix of feature rows.

A scorecard scores from its ``ScorecardBin`` rows, not from the fitted model: the table is the
model the risk committee approved, shown in the admin and exported to Excel, and adding up
points with numpy is what makes a million households a matter of seconds. A test holds the table's
scores equal to optbinning's own ``Scorecard.score()``.

Bins: a numeric bin is ``[lower, upper)`` (``None`` an open end); a categorical bin lists its
values; a special bin lists codes that bypass the numeric bins; the missing bin takes NaN and any
value that falls in no bin (±inf, a category never seen in training, a gap between edited
bins) — and the reason codes say so.

Challenger assignment is sticky: a household's bucket is ``sha256(str(household_id)) mod 100``;
a challenger scores (in shadow) the households whose bucket is below its ``shadow_percent``.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from risk.models import HouseholdFeatures, HouseholdScore, Scorecard, ScorecardBin, ScoringSegment

DEFAULT_SHADOW_PERCENT = 50
DEFAULT_SEGMENT = "farmer"
# Grades anchored on the probability of default, best first; the last grade takes the rest.
DEFAULT_GRADE_PD_LIMITS = (("AAA", 0.01), ("AA", 0.02), ("A", 0.04), ("B", 0.08), ("C", None))
VALUE_NAMES = {
    "peer_colour_rank": {0: "黑名单", 1: "灰名单", 2: "绿名单", 3: "白名单"},
    "has_business": {0: "否", 1: "是"},
    "has_social_security": {0: "否", 1: "是"},
}
FEN = Decimal("0.01")
PD_PLACES = Decimal("0.000001")


def score_for_probability(pd: float, *, base_score: float, base_odds: float, pdo: float) -> float:
    odds = (1 - pd) / pd
    return base_score + pdo * math.log2(odds / base_odds)


def default_grade_cutoffs(*, base_score: float, base_odds: float, pdo: float) -> list[list]:
    """``[["AAA", 620], …, ["C", 0]]``: the scores at which the PD limits are reached."""
    cutoffs = []
    for grade, limit in DEFAULT_GRADE_PD_LIMITS:
        if limit is None:
            cutoffs.append([grade, 0])
        else:
            score = score_for_probability(
                limit, base_score=base_score, base_odds=base_odds, pdo=pdo
            )
            cutoffs.append([grade, round(score)])
    return cutoffs


def check_grade_cutoffs(cutoffs) -> list[list]:
    """Normalised cut-offs, or a ``ValidationError`` saying what is wrong with them."""
    if not isinstance(cutoffs, list | tuple) or not cutoffs:
        raise ValidationError({"grade_cutoffs": '评级分数线不能为空，格式如 [["AAA", 700], …]'})
    normalised, seen = [], set()
    for entry in cutoffs:
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise ValidationError({"grade_cutoffs": f"{entry!r} 应为 [评级, 分数]"})
        grade, cutoff = str(entry[0]).strip(), entry[1]
        if not grade or len(grade) > 8 or grade in seen:
            raise ValidationError({"grade_cutoffs": f"评级“{grade}”为空、过长或重复"})
        try:
            cutoff = float(cutoff)
        except (TypeError, ValueError):
            raise ValidationError({"grade_cutoffs": f"评级“{grade}”的分数不是数字"}) from None
        if normalised and cutoff >= normalised[-1][1]:
            raise ValidationError({"grade_cutoffs": "分数线须从高到低排列(最好的评级在前)"})
        seen.add(grade)
        normalised.append([grade, int(cutoff) if cutoff.is_integer() else cutoff])
    return normalised


def format_number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.6g}"


def format_feature_value(feature: str, value: float) -> str:
    names = VALUE_NAMES.get(feature)
    if names and float(value).is_integer() and int(value) in names:
        return names[int(value)]
    return format_number(value)


@dataclass(frozen=True, eq=False)
class FeatureBins:
    """One feature's bins as arrays. Positions index ``points``/``bin_index``/``labels``; the last
    position is the missing bin."""

    lowers: np.ndarray  # numeric bins by lower edge (-inf for an open end)
    uppers: np.ndarray
    numeric_positions: np.ndarray
    category_values: np.ndarray
    category_positions: np.ndarray
    special_values: np.ndarray
    special_positions: np.ndarray
    points: np.ndarray
    bin_index: np.ndarray
    labels: tuple[str, ...]
    best_points: float
    # The same bins as plain Python, for one row at a time (a request scores one household;
    # numpy's per-call overhead would be most of the time).
    lowers_list: tuple[float, ...] = ()
    uppers_list: tuple[float, ...] = ()
    category_map: dict = field(default_factory=dict)
    special_map: dict = field(default_factory=dict)
    points_list: tuple[float, ...] = ()
    positions_by_index: dict = field(default_factory=dict)  # ScorecardBin.bin_index → position

    @property
    def missing_position(self) -> int:
        return len(self.points) - 1

    def position_of_index(self, bin_index: int) -> int:
        """The position of a stored ``bin_index`` (an unknown one is the missing bin)."""
        return self.positions_by_index.get(bin_index, len(self.points_list) - 1)

    def position_of(self, value: float) -> int:
        """``positions`` for one value."""
        if value in self.special_map:
            return self.special_map[value]
        if value in self.category_map:
            return self.category_map[value]
        if math.isfinite(value):
            k = bisect.bisect_right(self.lowers_list, value) - 1
            if k >= 0 and value < self.uppers_list[k]:
                return k
        return len(self.points_list) - 1

    def positions(self, column: np.ndarray) -> np.ndarray:
        position = np.full(column.shape, self.missing_position, dtype=np.intp)
        finite = np.isfinite(column)
        if len(self.lowers):
            k = np.searchsorted(self.lowers, column, side="right") - 1
            safe = np.maximum(k, 0)  # searchsorted never passes the last bin
            inside = finite & (k >= 0) & (column < self.uppers[safe])
            position[inside] = self.numeric_positions[safe[inside]]
        for value, where in zip(self.category_values, self.category_positions, strict=True):
            position[column == value] = where
        for value, where in zip(self.special_values, self.special_positions, strict=True):
            position[column == value] = where
        return position


def _feature_bins(rows: list[ScorecardBin]) -> FeatureBins:
    numeric = sorted(
        (r for r in rows if r.kind == ScorecardBin.Kind.NUMERIC),
        key=lambda r: -math.inf if r.lower is None else r.lower,
    )
    categorical = [r for r in rows if r.kind == ScorecardBin.Kind.CATEGORICAL]
    special = [r for r in rows if r.kind == ScorecardBin.Kind.SPECIAL]
    missing = [r for r in rows if r.kind == ScorecardBin.Kind.MISSING]
    ordered = numeric + categorical + special
    points = [float(r.points) for r in ordered]
    indexes = [r.bin_index for r in ordered]
    labels = [r.label for r in ordered]
    # A table without a missing bin scores missing values as 0 points (no information).
    points.append(float(missing[0].points) if missing else 0.0)
    indexes.append(missing[0].bin_index if missing else -1)
    labels.append(missing[0].label if missing else "缺失")

    def values_of(group, offset):
        values, positions = [], []
        for i, row in enumerate(group):
            for value in row.categories or []:
                values.append(float(value))
                positions.append(offset + i)
        return np.array(values, dtype=np.float64), np.array(positions, dtype=np.intp)

    category_values, category_positions = values_of(categorical, len(numeric))
    special_values, special_positions = values_of(special, len(numeric) + len(categorical))
    lowers = [-math.inf if r.lower is None else float(r.lower) for r in numeric]
    uppers = [math.inf if r.upper is None else float(r.upper) for r in numeric]
    return FeatureBins(
        lowers=np.array(lowers, dtype=np.float64),
        uppers=np.array(uppers, dtype=np.float64),
        numeric_positions=np.arange(len(numeric), dtype=np.intp),
        category_values=category_values,
        category_positions=category_positions,
        special_values=special_values,
        special_positions=special_positions,
        points=np.array(points, dtype=np.float64),
        bin_index=np.array(indexes, dtype=np.int64),
        labels=tuple(labels),
        best_points=max(points),
        lowers_list=tuple(lowers),
        uppers_list=tuple(uppers),
        category_map=dict(zip(category_values.tolist(), category_positions.tolist(), strict=True)),
        special_map=dict(zip(special_values.tolist(), special_positions.tolist(), strict=True)),
        points_list=tuple(points),
        positions_by_index={index: position for position, index in enumerate(indexes)},
    )


_TABLES: dict[int, PointsTable] = {}


@dataclass(frozen=True, eq=False)
class PointsTable:
    scorecard_id: int
    # The columns of X: the scorecard's feature names, sorted. The order is a function of the
    # scorecard's bins alone (never of the catalogue, which may grow), because stored scores
    # keep their feature values in it (``HouseholdScore.feature_values``).
    features: tuple[str, ...]
    labels: tuple[str, ...]  # Chinese label per feature
    bins: tuple[FeatureBins, ...]
    base_score: float
    base_odds: float
    pdo: float
    grade_names: tuple[str, ...]  # best first
    grade_cutoffs: np.ndarray  # ascending, aligned with reversed grade_names
    stamp: object = None  # scorecard.updated_at when loaded: a changed scorecard reloads

    @classmethod
    def load(cls, scorecard: Scorecard) -> PointsTable:
        """The scorecard's table, built from its bins with one query and cached by id."""
        cached = _TABLES.get(scorecard.pk)
        if cached is not None and cached.stamp == scorecard.updated_at:
            return cached
        rows = list(ScorecardBin.objects.filter(scorecard_id=scorecard.pk))
        if not rows:
            raise ValueError(f"评分卡 {scorecard} 没有分箱，无法评分")
        by_feature: dict[str, list[ScorecardBin]] = {}
        for row in rows:
            by_feature.setdefault(row.feature, []).append(row)
        features = tuple(sorted(by_feature))
        cutoffs = scorecard.grade_cutoffs or default_grade_cutoffs(
            base_score=float(scorecard.base_score),
            base_odds=float(scorecard.base_odds),
            pdo=float(scorecard.pdo),
        )
        table = cls(
            scorecard_id=scorecard.pk,
            features=features,
            labels=tuple(feature_label(f) for f in features),
            bins=tuple(_feature_bins(by_feature[f]) for f in features),
            base_score=float(scorecard.base_score),
            base_odds=float(scorecard.base_odds),
            pdo=float(scorecard.pdo),
            grade_names=tuple(str(g) for g, _ in cutoffs),
            grade_cutoffs=np.array([float(c) for _, c in reversed(cutoffs)], dtype=np.float64),
            stamp=scorecard.updated_at,
        )
        _TABLES[scorecard.pk] = table
        return table

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"X must be n × {len(self.features)} (columns {self.features})")
        return X

    def bin_positions(self, X: np.ndarray) -> np.ndarray:
        """(n × f) positions into each feature's bins (the last one is the missing bin)."""
        X = self._check(X)
        positions = np.empty(X.shape, dtype=np.intp)
        for j, feature_bins in enumerate(self.bins):
            positions[:, j] = feature_bins.positions(X[:, j])
        return positions

    def bin_indices(self, X: np.ndarray) -> np.ndarray:
        """(n × f) ``ScorecardBin.bin_index`` of each value's bin."""
        positions = self.bin_positions(X)
        out = np.empty(positions.shape, dtype=np.int64)
        for j, feature_bins in enumerate(self.bins):
            out[:, j] = feature_bins.bin_index[positions[:, j]]
        return out

    def points_matrix(self, X: np.ndarray) -> np.ndarray:
        return self.points_at(self.bin_positions(X))

    def points_at(self, positions: np.ndarray) -> np.ndarray:
        """(n × f) points of the bins at ``positions`` (from ``bin_positions``)."""
        points = np.empty(positions.shape, dtype=np.float64)
        for j, feature_bins in enumerate(self.bins):
            points[:, j] = feature_bins.points[positions[:, j]]
        return points

    def scores(self, X: np.ndarray) -> np.ndarray:
        return self.points_matrix(X).sum(axis=1)

    def grades(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        at_or_above = np.searchsorted(self.grade_cutoffs, scores, side="right")
        best_first = np.minimum(len(self.grade_names) - at_or_above, len(self.grade_names) - 1)
        return np.array(self.grade_names, dtype=object)[best_first]

    def grade_of(self, score: float) -> str:
        at_or_above = bisect.bisect_right(self.grade_cutoffs.tolist(), score)
        return self.grade_names[min(len(self.grade_names) - at_or_above, len(self.grade_names) - 1)]

    def probabilities_of_default(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        odds = self.base_odds * np.exp2((scores - self.base_score) / self.pdo)
        return 1.0 / (1.0 + odds)

    def score_row(self, values: list[float]) -> tuple[list[float], list[int]]:
        """(points, bin positions) of one row in plain Python; equal to the matrix methods."""
        positions = [b.position_of(v) for b, v in zip(self.bins, values, strict=True)]
        points = [b.points_list[i] for b, i in zip(self.bins, positions, strict=True)]
        return points, positions

    def reason_codes(
        self, points_row: np.ndarray, values_row: np.ndarray, top: int = 3
    ) -> list[dict]:
        """The features that cost the most points against their best bin, worst first."""
        values_row = np.asarray(values_row, dtype=np.float64)
        positions = self.bin_positions(values_row[None, :])[0]
        return self._reasons(np.asarray(points_row, dtype=np.float64), values_row, positions, top)

    def reason_codes_many(self, points: np.ndarray, X: np.ndarray, top: int = 3) -> list[list]:
        """``reason_codes`` of every row, with the bin lookups done once for the whole matrix."""
        X = self._check(X)
        positions = self.bin_positions(X)
        points = np.asarray(points, dtype=np.float64)
        return [self._reasons(points[i], X[i], positions[i], top) for i in range(len(X))]

    def worst(self, points_row, top: int = 3) -> list[int]:
        """The features (column numbers) that cost points against their best bin, worst first
        (ties: column order), at most ``top``."""
        shortfall = [b.best_points - p for b, p in zip(self.bins, points_row, strict=True)]
        order = sorted(
            (j for j in range(len(self.features)) if shortfall[j] > 1e-9),
            key=lambda j: (-shortfall[j], j),
        )
        return order[:top]

    def _reasons(self, points_row, values_row, positions, top: int) -> list[dict]:
        return [
            self.reason(j, int(positions[j]), float(values_row[j]))
            for j in self.worst(points_row, top)
        ]

    def codes(self, points_row, positions, top: int = 3) -> list[list]:
        """The reason codes as stored: ``[[feature, bin_index], …]``, worst first."""
        return [
            [self.features[j], int(self.bins[j].bin_index[int(positions[j])])]
            for j in self.worst(points_row, top)
        ]

    def stored_reasons(self, codes, feature_values) -> list[dict]:
        """Stored reason codes (``codes``) rendered as ``reason_codes`` renders them, with the
        stored feature values (in ``features`` order). A feature this table does not have is
        skipped."""
        column = {feature: j for j, feature in enumerate(self.features)}
        reasons = []
        for feature, bin_index in codes or []:
            j = column.get(feature)
            if j is None:
                continue
            value = feature_values[j] if j < len(feature_values or []) else None
            position = self.bins[j].position_of_index(int(bin_index))
            reasons.append(self.reason(j, position, math.nan if value is None else float(value)))
        return reasons

    def reason(self, j: int, position: int, value: float) -> dict:
        """One reason code: feature ``j`` scored in the bin at ``position`` for ``value``."""
        feature, label, feature_bins = self.features[j], self.labels[j], self.bins[j]
        missing = position == feature_bins.missing_position
        points = feature_bins.points_list[position]
        best = feature_bins.best_points
        lost = best - points
        tail = f"得 {format_number(points)} 分，比该项最高分少 {format_number(round(lost, 2))} 分"
        if math.isnan(value):
            text = f"{label}缺失，按“缺失”分箱计分：{tail}"
        elif missing:
            text = (
                f"{label}为 {format_number(value)}，不在评分卡任何分箱内，按“缺失”分箱计分：{tail}"
            )
        else:
            bin_label = feature_bins.labels[position]
            text = f"{label}为 {format_feature_value(feature, value)}（分箱 {bin_label}），{tail}"
        return {
            "feature": feature,
            "label": label,
            "value": None if math.isnan(value) else value,
            "bin": feature_bins.labels[position],
            "points": round(points, 2),
            "best_points": round(float(best), 2),
            "shortfall": round(lost, 2),
            "text": text,
            "missing": missing,
        }


def feature_label(name: str) -> str:
    try:
        return str(HouseholdFeatures._meta.get_field(name).verbose_name)
    except Exception:  # a feature the catalogue no longer has: show its name
        return name


def clear_cache() -> None:
    _TABLES.clear()
    _CARDS.clear()
    _LOOKUPS.clear()


# --- champion / challenger -------------------------------------------------------------------


def shadow_bucket(household_id) -> int:
    """0–99, fixed for a household forever: the first 8 bytes of sha256(str(id)) mod 100."""
    digest = hashlib.sha256(str(household_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def challenger_assigned(household_id, challenger: Scorecard | None = None) -> bool:
    """Whether a challenger also scores this household in shadow (sticky, never random)."""
    percent = challenger.shadow_percent if challenger is not None else DEFAULT_SHADOW_PERCENT
    return shadow_bucket(household_id) < percent


def challenger_mask(household_ids: Iterable, challenger: Scorecard | None = None) -> np.ndarray:
    ids = list(household_ids)
    return np.fromiter((challenger_assigned(h, challenger) for h in ids), bool, len(ids))


_CARDS: dict[int, Scorecard] = {}
# Which scorecards are champion/challenger for (bank, segment), remembered for a few seconds: a
# request then spends no query on it. The process that changes a status forgets at once
# (``clear_cache`` from the registry); other processes within LOOKUP_SECONDS.
LOOKUP_SECONDS = 5.0
_LOOKUPS: dict[tuple[int, str], tuple[float, list]] = {}


def _candidates_sql() -> str:
    scorecard, segment = Scorecard._meta.db_table, ScoringSegment._meta.db_table
    return (
        f"SELECT c.id, c.status, c.bank_id, s.code, s.bank_id, c.updated_at "
        f"FROM {scorecard} c JOIN {segment} s ON s.id = c.segment_id "
        f"WHERE s.code IN (%s, %s) AND c.status IN (%s, %s) "
        f"AND (c.bank_id = %s OR c.bank_id IS NULL) AND (s.bank_id = %s OR s.bank_id IS NULL)"
    )


def _card(pk: int, stamp) -> Scorecard:
    """The scorecard, from the process cache while its ``updated_at`` is unchanged."""
    cached = _CARDS.get(pk)
    if cached is None or cached.updated_at != stamp:
        cached = _CARDS[pk] = Scorecard.objects.select_related("segment").get(pk=pk)
    return cached


def synthetic_refusal(scorecard: Scorecard) -> str | None:
    """Why ``scorecard`` may not score real households, or ``None`` when it may.

    A scorecard trained on synthetic data has never been checked against real repayments: with
    ``RISK_ALLOW_SYNTHETIC_CHAMPION`` off (the production default) it stays a draft, never a
    challenger or champion, and scores no real household. Development keeps the demo's
    synthetic champions working.
    """
    if scorecard.source != Scorecard.Source.SYNTHETIC or settings.RISK_ALLOW_SYNTHETIC_CHAMPION:
        return None
    return (
        f"评分卡“{scorecard}”由合成数据训练，未经真实贷款表现检验，"
        "生产环境只能作为草稿在沙箱中试算，不能提交、晋级或为真实农户评分"
    )


def scorecards_for(*, bank_id: int, segment: str) -> tuple[Scorecard | None, Scorecard | None]:
    """(champion, challenger) for a bank's household of ``segment``: one small query (at most
    every ``LOOKUP_SECONDS``), the scorecards from a cache checked against ``updated_at``
    (shared objects: read only).

    The bank's own scorecard wins over the federation's; a segment with no champion is scored by
    the farmer champion (the default segment). The challenger is the segment's own.
    """
    champion_status, challenger_status = Scorecard.Status.CHAMPION, Scorecard.Status.CHALLENGER
    key, now = (bank_id, segment), time.monotonic()
    cached = _LOOKUPS.get(key)
    if cached is not None and now - cached[0] < LOOKUP_SECONDS:
        rows = cached[1]
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                _candidates_sql(),
                [segment, DEFAULT_SEGMENT, champion_status, challenger_status, bank_id, bank_id],
            )
            rows = cursor.fetchall()
        # Most specific first: the bank's own scorecard, then one on the bank's own segment.
        rows.sort(key=lambda r: (r[2] is None, r[4] is None))
        _LOOKUPS[key] = (now, rows)

    def first(code, status):
        row = next((r for r in rows if r[3] == code and r[1] == status), None)
        return None if row is None else _card(row[0], row[5])

    champion = first(segment, champion_status) or first(DEFAULT_SEGMENT, champion_status)
    challenger = first(segment, challenger_status)
    # One place for the online and the batch path: a synthetic champion (promoted before the
    # rule, or while it was allowed) refuses to score; a synthetic challenger scores no shadow.
    if champion is not None and (refusal := synthetic_refusal(champion)):
        raise ValidationError({"scorecard": refusal})
    if challenger is not None and synthetic_refusal(challenger):
        challenger = None
    return champion, challenger


# --- one household -----------------------------------------------------------------------------


def _feature_row(household) -> dict[str, float | None]:
    from risk.features import household_feature_row

    return household_feature_row(household)


def _segment_of(row: Mapping[str, float | None]) -> str:
    from risk.features import segment_for_row

    return segment_for_row(row)


def _scored(*, household, scorecard: Scorecard, role: str, row: Mapping, scored_at):
    table = PointsTable.load(scorecard)
    values = [math.nan if row.get(f) is None else float(row[f]) for f in table.features]
    points, positions = table.score_row(values)
    score = math.fsum(points)
    grade = table.grade_of(score)
    probability = 1.0 / (1.0 + table.base_odds * 2 ** ((score - table.base_score) / table.pdo))
    return HouseholdScore(
        household=household,
        bank_id=household.bank_id,
        scorecard=scorecard,
        role=role,
        score=Decimal(repr(score)).quantize(FEN, ROUND_HALF_UP),
        grade=grade,
        probability_of_default=Decimal(repr(probability)).quantize(PD_PLACES, ROUND_HALF_UP),
        feature_values=[row.get(f) for f in table.features],
        reason_codes=table.codes(points, positions, 3),
        scored_at=scored_at,
    )


# The columns a score row is written with, here and by the batch COPY (``risk.bulk_scoring``).
SCORE_COLUMNS = (
    "job_id",
    "scored_at",
    "household_id",
    "bank_id",
    "scorecard_id",
    "role",
    "score",
    "grade",
    "probability_of_default",
    "feature_values",
    "reason_codes",
)


def _insert(scores: list[HouseholdScore]) -> None:
    """One INSERT for the champion and its shadow: both rows or neither, no transaction needed.
    Written directly rather than through ``bulk_create``, whose per-field preparation is a
    third of a request's scoring time."""
    row = "(NULL, %s, %s, %s, %s, %s, %s, %s, %s, %s::float8[], %s::jsonb)"
    params = []
    for s in scores:
        params += [
            s.scored_at,
            s.household_id,
            s.bank_id,
            s.scorecard_id,
            s.role,
            s.score,
            s.grade,
            s.probability_of_default,
            s.feature_values,
            json.dumps(s.reason_codes, ensure_ascii=False),
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {HouseholdScore._meta.db_table} ({', '.join(SCORE_COLUMNS)}) "
            f"VALUES {', '.join([row] * len(scores))} RETURNING id",
            params,
        )
        for s, (pk,) in zip(scores, cursor.fetchall(), strict=True):
            s.pk = s.id = pk
            s._state.adding = False


def score_household(*, household, role: str = "champion", scored_at=None) -> HouseholdScore:
    """Score one household now and store it (with a shadow challenger score when assigned).

    ``role="challenger"`` scores with the challenger only (e.g. to compare on demand).
    """
    if role not in HouseholdScore.Role.values:
        raise ValidationError({"role": f"未知的评分角色 {role}"})
    row = _feature_row(household)
    segment = _segment_of(row)
    champion, challenger = scorecards_for(bank_id=household.bank_id, segment=segment)
    chosen = champion if role == HouseholdScore.Role.CHAMPION else challenger
    if chosen is None:
        what = "生产(冠军)" if role == HouseholdScore.Role.CHAMPION else "挑战者"
        raise ValidationError({"scorecard": f"客群“{segment}”没有{what}评分卡，无法评分"})
    scored_at = scored_at or timezone.now()
    scores = [
        _scored(household=household, scorecard=chosen, role=role, row=row, scored_at=scored_at)
    ]
    if (
        role == HouseholdScore.Role.CHAMPION
        and challenger is not None
        and challenger_assigned(household.pk, challenger)
    ):
        scores.append(
            _scored(
                household=household,
                scorecard=challenger,
                role=HouseholdScore.Role.CHALLENGER,
                row=row,
                scored_at=scored_at,
            )
        )
    _insert(scores)
    return scores[0]
