"""What the risk lists add at start-up, called from ``RiskConfig.ready``: who may propose and
approve entries, and the nightly peer-review rule (importing the task module registers its task
with workers, which discover only each app's own ``tasks`` module)."""

from __future__ import annotations


def ready() -> None:
    from org.roles import Role, grant
    from risk.lists.tasks import register_schedules

    register_schedules()
    # Branch reviewers and bank administrators meet the cases (a fraud, a court notice) and
    # propose; risk officers propose and approve, never their own proposal (the services
    # refuse that). Risk officers and the federation already hold every risk permission.
    for role in (Role.BRANCH_REVIEWER, Role.BANK_ADMIN):
        grant(role, "risk.view_risklistentry", "risk.propose_risklistentry")
    for role in (Role.ACCOUNT_MANAGER, Role.CENTRAL_REVIEWER, Role.APPROVAL_OFFICER):
        grant(role, "risk.view_risklistentry")
