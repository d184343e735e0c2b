from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "风险决策"

    def ready(self) -> None:
        from org.roles import Role, grant
        from risk.batch_tasks import register_schedules
        from risk.reference import ensure_after_migrate

        post_migrate.connect(ensure_after_migrate, sender=self, dispatch_uid="risk.reference")
        register_schedules()  # daily PSI monitoring, editable in the admin
        for role in Role:
            if role is not Role.PEER_EVALUATOR:
                grant(
                    role,
                    "risk.view_householdscore",
                    "risk.view_scorecard",
                    "risk.view_scorecardbin",
                )
        grant(Role.RISK_OFFICER, "risk.*")
        grant(Role.FEDERATION_ADMIN, "risk.*")
