"""Seed the LPR table with the published history (NIFC, reformed LPR from 2019-08-20).

Only dates on which a value changed are listed (as in /work/shared/data/lpr.csv); the rate in
force on any later date is the latest row on or before it. Later publications are added in the
admin or with ``manage.py load_lpr``.
"""

from decimal import Decimal

from django.db import migrations

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


def seed(apps, schema_editor):
    LoanPrimeRate = apps.get_model("products", "LoanPrimeRate")
    for effective_date, lpr_1y, lpr_5y_plus in LPR_HISTORY:
        LoanPrimeRate.objects.get_or_create(
            effective_date=effective_date,
            defaults={"lpr_1y": Decimal(lpr_1y), "lpr_5y_plus": Decimal(lpr_5y_plus)},
        )


def unseed(apps, schema_editor):
    LoanPrimeRate = apps.get_model("products", "LoanPrimeRate")
    LoanPrimeRate.objects.filter(effective_date__in=[row[0] for row in LPR_HISTORY]).delete()


class Migration(migrations.Migration):
    dependencies = [("products", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
