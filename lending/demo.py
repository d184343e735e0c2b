"""Demo credit lines: every demo campaign decided in batch and pre-approved, so 授信额度 and
预授信批次 have rows and each campaign shows its 授信覆盖率; in each bank the largest line's head
given a share of it (分额度). Idempotent: a campaign that already has a pre-approval batch is
left alone."""

from __future__ import annotations

import datetime
import io
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from common.clock import business_today
from lending.applications import services
from lending.applications.models import Application, ApplicationStatus, ApprovalTask, TaskStatus
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
from villages.models import Campaign, Household
from villages.services.visits import field_visit_record, visit_photo_add

PRODUCT = "SX-XYD-NH"  # 农户信用贷(整村授信)
S = ApplicationStatus


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
    """Applications from the PAD in each demo bank, one in every state of the lifecycle a
    reviewer meets: a draft; auto-approved ones (the contracts' demo signs them); one waiting
    for its investigation; one in each review level's queue (one of them overdue); approved,
    returned for information, rejected by a reviewer, withdrawn and expired. Fixed client
    UUIDs make a second run find them; a bank whose first demo application exists is skipped."""

    product = Product.objects.filter(code=PRODUCT).first()
    if product is None:
        return
    today = business_today()
    for code, *_ in DEMO_BANKS:
        manager = Staff.objects.filter(bank__code=code, user__username__contains="_am").first()
        if (
            manager is None
            or Application.objects.filter(client_uuid=_demo_uuid(code, 0), bank__code=code).exists()
        ):
            continue
        households = iter(
            Household.objects.filter(
                bank__code=code,
                head__birth_date__gt=today.replace(year=today.year - 60),
                head__birth_date__lt=today.replace(year=today.year - 25),
            )
            .select_related("head", "village")
            .order_by("pk")[10:80]
        )
        made = 0
        for amount, steps in _PLANS:
            # The strategy decides each household on its own data: a household it rejects (or
            # approves where a referral was wanted) keeps its application in that state, and
            # the plan moves on to the next household.
            for household in households:
                application = _demo_application(
                    code, made, household, product, manager, amount, steps
                )
                made += 1
                if application is not None:
                    break


# (amount, steps after creation) per demo application, in the order of households.
_PLANS = [
    ("15000", []),  # 草稿
    ("20000", ["submit"]),  # 自动审批通过
    ("30000", ["submit"]),
    ("80000", ["submit"]),  # 转人工审批, waiting for the investigation
    ("80000", ["submit", "investigate"]),  # 支行审查
    ("80000", ["submit", "investigate", "overdue"]),  # 支行审查, past the SLA
    ("150000", ["submit", "investigate", "approve"]),  # 集中审查
    ("250000", ["submit", "investigate", "approve", "approve"]),  # 授信审批中心
    ("80000", ["submit", "investigate", "approve"]),  # 审批通过
    ("80000", ["submit", "investigate", "return"]),  # 退回补充资料
    ("80000", ["submit", "investigate", "reject"]),  # 已拒绝 by the reviewer
    ("20000", ["submit", "withdraw"]),  # 已撤回
    ("80000", ["submit", "expire"]),  # 已过期
]


def _demo_uuid(code: str, n: int):
    return uuid.uuid5(uuid.NAMESPACE_URL, f"demo-application/{code}/{n}")


def _demo_application(code, n, household, product, manager, amount, steps):
    """The application of one plan, or ``None`` when the decision did not lead where the plan
    needs (small amounts automatically approved, larger ones referred)."""
    try:
        application, created = _create(code, n, household, product, manager, amount)
    except ValidationError:
        return None  # e.g. a household with a business: not this farmers' product's segment
    if not created:
        return application
    actor = manager.user
    wanted = S.AUTO_APPROVED if Decimal(amount) <= Decimal("50000") else S.REFERRED
    for step in steps:
        task = ApprovalTask.objects.filter(application=application, status=TaskStatus.OPEN).first()
        if step == "submit":
            application = services.application_submit(application=application, actor=actor)
            if application.status != wanted:
                return None
        elif step == "investigate":
            visit = _demo_investigation(household, manager)
            application = services.application_investigate(
                application=application, visit=visit, actor=actor, comment="实地核实，情况属实"
            )
        elif step == "overdue" and task is not None:
            ApprovalTask.objects.filter(pk=task.pk).update(
                opened_at=timezone.now() - datetime.timedelta(hours=30)
            )
        elif step in ("approve", "return", "reject") and task is not None:
            application = services.approval_task_decide(
                task=task,
                actor=task.assignee.user,
                outcome=step,
                reject_reason="debt_too_high" if step == "reject" else "",
                comment={"return": "请补充土地流转合同", "reject": "负债与收入不匹配"}.get(
                    step, "同意"
                ),
            )
        elif step == "withdraw":
            application = services.application_withdraw(
                application=application, actor=actor, reason="资金已自筹(演示)"
            )
        elif step == "expire":
            # Waited 40 days for an investigation that never came: the nightly job lapses it.
            Application.objects.filter(pk=application.pk).update(
                updated_at=timezone.now() - datetime.timedelta(days=40)
            )
            services.applications_expire()
    return application


def _create(code, n, household, product, manager, amount):
    return services.application_create(
        client_uuid=_demo_uuid(code, n),
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


def _demo_investigation(household, manager):
    """A pre-loan field visit with its location and one photo, as the PAD uploads it."""

    when = timezone.now() - datetime.timedelta(hours=3)
    visit, _ = field_visit_record(
        visit_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo-investigation/{household.pk}"),
        household=household,
        account_manager=manager,
        visited_at=when,
        purpose="investigation",
        notes="贷前调查：核实种植面积与家庭收入，与档案一致(演示)",
        latitude=Decimal("36.087600"),
        longitude=Decimal("111.518900"),
    )
    picture = io.BytesIO()
    Image.new("RGB", (320, 240), (96, 140, 60)).save(picture, format="JPEG")
    visit_photo_add(
        photo_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo-investigation-photo/{household.pk}"),
        visit=visit,
        kind="land",
        upload=SimpleUploadedFile("land.jpg", picture.getvalue(), content_type="image/jpeg"),
        captured_at=when,
    )
    return visit
