from django.apps import AppConfig


class LendingConfig(AppConfig):
    name = "lending"
    verbose_name = "贷款业务"
