from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "风险决策"

    def ready(self) -> None:
        from org.roles import Role, grant
        from risk.batch_tasks import register_schedules
        from risk.decisions import setup as decisions_setup
        from risk.lists import setup as lists_setup
        from risk.providers import checks as providers_checks  # noqa: F401  (system checks)
        from risk.reference import ensure_after_migrate
        from risk.tasks import register_schedules as register_grading_schedules

        post_migrate.connect(ensure_after_migrate, sender=self, dispatch_uid="risk.reference")
        register_schedules()  # daily PSI monitoring, editable in the admin
        register_grading_schedules()  # nightly re-rating of households whose archive changed
        lists_setup.ready()  # risk lists: roles' permissions, the nightly peer-review rule
        decisions_setup.ready()  # decisions: roles' permissions, the resolution cache
        for role in Role:
            if role is not Role.PEER_EVALUATOR:
                grant(
                    role,
                    "risk.view_householdscore",
                    "risk.view_scorecard",
                    "risk.view_scorecardbin",
                )
        # Grading: the account manager scores a household after a visit; the bank's
        # administrator also runs batches over villages, campaigns and the bank and follows them.
        grant(Role.ACCOUNT_MANAGER, "risk.add_householdscore")
        grant(
            Role.BANK_ADMIN,
            "risk.add_householdscore",
            "risk.add_scoringjob",
            "risk.view_scoringjob",
        )
        grant(Role.RISK_OFFICER, "risk.*")
        grant(Role.FEDERATION_ADMIN, "risk.*")
