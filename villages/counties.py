"""Reads: the counties (县/区) a bank works in, and the divisions it may take on as villages.

A bank's counties are those of the villages its branches already serve. Rural credit
cooperatives are chartered county by county (尧都农商行 serves 尧都区), and the villages they hold
say where that is without a second list to keep in step; the first village of a new bank is
added by operations (a superuser), who may take on any village.

A county is named by the first six digits of a code. That also covers the cities without
counties (东莞, 中山, 儋州), whose townships hang from the city: their villages share the
city's six digits.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Substr

from villages.models import Division, Village

COUNTY_DIGITS = 6


def county_code(division: Division) -> str:
    return division.code[:COUNTY_DIGITS]


def county_codes_served(bank_id: int) -> list[str]:
    """Six-digit county codes of the villages the bank serves, in code order."""
    codes = (
        Village.objects.filter(bank_id=bank_id)
        .annotate(county=Substr("division__code", 1, COUNTY_DIGITS))
        .values_list("county", flat=True)
        .distinct()
        .order_by("county")
    )
    return list(codes)


def county_names(codes: list[str]) -> dict[str, str]:
    """Six-digit county code → its name, for messages (the code itself when not loaded)."""
    full = [code.ljust(12, "0") for code in codes]
    names = dict(Division.objects.filter(code__in=full).values_list("code", "name"))
    return {code: names.get(code.ljust(12, "0"), code) for code in codes}


def code_prefix(prefix: str) -> Q:
    """Divisions whose code starts with the digits ``prefix``, as a range on the code's unique
    index (a ``LIKE 'prefix%'`` needs a pattern index, or a C collation, to avoid reading
    every division of the country)."""
    if prefix.strip("9") == "":  # 99… has no next prefix of the same length
        return Q(code__gte=prefix)
    upper = str(int(prefix) + 1).zfill(len(prefix))
    return Q(code__gte=prefix, code__lt=upper)


def within_counties(codes: list[str]) -> Q:
    """Divisions lying in one of the six-digit county ``codes``."""
    condition = Q(pk__in=[])
    for code in codes:
        condition |= code_prefix(code)
    return condition


def villages_to_take_on(bank_id: int) -> QuerySet[Division]:
    """Village-level divisions in the bank's counties (those another bank holds included: the
    form says why it refuses them)."""
    return Division.objects.filter(
        within_counties(county_codes_served(bank_id)), level=Division.Level.VILLAGE
    )
