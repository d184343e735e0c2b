from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrgConfig(AppConfig):
    name = "org"
    verbose_name = "机构与人员"

    def ready(self) -> None:
        from org.roles import sync_roles_after_migrate

        # Role groups are reference data derived from code (org.roles); keep them current on
        # every migrate so a new permission reaches the roles without a manual step.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="org.sync_roles")
