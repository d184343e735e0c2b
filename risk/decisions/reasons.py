"""Reason codes of a decision and their Chinese text, rendered on display (a decision stores
codes only). A rule's text comes from the rule version the decision names; the engine's own,
the providers' and the limit and pricing formulas' from their catalogues."""

from __future__ import annotations

from collections.abc import Iterable

from risk.decisions.engine import ENGINE_REASONS, REASON_SOURCES


def provider_problems_catalogue() -> tuple:
    from risk.providers.base import PROVIDER_PROBLEMS

    return PROVIDER_PROBLEMS


def provider_problem(index: int) -> tuple[str, str]:
    """``(reason code, 中文原因)`` of a provider problem index (``risk.providers``)."""
    entry = provider_problems_catalogue()[index]
    if entry is None:
        raise KeyError(index)
    return entry[0], entry[1]


def provider_problem_index(code: str) -> int:
    for index, entry in enumerate(provider_problems_catalogue()):
        if entry is not None and entry[0] == code:
            return index
    raise KeyError(code)


def reason_text(code: str, rule_texts: dict[str, str] | None = None) -> str:
    if rule_texts and code in rule_texts:
        return rule_texts[code]
    if code in ENGINE_REASONS:
        return ENGINE_REASONS[code][0]
    for entry in provider_problems_catalogue():
        if entry is not None and entry[0] == code:
            return entry[1]
    return code


def reasons_display(codes: Iterable[str], rule_texts: dict[str, str] | None = None) -> list[dict]:
    return [{"code": c, "text": reason_text(c, rule_texts)} for c in codes]


def source_label(source: str) -> str:
    return REASON_SOURCES.get(source, source or "")
