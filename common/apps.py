from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "公共"

    def ready(self) -> None:
        from common.schedules import ensure_defaults_after_migrate

        post_migrate.connect(ensure_defaults_after_migrate, dispatch_uid="common.schedules")
