from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = "机构与人员"

    def ready(self) -> None:
        from org import checks  # noqa: F401  (registers the production checks)
        from org.roles import sync_roles_after_migrate
        from org.tasks import register_schedules

        register_schedules()  # nightly purge of expired tablet tokens

        # Role groups are reference data derived from code (org.roles); keep them current on
        # every migrate so a new permission reaches the roles without a manual step.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="org.sync_roles")
        # Without Redis the shared cache (throttle counts) is a database table; creating it on
        # every migrate means `make run`, CI and a fresh test database have it with no extra step.
        post_migrate.connect(create_cache_table, dispatch_uid="org.create_cache_table")


def create_cache_table(sender, using="default", **kwargs) -> None:
    from django.core.management import call_command

    from common.migrate_hooks import is_last_post_migrate

    if is_last_post_migrate(sender):
        # Idempotent: an existing table is left alone; a Redis cache makes this a no-op.
        call_command("createcachetable", database=using, verbosity=0)
