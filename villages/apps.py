from django.apps import AppConfig


class VillagesConfig(AppConfig):
    name = "villages"
    verbose_name = "整村授信"

    def ready(self) -> None:
        from common.schedules import DefaultSchedule, register_default
        from org.roles import Role, grant
        from org.tenancy import register_assigned_villages
        from villages.selectors import assigned_village_ids

        register_assigned_villages(assigned_village_ids)

        grant(
            Role.ACCOUNT_MANAGER,
            "villages.view_*",
            "villages.add_household",
            "villages.change_household",
            "villages.add_member",
            "villages.change_member",
            "villages.add_economicarchive",
            "villages.change_economicarchive",
            "villages.add_fieldvisit",
            "villages.add_visitphoto",
            "villages.view_campaign",
        )
        for role in (Role.BRANCH_REVIEWER, Role.CENTRAL_REVIEWER, Role.APPROVAL_OFFICER):
            grant(role, "villages.view_*")
        # Roles whose work is checking a person against a card see full numbers, each reveal
        # recorded (villages.services.access). Administrators, risk officers and the
        # federation see masks only.
        for role in (
            Role.ACCOUNT_MANAGER,
            Role.BRANCH_REVIEWER,
            Role.CENTRAL_REVIEWER,
            Role.APPROVAL_OFFICER,
        ):
            grant(role, "villages.reveal_identity")
        grant(Role.RISK_OFFICER, "villages.view_*")
        # Divisions are province-wide reference data: only operations (superusers) edit them.
        grant(
            Role.BANK_ADMIN,
            "villages.view_*",
            "villages.*_village",
            "villages.*_villageassignment",
            "villages.change_household",
            "villages.*_campaign",
            "villages.add_peerreviewround",
            "villages.change_peerreviewround",
            "villages.add_peerreviewevaluator",
            "villages.change_peerreviewevaluator",
            "villages.*_importjob",
        )
        # A branch opens a peer review for a village it serves and seats the villagers.
        for role in (Role.ACCOUNT_MANAGER, Role.BRANCH_REVIEWER):
            grant(
                role,
                "villages.add_peerreviewround",
                "villages.change_peerreviewround",
                "villages.add_peerreviewevaluator",
                "villages.change_peerreviewevaluator",
            )
        register_default(
            DefaultSchedule(
                name="结束已过截止日期的背靠背评议",
                task="villages.tasks.peer_review_close_due_rounds",
                hour="0",
                minute="20",
            )
        )
