"""Run reference-data writers once per migrate (and per test flush), after every app's."""

from __future__ import annotations


def is_last_post_migrate(sender) -> bool:
    """post_migrate fires once per app that has a models module, and each app's permissions
    and tables are completed by its own signal; only the last one sees everything in place."""
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    return sender.label == with_models[-1].label
