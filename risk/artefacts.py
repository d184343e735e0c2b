"""The fitted scorecard as a file: skops, never pickle.

A pickle runs whatever code its author put in it the moment it is loaded. skops stores the object
tree as data and, on loading, refuses any type that is not on an explicit trusted list, so a
swapped or doctored file cannot execute anything. The file's SHA-256 is kept on the scorecard
row; a file whose digest differs is refused before skops even opens it.

What is stored: optbinning's fitted ``BinningProcess`` (bins, WoE, IV of every candidate), the
fitted ``LogisticRegression`` and the scaled points table as plain columns (skops cannot store a
pandas DataFrame). ``artefact_load`` rebuilds a working optbinning ``Scorecard`` from them, so an
auditor can re-score a sample with the exact fitted object.
"""

from __future__ import annotations

import hashlib

import numpy as np

FORMAT_VERSION = 1

# Every non-builtin type an artefact may contain. skops' own defaults cover numpy, scipy and
# scikit-learn; these are listed anyway so the file's whole content is stated in one place.
TRUSTED_TYPES = [
    "optbinning.binning.binning.OptimalBinning",
    "optbinning.binning.binning_process.BinningProcess",
    "optbinning.binning.binning_statistics.BinningTable",
    "sklearn.linear_model._logistic.LogisticRegression",
]


_ENVELOPE_KEYS = {
    "binning_process",
    "estimator",
    "table",
    "intercept",
    "scaling_method",
    "scaling_method_params",
    "rounding",
    "metric_special",
    "metric_missing",
}


class ArtefactError(Exception):
    """The model file cannot be trusted or read; nothing was loaded."""


class ArtefactTampered(ArtefactError):
    pass


class ArtefactUntrusted(ArtefactError):
    pass


class ArtefactCorrupt(ArtefactError):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artefact_dumps(model) -> bytes:
    """The fitted optbinning ``Scorecard`` as skops bytes."""
    import zipfile

    import skops.io as sio

    table = model.table(style="detailed")
    columns = {
        "Variable": [str(v) for v in table["Variable"]],
        "Bin id": [int(v) for v in table["Bin id"]],
        "Bin": [str(v) for v in table["Bin"]],
        "Count": np.asarray(table["Count"], dtype=float),
        "Event rate": np.asarray(table["Event rate"], dtype=float),
        "WoE": np.asarray(table["WoE"], dtype=float),
        "Coefficient": np.asarray(table["Coefficient"], dtype=float),
        "Points": np.asarray(table["Points"], dtype=float),
    }
    envelope = {
        "format": FORMAT_VERSION,
        "binning_process": model.binning_process_,
        "estimator": model.estimator_,
        "table": columns,
        "intercept": float(model.intercept_),
        "scaling_method": model.scaling_method,
        "scaling_method_params": dict(model.scaling_method_params or {}),
        "rounding": bool(model.rounding),
        "metric_special": model._metric_special,
        "metric_missing": model._metric_missing,
    }
    return sio.dumps(envelope, compression=zipfile.ZIP_DEFLATED)


def artefact_loads(data: bytes, *, expected_sha256: str | None = None):
    """A working optbinning ``Scorecard`` from bytes written by ``artefact_dumps``.

    Raises ``ArtefactTampered`` when the digest differs from ``expected_sha256``,
    ``ArtefactUntrusted`` when the file holds a type outside ``TRUSTED_TYPES`` and
    ``ArtefactCorrupt`` when it is not a readable artefact at all.
    """
    import pandas as pd
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    from risk.training import load_optbinning

    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise ArtefactTampered("模型文件摘要与登记时不一致，文件可能被篡改，已拒绝加载")
    load_optbinning()  # the trusted optbinning classes must be importable, quietly
    try:
        envelope = sio.loads(data, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException as exc:
        raise ArtefactUntrusted(f"模型文件含有未经信任的类型，已拒绝加载：{exc}") from exc
    except Exception as exc:  # a zip or JSON error deep inside skops: the file is not ours
        raise ArtefactCorrupt(f"模型文件无法读取：{type(exc).__name__}") from exc
    if (
        not isinstance(envelope, dict)
        or envelope.get("format") != FORMAT_VERSION
        or not envelope.keys() >= _ENVELOPE_KEYS
    ):
        raise ArtefactCorrupt("模型文件格式不符，不是本系统导出的评分卡")

    from optbinning import Scorecard

    model = Scorecard(
        binning_process=envelope["binning_process"],
        estimator=envelope["estimator"],
        scaling_method=envelope["scaling_method"],
        scaling_method_params=envelope["scaling_method_params"] or None,
        rounding=envelope["rounding"],
    )
    model.binning_process_ = envelope["binning_process"]
    model.estimator_ = envelope["estimator"]
    model.intercept_ = envelope["intercept"]
    model._metric_special = envelope["metric_special"]
    model._metric_missing = envelope["metric_missing"]
    model._df_scorecard = pd.DataFrame(envelope["table"])
    model._is_fitted = True
    return model


def artefact_load(scorecard):
    """The fitted model of a registered scorecard, checked against its recorded digest."""
    if not scorecard.artefact:
        raise ArtefactCorrupt(f"评分卡 {scorecard} 没有模型文件")
    if not scorecard.artefact_sha256:
        raise ArtefactTampered(f"评分卡 {scorecard} 没有登记模型文件摘要，已拒绝加载")
    with scorecard.artefact.open("rb") as handle:
        data = handle.read()
    return artefact_loads(data, expected_sha256=scorecard.artefact_sha256)
