"""Demo credit lines: every demo campaign decided in batch and pre-approved, so 授信额度 and
预授信批次 have rows and each campaign shows its 授信覆盖率; in each bank the largest line's head
given a share of it (分额度). Idempotent: a campaign that already has a pre-approval batch is
left alone."""

from __future__ import annotations

from lending.lines.models import CreditLine, LinePreapproval
from lending.lines.services import (
    credit_line_sub_create,
    line_preapproval_request,
    line_preapproval_run,
)
from org.demo import BANKS as DEMO_BANKS
from org.models import Staff
from products.models import Product
from risk.decisions.batch import decision_job_create, decision_job_run
from villages.models import Campaign

PRODUCT = "SX-XYD-NH"  # 农户信用贷(整村授信)


def seed_lines() -> None:
    product = Product.objects.filter(code=PRODUCT).first()
    if product is None:
        return
    for code, *_ in DEMO_BANKS:
        admin = Staff.objects.filter(bank__code=code, user__username__endswith="_admin").first()
        campaigns = Campaign.objects.filter(bank__code=code).order_by("pk")
        if admin is None or LinePreapproval.objects.filter(campaign__in=campaigns).exists():
            continue
        for campaign in campaigns:
            job = decision_job_create(product=product, actor=None, campaign=campaign, enqueue=False)
            decision_job_run(job_id=job.pk)
            run = line_preapproval_request(campaign=campaign, actor=admin.user, enqueue=False)
            line_preapproval_run(run_id=run.pk)
        master = (
            CreditLine.objects.filter(campaign__in=campaigns, household__head__isnull=False)
            .order_by("-amount", "pk")
            .first()
        )
        if master is not None:
            credit_line_sub_create(
                master=master,
                member=master.household.head,
                amount=(master.amount / 2).quantize(master.amount),
                actor=admin.user,
                reason="演示：户主分额度",
            )


def seed_applications() -> None:
    """A few applications from the PAD in each demo bank: submitted ones the strategy approved,
    referred or rejected, and a draft, so 贷款申请 shows each state. Fixed client UUIDs make a
    second run find them (the PAD's own idempotency)."""
    import uuid

    from common.clock import business_today
    from lending.applications.services import application_create, application_submit
    from villages.models import Household

    product = Product.objects.filter(code=PRODUCT).first()
    if product is None:
        return
    for code, *_ in DEMO_BANKS:
        manager = Staff.objects.filter(bank__code=code, user__username__contains="_am").first()
        today = business_today()
        households = list(
            Household.objects.filter(
                bank__code=code,
                head__birth_date__gt=today.replace(year=today.year - 60),
                head__birth_date__lt=today.replace(year=today.year - 25),
            )
            .select_related("head", "village")
            .order_by("pk")[10:14]
        )
        if manager is None or len(households) < 4:
            continue
        plans = [("20000", True), ("250000", True), ("30000", True), ("15000", False)]
        for n, (household, (amount, submit)) in enumerate(zip(households, plans, strict=True)):
            application, created = application_create(
                client_uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"demo-application/{code}/{n}"),
                household=household,
                applicant=household.head,
                product=product,
                amount=amount,
                term_months=12,
                repayment_method="equal_instalment",
                purpose="购买农资(演示)",
                channel="pad",
                actor=manager.user,
            )
            if created and submit:
                application_submit(application=application, actor=manager.user)
