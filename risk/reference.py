"""The federation's default scoring segments, ensured after every migrate (and test flush)."""

from __future__ import annotations

DEFAULT_SEGMENTS = [
    ("farmer", "农户", "以种养殖为主要收入来源的农户"),
    ("urban_resident", "城镇居民", "县域城镇常住居民、工薪阶层"),
    ("individual_business", "个体工商户", "从事个体经营的农户和城镇居民"),
]


def segments_ensure() -> None:
    from risk.models import ScoringSegment

    for code, name, description in DEFAULT_SEGMENTS:
        ScoringSegment.objects.get_or_create(
            code=code, bank=None, defaults={"name": name, "description": description}
        )


def ensure_after_migrate(sender, **kwargs) -> None:
    segments_ensure()
