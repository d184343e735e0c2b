"""Wiring of the decisions at start-up: roles' permissions and the resolution cache's clearing."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save


def ready() -> None:
    from org.roles import Role, grant
    from products.models import LoanPrimeRate, ProductVersion
    from risk.decisions.models import StrategyVersion
    from risk.decisions.services import clear_prepared_cache
    from risk.pricing.models import LimitModelVersion, PricingModelVersion
    from risk.rules.models import RuleSetVersion

    # Account managers decide applications and try what-ifs for their villages' households;
    # reviewers and approvers read the decisions they review; a bank's administrator also runs
    # campaign batches. Risk officers and the federation hold ``risk.*`` already.
    grant(Role.ACCOUNT_MANAGER, "risk.view_decision", "risk.add_decision")
    for role in (Role.BRANCH_REVIEWER, Role.CENTRAL_REVIEWER, Role.APPROVAL_OFFICER):
        grant(role, "risk.view_decision", "risk.view_strategy", "risk.view_strategyversion")
    grant(
        Role.BANK_ADMIN,
        "risk.view_decision",
        "risk.view_decisionjob",
        "risk.add_decisionjob",
        "risk.view_strategy",
        "risk.view_strategyversion",
    )
    for model in (
        StrategyVersion,
        RuleSetVersion,
        LimitModelVersion,
        PricingModelVersion,
        ProductVersion,
        LoanPrimeRate,
    ):
        for signal in (post_save, post_delete):
            signal.connect(
                clear_prepared_cache,
                sender=model,
                dispatch_uid=f"decisions.{model.__name__}.{signal}",
            )
