"""The federation's seeded rule catalogue (editable afterwards; idempotent)."""

from django.db import migrations


def seed(apps, schema_editor):
    from risk.rules.services import rules_seed_catalogue

    rules_seed_catalogue(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0009_rules_and_derived_features"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
