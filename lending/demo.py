"""Demo credit lines: every demo campaign decided in batch and pre-approved, so 授信额度 and
预授信批次 have rows and each campaign shows its 授信覆盖率; in each bank the largest line's head
given a share of it (分额度). Idempotent: a campaign that already has a pre-approval batch is
left alone."""

from __future__ import annotations

from lending.lines.models import CreditLine, LinePreapproval
from lending.lines.services import credit_line_sub_create, line_preapproval_run
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
            run = LinePreapproval.objects.create(
                bank_id=campaign.bank_id, campaign=campaign, requested_by=admin
            )
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
