"""The interface every external data provider implements, and the problems a call can end in.

A provider answers for one source (``risk.external_features.EXTERNAL_SOURCES``): ``fetch`` returns
the response as received (a JSON-able mapping), ``parse`` turns it into the source's features
(``FEATURES_BY_SOURCE``), raising ``ProviderMalformed`` on garbage and ``ProviderEmpty`` on an
answer with nothing in it. A real provider raises ``ProviderTimeout`` when its call exceeds the
timeout it is given and ``ProviderUnavailable`` on a 5xx or a refused connection. A provider that
can answer a whole column at once (a batch file, or the sandbox's arithmetic) also implements
``answer_many``.

None of these outcomes is ever an approval: the service turns each into a problem, and the
decision engine refers the application with the problem's reason (e.g. “征信查询超时”).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from risk.external_features import EXTERNAL_FEATURES, EXTERNAL_SOURCES

FEATURES_BY_SOURCE: dict[str, tuple[str, ...]] = {
    source: tuple(f.name for f in EXTERNAL_FEATURES if f.source == source)
    for source in EXTERNAL_SOURCES
}

TIMEOUT, UNAVAILABLE, MALFORMED, EMPTY = "timeout", "unavailable", "malformed", "empty"
KINDS = (TIMEOUT, UNAVAILABLE, MALFORMED, EMPTY)
_KIND_TEXT = {
    TIMEOUT: "查询超时",
    UNAVAILABLE: "服务异常",
    MALFORMED: "返回数据无法解析",
    EMPTY: "未返回数据",
}
_SOURCE_SHORT = {
    "credit_report": "征信",
    "court": "法院数据",
    "borrowing": "借贷意向数据",
    "antifraud": "外部反欺诈",
    "tax_social": "税务社保数据",
}
# Index 0 is "no problem"; decisions store the indexes, so entries are only ever appended.
PROVIDER_PROBLEMS: tuple[tuple[str, str] | None, ...] = (
    None,
    *(
        (f"{source}_{kind}", f"{_SOURCE_SHORT[source]}{_KIND_TEXT[kind]}")
        for source in EXTERNAL_SOURCES
        for kind in KINDS
    ),
)
_INDEX = {entry[0]: i for i, entry in enumerate(PROVIDER_PROBLEMS) if entry}


def problem_index(source: str, kind: str) -> int:
    return _INDEX[f"{source}_{kind}"]


def provider_problem(index: int) -> tuple[str, str] | None:
    return PROVIDER_PROBLEMS[int(index)]


@dataclass(frozen=True)
class Subject:
    """Whom a provider is asked about: the canonical 18-character ID number, and optionally the
    name and mobile some sources match on."""

    id_number: str
    name: str = ""
    phone: str | None = None


class ProviderError(Exception):
    kind = UNAVAILABLE


class ProviderTimeout(ProviderError):
    kind = TIMEOUT


class ProviderUnavailable(ProviderError):
    kind = UNAVAILABLE


class ProviderMalformed(ProviderError):
    kind = MALFORMED


class ProviderEmpty(ProviderError):
    kind = EMPTY


class ExternalDataProvider:
    """Subclass per source; configured by ``RISK_EXTERNAL_PROVIDERS`` (``risk.providers.registry``)
    with the ``options`` given there as keyword arguments."""

    source: str = ""
    sandbox: bool = False
    label: str = ""

    def __init__(self, **options) -> None:
        self.options = options

    def fetch(self, subject: Subject, *, timeout: float) -> Mapping:
        raise NotImplementedError

    def parse(self, raw: Mapping) -> dict[str, float | None]:
        raise NotImplementedError

    def fetch_many(self, subjects: Sequence[Subject], *, timeout: float) -> list:
        """Each subject's raw answer, or the ``ProviderError`` its call ended in."""
        out: list = []
        for subject in subjects:
            try:
                out.append(self.fetch(subject, timeout=timeout))
            except ProviderError as error:
                out.append(error)
        return out

    # A provider that answers a column at once overrides this:
    # ``answer_many(id_numbers) -> (features: {name: float64 array}, kinds: object array of ""
    # or a problem kind)``, equal row for row to ``parse(fetch(...))``.
    answer_many = None

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES_BY_SOURCE[self.source]


def empty_columns(source: str, n: int) -> dict[str, np.ndarray]:
    return {name: np.full(n, np.nan) for name in FEATURES_BY_SOURCE[source]}
