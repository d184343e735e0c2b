"""Training a scorecard: validate a dataset, bin, fit, scale to points, measure.

The pipeline is optbinning's ``BinningProcess`` (optimal monotonic bins per feature, a minimum
bin share, IV-based feature selection) feeding scikit-learn's ``LogisticRegression``, wrapped in
optbinning's ``Scorecard`` with PDO scaling and integer points::

    score = base_score + pdo / ln 2 * ln(odds / base_odds),   odds = good : bad

so each bin's points are what the points table (``ScorecardBin``) stores and what scoring adds up.

Datasets come from three places, all ending in the same ``train_scorecard_model``:
- an uploaded CSV with a target column (``read_training_csv``);
- the synthetic history (``risk.synthetic``), for the demo and tests;
- matured loan outcomes in the database (``outcomes_training_frame``), once the lending layer
  registers where they come from (it sits above risk and cannot be imported here).

Nothing here writes to the database; ``risk.registry`` stores a result as a scorecard version.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from risk.models import HouseholdFeatures

Progress = Callable[[int, str], None]

# Risk against the feature, where the shape is known; optbinning finds the direction otherwise.
# "valley": risk falls, then rises (young and old heads of household are riskier).
MONOTONIC_TRENDS = {"head_age": "valley"}
DEFAULT_TREND = "auto_asc_desc"
MISSING_TEXT = {"", "na", "n/a", "nan", "null", "none", "-", "—", "缺失", "空"}


class TrainingDataError(ValidationError):
    """The dataset cannot train a scorecard; ``message_dict`` names the column and the reason."""


def catalogue_features() -> tuple[str, ...]:
    """The feature columns a scorecard may use: the numeric columns of ``HouseholdFeatures``."""
    return tuple(
        f.name for f in HouseholdFeatures._meta.concrete_fields if isinstance(f, models.FloatField)
    )


@dataclass(frozen=True)
class TrainingSettings:
    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0
    test_share: float = 0.3
    random_seed: int = 42
    min_bin_share: float = 0.05
    max_bins: int = 8
    min_iv: float = 0.02
    target: str = "bad"
    min_rows: int = 200
    min_bads: int = 20
    # The synthetic source only: who the generated households are (``risk.synthetic.Population``
    # as a dict; None = the segment's defaults). Kept with the training run's settings.
    synthetic_population: dict | None = None

    def check(self) -> None:
        problems = {}
        if self.synthetic_population is not None:
            from risk.synthetic import Population

            try:
                Population.of(self.synthetic_population)
            except (TypeError, ValueError) as error:
                problems["synthetic_population"] = f"合成样本总体描述无效：{error}"
        if not self.pdo > 0:
            problems["pdo"] = "翻倍分数(PDO)必须大于0"
        if not self.base_odds > 0:
            problems["base_odds"] = "基准好坏比必须大于0"
        if not 0.05 <= self.test_share <= 0.5:
            problems["test_share"] = "测试集比例应在 0.05 到 0.5 之间"
        if not 0.01 <= self.min_bin_share <= 0.3:
            problems["min_bin_share"] = "最小分箱占比应在 0.01 到 0.3 之间"
        if not 2 <= self.max_bins <= 20:
            problems["max_bins"] = "最大分箱数应在 2 到 20 之间"
        if problems:
            raise TrainingDataError(problems)


@dataclass(frozen=True)
class BinRow:
    """One row of the points table, ready to become a ``ScorecardBin``."""

    feature: str
    bin_index: int
    kind: str  # ScorecardBin.Kind value
    label: str
    lower: float | None
    upper: float | None
    categories: list | None
    count: int
    event_rate: float
    woe: float
    points: float


@dataclass
class TrainingResult:
    settings: TrainingSettings
    model: Any  # the fitted optbinning Scorecard
    features: tuple[str, ...]  # selected, in the points table's column order
    candidates: tuple[str, ...]
    ignored_columns: tuple[str, ...]
    bins: list[BinRow]
    metrics: dict
    feature_iv: dict[str, float]
    baseline: dict
    rows: int
    bads: int
    X_test: pd.DataFrame = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    test_index: np.ndarray = field(repr=False)  # positions of the test rows in the input frame


def load_optbinning():
    """Import optbinning without the warning cvxpy prints about its HiGHS solver on import.

    The warning is harmless (optbinning uses OR-Tools here) but would litter every command's and
    test's output; import order matters too: optbinning must load OR-Tools before cvxpy does.
    """
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stderr(io.StringIO()),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        import optbinning
    return optbinning


# --- Reading and validating ------------------------------------------------------------------


def read_training_csv(source) -> pd.DataFrame:
    """A CSV (path or file object) as text columns; ``prepare_training_data`` parses numbers so it
    can name the cell that is not one. UTF-8 with or without BOM, or GBK from Chinese Excel."""
    raw = source.read() if hasattr(source, "read") else Path(source).read_bytes()
    text = raw if isinstance(raw, str) else _decode(raw)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TrainingDataError({NON_FIELD_ERRORS: f"CSV 文件无法解析：{exc}"}) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _decode(raw: bytes) -> str:
    """UTF-8, else GB18030 (Excel's "CSV" on a Chinese Windows). Short GB text can happen to be
    valid UTF-8 too; such a misreading is full of Latin-extended and IPA letters (U+0100–U+07FF)
    that a Chinese dataset never contains, so that tells the two apart."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is not None and not any("\u0100" <= ch <= "\u07ff" for ch in text):
        return text
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        if text is not None:
            return text
    raise TrainingDataError({NON_FIELD_ERRORS: "文件编码无法识别，请另存为 UTF-8 CSV"})


def _parse_numeric(column: pd.Series) -> tuple[pd.Series, list[str]]:
    """Numbers from a column; the second value lists the first few cells that are not numbers."""
    if pd.api.types.is_bool_dtype(column):
        column = column.astype(float)
    if pd.api.types.is_numeric_dtype(column):
        values = column.astype(float)
        bad = values.index[np.isinf(values.to_numpy())]
    else:
        text = column.astype(str).str.strip().str.replace(",", "", regex=False)
        text = text.where(~text.str.lower().isin(MISSING_TEXT) & column.notna(), None)
        values = pd.to_numeric(text, errors="coerce").astype(float)
        bad = values.index[(values.isna() & text.notna()) | np.isinf(values.to_numpy())]
    examples = [f"第{i + 1}行“{column.loc[i]}”" for i in list(bad[:3])]
    return values.replace([np.inf, -np.inf], np.nan), examples


@dataclass(frozen=True)
class PreparedData:
    X: pd.DataFrame
    y: np.ndarray
    features: tuple[str, ...]
    ignored_columns: tuple[str, ...]


def prepare_training_data(
    frame: pd.DataFrame,
    *,
    settings: TrainingSettings = TrainingSettings(),
    features: list[str] | tuple[str, ...] | None = None,
) -> PreparedData:
    """Validate ``frame`` and split it into a float feature matrix and a 0/1 target.

    Every problem names its column: a missing target column, a target that is not 0/1, too few
    rows or bads, a constant target, text in a numeric column, a feature with no values at all.
    """
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    target = settings.target
    if target not in frame.columns:
        raise TrainingDataError(
            {target: f"缺少目标列“{target}”（1=坏客户：12个月内曾逾期90天以上，0=好客户）"}
        )
    if len(frame) < settings.min_rows:
        raise TrainingDataError(
            {NON_FIELD_ERRORS: f"训练样本只有 {len(frame)} 行，至少需要 {settings.min_rows} 行"}
        )

    known = catalogue_features()
    if features is None:
        candidates = [c for c in frame.columns if c in known]
    else:
        unknown = [c for c in features if c not in known]
        absent = [c for c in features if c in known and c not in frame.columns]
        if unknown:
            raise TrainingDataError(dict.fromkeys(unknown, "不是特征目录中的特征"))
        if absent:
            raise TrainingDataError(dict.fromkeys(absent, "数据集中没有这一列"))
        candidates = list(features)
    if not candidates:
        raise TrainingDataError(
            {NON_FIELD_ERRORS: "数据集中没有可用的特征列（列名须与特征目录一致，如 head_age）"}
        )
    ignored = tuple(c for c in frame.columns if c != target and c not in candidates)

    problems: dict[str, str] = {}
    y_values, bad_cells = _parse_numeric(frame[target])
    if bad_cells:
        problems[target] = f"目标列只能是 0 或 1，{'、'.join(bad_cells)} 不是数字"
    else:
        missing = y_values.index[y_values.isna()]
        invalid = y_values.index[y_values.notna() & ~y_values.isin([0, 1])]
        if len(missing):
            rows = "、".join(str(i + 1) for i in missing[:5])
            problems[target] = f"目标列有 {len(missing)} 行为空（第 {rows} 行）"
        elif len(invalid):
            cells = "、".join(f"第{i + 1}行“{frame[target].loc[i]}”" for i in invalid[:3])
            problems[target] = f"目标列只能是 0 或 1，{cells} 不是"
    columns = {}
    for name in candidates:
        values, bad_cells = _parse_numeric(frame[name])
        if bad_cells:
            problems[name] = f"数值列中有非数字内容：{'、'.join(bad_cells)}"
        elif values.isna().all():
            problems[name] = "该特征全部为空，无法分箱"
        columns[name] = values
    if problems:
        raise TrainingDataError(problems)

    y = y_values.to_numpy().astype(int)
    bads = int(y.sum())
    if bads in (0, len(y)):
        raise TrainingDataError({target: f"目标列全部为 {y[0]}，没有好坏之分，无法训练"})
    if bads < settings.min_bads:
        raise TrainingDataError({target: f"坏样本只有 {bads} 个，至少需要 {settings.min_bads} 个"})
    X = pd.DataFrame(columns, columns=candidates)
    return PreparedData(X=X, y=y, features=tuple(candidates), ignored_columns=ignored)


# --- Database outcomes -----------------------------------------------------------------------

_outcome_provider: Callable | None = None


def register_outcome_provider(provider: Callable) -> None:
    """The lending layer registers ``provider(segment, bank) -> DataFrame[household_id, bad]``:
    households with a loan that matured or went 90+ days past due, bad = ever 90+ DPD within
    12 months. (Risk sits below lending, so it is told where outcomes are, never imports them.)"""
    global _outcome_provider
    _outcome_provider = provider


def outcomes_training_frame(*, segment, bank=None, target: str = "bad") -> pd.DataFrame:
    """Training data from matured loan outcomes joined to the households' feature rows.

    Raises ``TrainingDataError`` while there are no matured outcomes (no lending layer yet, or no
    loan old enough): train from an uploaded CSV or from the synthetic history instead.
    """
    outcomes = _outcome_provider(segment, bank) if _outcome_provider is not None else None
    if outcomes is None or len(outcomes) == 0:
        raise TrainingDataError(
            {
                NON_FIELD_ERRORS: "还没有到期的贷款表现数据（贷款到期或逾期90天以上才算表现期满），"
                "无法从本行历史训练；请上传带目标列的CSV或使用合成数据"
            }
        )
    names = list(catalogue_features())
    rows = HouseholdFeatures.objects.filter(household_id__in=list(outcomes["household_id"])).values(
        "household_id", *names
    )
    features = pd.DataFrame.from_records(list(rows), columns=["household_id", *names])
    joined = outcomes.rename(columns={"bad": target}).merge(features, on="household_id")
    return joined.drop(columns=["household_id"])


# --- Training --------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:,.6g}" if abs(value) >= 1000 else f"{value:.6g}"


def _numeric_label(lower: float | None, upper: float | None) -> str:
    if lower is None and upper is None:
        return "全部取值"
    if lower is None:
        return f"< {_number(upper)}"
    if upper is None:
        return f"≥ {_number(lower)}"
    return f"[{_number(lower)}, {_number(upper)})"


def _bin_rows(model, features: tuple[str, ...]) -> list[BinRow]:
    table = model.table(style="detailed")
    rows: list[BinRow] = []
    for name in features:
        part = table[table["Variable"] == name].reset_index(drop=True)
        splits = [float(s) for s in model.binning_process_.get_binned_variable(name).splits]
        edges = [None, *splits, None]
        n_numeric = len(splits) + 1
        for i in range(len(part)):
            record = part.loc[i]
            if i < n_numeric:
                kind, lower, upper = "numeric", edges[i], edges[i + 1]
                label = _numeric_label(lower, upper)
            elif i == len(part) - 1:
                kind, lower, upper, label = "missing", None, None, "缺失"
            else:
                kind, lower, upper, label = "special", None, None, "特殊值"
            rows.append(
                BinRow(
                    feature=name,
                    bin_index=i,
                    kind=kind,
                    label=label,
                    lower=lower,
                    upper=upper,
                    categories=[] if kind == "special" else None,
                    count=int(record["Count"]),
                    event_rate=float(record["Event rate"]),
                    woe=float(record["WoE"]),
                    points=float(record["Points"]),
                )
            )
    return rows


def discrimination(y: np.ndarray, scores: np.ndarray) -> dict:
    """AUC, KS and Gini of scores where a higher score means a lower risk."""
    from sklearn.metrics import roc_auc_score, roc_curve

    auc = float(roc_auc_score(y, -scores))
    fpr, tpr, _ = roc_curve(y, -scores)
    return {
        "auc": round(auc, 4),
        "ks": round(float(np.max(tpr - fpr)), 4),
        "gini": round(2 * auc - 1, 4),
        "rows": len(y),
        "bads": int(y.sum()),
        "bad_rate": round(float(y.mean()), 4),
    }


def train_scorecard_model(
    frame: pd.DataFrame,
    *,
    settings: TrainingSettings = TrainingSettings(),
    features: list[str] | tuple[str, ...] | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Validate, split (stratified, fixed seed), bin, fit and measure a scorecard."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from risk.monitoring import baseline_from_sample

    report = progress or (lambda percent, step: None)
    settings.check()
    report(5, "校验数据")
    data = prepare_training_data(frame, settings=settings, features=features)
    X, y = data.X, data.y

    train_index, test_index = train_test_split(
        np.arange(len(y)),
        test_size=settings.test_share,
        random_state=settings.random_seed,
        stratify=y,
    )
    X_train, y_train = X.iloc[train_index], y[train_index]
    X_test, y_test = X.iloc[test_index].reset_index(drop=True), y[test_index]
    report(15, f"划分训练集 {len(train_index)} 行、测试集 {len(test_index)} 行")

    optbinning = load_optbinning()
    candidates = list(data.features)
    binning = optbinning.BinningProcess(
        variable_names=candidates,
        min_bin_size=settings.min_bin_share,
        max_n_bins=settings.max_bins,
        selection_criteria={"iv": {"min": settings.min_iv}},
        binning_fit_params={
            name: {"monotonic_trend": MONOTONIC_TRENDS.get(name, DEFAULT_TREND)}
            for name in candidates
        },
    )
    model = optbinning.Scorecard(
        binning_process=binning,
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": float(settings.pdo),
            "odds": float(settings.base_odds),
            "scorecard_points": float(settings.base_score),
        },
        rounding=True,
    )
    report(25, "最优分箱与逻辑回归")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y_train, metric_missing="empirical", metric_special="empirical")
    except ValueError as exc:
        if "no variables" in str(exc).lower() or "0 feature" in str(exc):
            raise _no_feature_selected(settings) from exc
        raise
    selected = tuple(str(name) for name in model.binning_process_.get_support(names=True))
    if not selected:
        raise _no_feature_selected(settings)
    report(70, f"入模特征 {len(selected)} 个")

    with warnings.catch_warnings():  # optbinning's own pandas deprecations
        warnings.simplefilter("ignore")
        bins = _bin_rows(model, selected)
        train_scores = model.score(X_train)
        test_scores = model.score(X_test)
        summary = model.binning_process_.summary()
    feature_iv = {
        str(row["name"]): round(float(row["iv"]), 4)
        for _, row in summary.sort_values("iv", ascending=False).iterrows()
        if not math.isnan(float(row["iv"]))
    }
    report(85, "计算模型指标")
    return TrainingResult(
        settings=settings,
        model=model,
        features=selected,
        candidates=data.features,
        ignored_columns=data.ignored_columns,
        bins=bins,
        metrics={
            "train": discrimination(y_train, train_scores),
            "test": discrimination(y_test, test_scores),
        },
        feature_iv=feature_iv,
        baseline=baseline_from_sample(train_scores, X_train),
        rows=len(y),
        bads=int(y.sum()),
        X_test=X_test,
        y_test=y_test,
        test_index=test_index,
    )


def _no_feature_selected(settings: TrainingSettings) -> TrainingDataError:
    return TrainingDataError(
        {NON_FIELD_ERRORS: f"没有特征的信息值(IV)达到 {settings.min_iv}，无法建立评分卡"}
    )
