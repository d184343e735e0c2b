"""Demo decisions: each demo bank's households run through the federation's default strategy as
a campaign batch (整村授信批量决策), plus a few applications, so the admin shows decisions of all
three outcomes with their reasons and traces. Idempotent: a bank with decisions is left alone."""

from __future__ import annotations

from decimal import Decimal

from org.demo import BANKS as DEMO_BANKS
from org.models import Institution
from products.models import Product
from risk.decisions.batch import decision_job_create, decision_job_run
from risk.decisions.models import Decision
from risk.decisions.services import decision_make, decision_what_if
from villages.models import Household

PRODUCT = "SX-XYD-NH"  # 农户信用贷(整村授信)
COURT_RULE = "COURT_DISHONEST_SYNC"


def seed_decisions() -> None:
    from org.models import Staff
    from risk.decisions.services import strategy_defaults_ensure
    from risk.lists.services import risk_list_entry_add_automatic
    from risk.pricing.services import pricing_defaults_ensure
    from risk.rules.services import rules_seed_catalogue

    product = Product.objects.filter(code=PRODUCT).first()
    if product is None:
        return
    # Seeded by migrations, but a database emptied since (a flushing test) has lost them.
    rules_seed_catalogue()
    pricing_defaults_ensure()
    strategy_defaults_ensure()
    banks = Institution.objects.banks().filter(code__in=[code for code, *_ in DEMO_BANKS])
    for bank in banks:
        households = Household.objects.filter(bank=bank, head__isnull=False).select_related(
            "head", "village"
        )
        if not households.exists() or Decision.objects.filter(bank=bank).exists():
            continue
        # One head the court data names a dishonest judgment debtor (失信被执行人): the
        # automatic list entry a court-data sync writes, so the batch shows a list rejection.
        listed = households.order_by("pk").first()
        risk_list_entry_add_automatic(
            source="court",
            rule=COURT_RULE,
            id_number=listed.head.id_number,
            level="prohibit",
            reason="法院数据：列入失信被执行人名单(演示)",
            owner=bank,
            household=listed,
        )
        job = decision_job_create(product=product, actor=None, bank=bank, enqueue=False)
        decision_job_run(job_id=job.pk)
        # Applications from the PAD: one asking more than its limit (referred to review), one
        # what-if an account manager tried.
        manager = Staff.objects.filter(bank=bank, user__username__contains="_am").first()
        actor = manager.user if manager else None
        applicants = list(households.order_by("-pk")[:2])
        if applicants:
            decision_make(
                household=applicants[0],
                product=product,
                actor=actor,
                requested_amount=Decimal("280000"),
            )
        if len(applicants) > 1 and actor is not None:
            decision_what_if(household=applicants[1], product=product, actor=actor)
