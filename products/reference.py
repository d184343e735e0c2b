"""Reference data the products app cannot work without: the published LPR history.

The same rows are written by migration 0002 for a new database. They are also re-ensured after
every migrate and after a test-database flush (post_migrate), so a database whose tables were
emptied — as transactional tests do — still prices loans.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

LPR_HISTORY = [
    ("2019-08-20", "4.25", "4.85"),
    ("2019-09-20", "4.20", "4.85"),
    ("2019-11-20", "4.15", "4.80"),
    ("2020-02-20", "4.05", "4.75"),
    ("2020-04-20", "3.85", "4.65"),
    ("2021-12-20", "3.80", "4.65"),
    ("2022-01-20", "3.70", "4.60"),
    ("2022-05-20", "3.70", "4.45"),
    ("2022-08-22", "3.65", "4.30"),
    ("2023-06-20", "3.55", "4.20"),
    ("2023-08-21", "3.45", "4.20"),
    ("2024-02-20", "3.45", "3.95"),
    ("2024-07-22", "3.35", "3.85"),
    ("2024-10-21", "3.10", "3.60"),
    ("2025-05-20", "3.00", "3.50"),
]


def lpr_history_ensure() -> int:
    """Insert the published rows that are missing; returns how many were inserted."""
    from products.models import LoanPrimeRate

    present = set(LoanPrimeRate.objects.values_list("effective_date", flat=True))
    missing = [
        LoanPrimeRate(
            effective_date=datetime.date.fromisoformat(day),
            lpr_1y=Decimal(one_year),
            lpr_5y_plus=Decimal(five_year),
        )
        for day, one_year, five_year in LPR_HISTORY
        if datetime.date.fromisoformat(day) not in present
    ]
    LoanPrimeRate.objects.bulk_create(missing)
    return len(missing)


def ensure_after_migrate(sender, **kwargs) -> None:
    if sender.name == "products":
        lpr_history_ensure()
