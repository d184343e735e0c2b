"""The tenancy matrix's world: two banks holding one object of every bank-owned model, and a
village of bank 1 that its account manager ``b1_am2`` does not serve.

Built through the services and the other test suites' helpers, as the demo and those tests
build them; a model the walkers meet without an entry in a kit fails the matrix by name.
"""

from __future__ import annotations

import datetime
import io
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from org.models import Institution, Staff
from org.roles import Role
from org.services import device_token_issue, staff_create
from risk.batch import scoring_chunk_run, scoring_job_create
from risk.lists.services import risk_list_entry_add_automatic
from risk.models import MonitoringRun, ScorecardTraining, ScoringSegment
from risk.registry import scorecard_training_create
from tests.risk.batch_setup import make_scorecard
from tests.villages.import_files import build_xlsx, family
from villages.demo import make_id_number
from villages.models import Division, Member, VillageAssignment
from villages.services import (
    archive_upsert,
    campaign_create,
    division_create,
    field_visit_record,
    household_upsert,
    member_upsert,
    peer_review_evaluator_add,
    peer_review_round_open,
    peer_review_vote_cast,
    village_assign,
    village_create,
    visit_photo_add,
)

BANK1_ATTACKER = "b1_all"  # bank-1 administrator holding every permission: only tenancy stops it
MANAGER_ATTACKER = "b1_am2"  # account manager of 北杜村 (bank 1), given every permission too


@dataclass
class World:
    own: dict = field(default_factory=dict)  # bank 1, served by b1_am2
    foreign: dict = field(default_factory=dict)  # bank 2
    unassigned: dict = field(default_factory=dict)  # bank 1, a village b1_am2 does not serve


def jpeg_bytes(colour=(40, 120, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _photo_upload(name: str = "visit.jpg", colour=(40, 120, 60)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(colour), content_type="image/jpeg")


def _village_kit(kit: dict, village, households, manager: Staff, tag: str) -> None:
    household = households[0]
    kit["villages.Village"] = village
    kit["villages.VillageAssignment"] = VillageAssignment.objects.filter(village=village).first()
    kit["villages.Household"] = household
    kit["villages.Member"] = Member.objects.filter(household=household).order_by("pk").first()
    kit["villages.EconomicArchive"] = household.archives.order_by("pk").first()
    visit, _ = field_visit_record(
        visit_id=uuid.uuid4(),
        household=household,
        account_manager=manager,
        visited_at=timezone.now() - datetime.timedelta(hours=2),
        purpose="archive",
        notes=f"{tag}走访",
    )
    kit["villages.FieldVisit"] = visit
    photo, _ = visit_photo_add(
        photo_id=uuid.uuid4(),
        visit=visit,
        kind="house",
        upload=_photo_upload(),
        captured_at=timezone.now() - datetime.timedelta(hours=2),
    )
    kit["villages.VisitPhoto"] = photo
    kit["villages.Campaign"] = campaign_create(
        village=village,
        name=f"{village.name}整村授信",
        starts_on=datetime.date(2026, 10, 8),
        ends_on=datetime.date(2026, 12, 31),
        lead=manager,
    )
    round_ = peer_review_round_open(village=village, title=f"{tag}评议", opened_by=manager)
    evaluator = peer_review_evaluator_add(
        round=round_, name=f"{tag}评议员", kind="elder", username=f"pr_{tag}", password=None
    )
    kit["villages.PeerReviewRound"] = round_
    kit["villages.PeerReviewEvaluator"] = evaluator
    kit["villages.PeerReviewVote"] = peer_review_vote_cast(
        evaluator=evaluator, household=household, colour="green"
    )


def _bank_kit(kit: dict, bank: Institution, village, manager: Staff, make_product, tag) -> None:
    kit["org.Institution"] = village.branch
    kit["org.Staff"] = manager
    kit["auth.User"] = manager.user
    kit["org.DeviceToken"], _ = device_token_issue(user=manager.user, device_id=f"pad-{tag}")
    number = 1 if tag == "b1" else 2
    households, members, archives = family(number)
    kit["villages.ImportJob"] = _import_job(manager, build_xlsx(households, members, archives))
    product = make_product(f"T-{tag.upper()}", owner=bank)
    kit["products.Product"] = product
    kit["products.ProductVersion"] = product.versions.order_by("number").first()
    kit["products.ProductStatusChange"] = product.status_changes.order_by("pk").first()
    scorecard = make_scorecard(bank=bank)
    kit["risk.Scorecard"] = scorecard
    kit["risk.ScorecardTraining"] = scorecard_training_create(
        segment=ScoringSegment.objects.get(code="farmer", bank=None),
        source="synthetic",
        bank=bank,
        synthetic_rows=1000,
    )
    job = scoring_job_create(
        scope="village", scope_id=village.pk, bank=bank, created_by=manager, enqueue=False
    )
    for chunk_id in job.chunks.values_list("pk", flat=True):
        scoring_chunk_run(chunk_id=chunk_id, refresh_features=True)
    kit["risk.ScoringJob"] = job
    kit["risk.HouseholdScore"] = kit["villages.Household"].scores.order_by("pk").first()
    kit["risk.HouseholdFeatures"] = getattr(kit["villages.Household"], "features", None)
    kit["risk.MonitoringRun"] = MonitoringRun.objects.create(
        scorecard=scorecard,
        computed_at=timezone.now(),
        sample_size=3,
        score_psi=Decimal("0.01"),
        band="stable",
        feature_psi={},
    )
    assert ScorecardTraining.objects.filter(bank=bank).exists()
    kit["risk.RiskListEntry"], _ = risk_list_entry_add_automatic(
        source="anti_fraud",
        rule="matrix_device_reuse",
        id_number=make_id_number("141002", datetime.date(1975, 6, 1), 40 + number, True),
        level="grey",
        reason=f"{tag}反欺诈命中",
        owner=bank,
    )
    _rules_kit(kit, bank, tag)
    _pricing_kit(kit, bank, tag)
    _reports_kit(kit, bank)
    _providers_kit(kit, bank)
    _decisions_kit(kit, bank, tag)
    kit["villages.PersonalDataAccess"] = _personal_data_access(kit, manager)
    _lines_kit(kit, kit["villages.Household"], manager)


def _line_for(household, product, version):
    """A pre-approved master line of ``household``, as the pre-approval writes one."""
    from common.clock import business_today
    from lending.lines.models import CreditLine, CreditLineChange

    today = business_today()
    line = CreditLine.objects.create(
        bank_id=household.bank_id,
        household=household,
        product=product,
        product_version=version,
        amount="50000",
        rate="4.3500",
        valid_from=today,
        valid_until=today.replace(year=today.year + 1),
    )
    CreditLineChange.objects.create(
        line=line, action="pre_approve", to_status=line.status, at=timezone.now()
    )
    return line


def _lines_kit(kit: dict, household, manager: Staff) -> None:
    """A pre-approved line of the bank's household and a pre-approval batch of its campaign."""
    from lending.lines.models import LinePreapproval

    kit["lending.CreditLine"] = _line_for(
        household, kit["products.Product"], kit["products.ProductVersion"]
    )
    kit["lending.LinePreapproval"] = LinePreapproval.objects.create(
        bank_id=household.bank_id, campaign=kit["villages.Campaign"], requested_by=manager
    )
    kit["lending.Application"] = _application_for(household, kit["products.Product"], manager)
    kit["lending.ApprovalTask"] = _task_for(kit["lending.Application"])
    kit["lending.Contract"] = _contract_for(kit["lending.Application"])
    _loans_kit(kit, kit["lending.CreditLine"], manager)


def _loans_kit(kit: dict, line, manager: Staff) -> None:
    """A loan waiting for its disbursement on ``line``, the borrower's sandbox account and a
    journal entry of the loan (rows as the services write them, without the core call)."""
    import uuid

    from lending.corebank.services import sandbox_account_open
    from lending.ledger.models import Account, EntryKind
    from lending.ledger.services import journal_post
    from lending.loans.models import Loan

    head = line.household.head
    kit["lending.SandboxDepositAccount"] = sandbox_account_open(
        bank_id=line.bank_id, holder_name=head.name, member_id=head.pk
    )
    loan = Loan.objects.create(
        bank_id=line.bank_id,
        household_id=line.household_id,
        borrower=head,
        line=line,
        product_id=line.product_id,
        product_version_id=line.product_version_id,
        client_uuid=uuid.uuid4(),
        channel="pad",
        amount="1000.00",
        rate=line.rate,
        penalty_markup_pct="50",
        method="equal_instalment",
        frequency="monthly",
        settlement="monthly",
        term_months=6,
        purpose="矩阵测试",
        deposit_account=kit["lending.SandboxDepositAccount"].account,
        created_by=manager,
    )
    kit["lending.Loan"] = loan
    kit["lending.JournalEntry"], _ = journal_post(
        bank_id=line.bank_id,
        kind=EntryKind.SUSPENSE,
        value_date=line.valid_from,
        reference=f"MATRIX-{loan.pk}",
        lines=[(Account.SUSPENSE, Decimal("1.00")), (Account.CASH, Decimal("-1.00"))],
        loan_id=loan.pk,
    )
    from lending.cob.models import CobRun
    from lending.loans.models import WriteOff

    kit["lending.CobRun"] = CobRun.objects.create(
        bank_id=line.bank_id,
        business_date=line.valid_from,
        status="completed",
        steps=["accrue"],
        chunk_size=1000,
    )
    from lending.loans.models import LoanTransaction

    kit["lending.LoanTransaction"] = LoanTransaction.objects.create(
        loan=loan,
        kind="repayment",
        value_date=line.valid_from,
        amount=Decimal("1.00"),
        to_suspense=Decimal("1.00"),
        channel="counter",
        reference=f"MATRIX-{loan.pk}",
        journal_entry=kit["lending.JournalEntry"],
    )
    kit["lending.WriteOff"] = WriteOff.objects.create(
        bank_id=line.bank_id, loan=loan, reason="矩阵测试", requested_by=manager
    )


def _contract_for(application):
    """A contract waiting for the applicant's signature, as the render stores one (the PDF bytes
    are a stand-in: the matrix tests who may reach the row, not the rendering)."""
    import hashlib

    from lending.contracts.models import Contract, ContractSigner
    from lending.contracts.services import contract_template_default_ensure

    pdf = f"%PDF-1.7 matrix {application.pk}".encode()
    contract = Contract.objects.create(
        bank_id=application.bank_id,
        application=application,
        template=contract_template_default_ensure(),
        number=f"HT-MATRIX-{application.pk:06d}-1",
        terms={"amount": "20,000.00"},
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        rendered_at=timezone.now(),
    )
    ContractSigner.objects.create(contract=contract, member=application.applicant, role="borrower")
    return contract


def _task_for(application):
    """An open review item of the application, drawn for the bank's branch reviewer."""
    from django.utils import timezone

    from lending.applications.models import ApprovalTask

    reviewer = Staff.objects.filter(
        bank_id=application.bank_id, user__groups__name=Role.BRANCH_REVIEWER.label
    ).first()
    return ApprovalTask.objects.create(
        bank_id=application.bank_id,
        application=application,
        level="branch",
        assignee=reviewer,
        pool=[reviewer.pk],
        pool_open=[0],
        seed=7,
        assigned_reason="随机分派",
        opened_at=timezone.now(),
    )


def _application_for(household, product, manager: Staff):
    """A draft application of the household, as the PAD's first request stores one."""
    import uuid

    from lending.applications.models import Application

    return Application.objects.create(
        bank_id=household.bank_id,
        client_uuid=uuid.uuid4(),
        channel="pad",
        household=household,
        applicant=household.head,
        product=product,
        amount="20000",
        term_months=12,
        repayment_method="equal_instalment",
        purpose="购买农资",
        created_by=manager,
    )


def _rules_kit(kit: dict, bank: Institution, tag: str) -> None:
    """A bank's own derived feature, rule and rule set (written by a superuser: the services
    check who may edit, which is not what the matrix tests)."""
    from django.contrib.auth import get_user_model

    from risk.derived_features.services import derived_feature_create
    from risk.rules.services import rule_create, rule_set_create

    root, _ = get_user_model().objects.get_or_create(
        username="matrix_rules_root", defaults={"is_superuser": True, "is_staff": True}
    )
    kit["risk.DerivedFeature"] = derived_feature_create(
        by=root,
        owner=bank,
        code=f"matrix_{tag}_ratio",
        name=f"{tag}比率",
        expression="debt_ratio * 2",
    )
    kit["risk.Rule"] = rule = rule_create(
        by=root,
        owner=bank,
        code=f"MATRIX_{tag.upper()}",
        name=f"{tag}规则",
        category="admission",
        expression="net_income < 100",
        outcome="refer",
        reason_code=f"MATRIX_{tag.upper()}",
        reason_text=f"{tag}测试原因",
    )
    kit["risk.RuleSet"] = rule_set_create(
        by=root,
        owner=bank,
        code=f"MATRIX_{tag.upper()}",
        name=f"{tag}规则集",
        category="admission",
        rules=[rule],
    )


def _pricing_kit(kit: dict, bank: Institution, tag: str) -> None:
    """A bank's own limit and pricing model, each with a draft version (written by a
    superuser, as the rules kit)."""
    from django.contrib.auth import get_user_model

    from risk.pricing import defaults
    from risk.pricing.services import limit_model_create, pricing_model_create

    root, _ = get_user_model().objects.get_or_create(
        username="matrix_pricing_root", defaults={"is_superuser": True, "is_staff": True}
    )
    kit["risk.LimitModelVersion"] = limit = limit_model_create(
        actor=root,
        owner=bank,
        code=f"MATRIX-LIMIT-{tag}",
        name=f"{tag}额度模型",
        parameters=defaults.LIMIT_PARAMETERS,
    )
    kit["risk.LimitModel"] = limit.model
    kit["risk.PricingModelVersion"] = pricing = pricing_model_create(
        actor=root,
        owner=bank,
        code=f"MATRIX-PRICING-{tag}",
        name=f"{tag}定价模型",
        parameters=defaults.PRICING_PARAMETERS,
    )
    kit["risk.PricingModel"] = pricing.model


def _decisions_kit(kit: dict, bank: Institution, tag: str) -> None:
    """A bank's own decision flow (a draft), a campaign batch job, and its decision (the one
    the reports kit wrote)."""
    from django.contrib.auth import get_user_model

    from risk.decisions.batch import decision_job_create
    from risk.decisions.definition import default_definition
    from risk.decisions.services import strategy_create

    root, _ = get_user_model().objects.get_or_create(
        username="matrix_pricing_root", defaults={"is_superuser": True, "is_staff": True}
    )
    kit["risk.StrategyVersion"] = version = strategy_create(
        actor=root,
        owner=bank,
        code=f"MATRIX-FLOW-{tag}",
        name=f"{tag}决策流",
        definition=default_definition(),
        is_default=False,
    )
    kit["risk.Strategy"] = version.model
    kit["risk.DecisionJob"] = decision_job_create(
        product=kit["products.Product"], actor=None, bank=bank, enqueue=False
    )
    kit["risk.Decision"] = kit["risk.RejectionStatistics"]


def _providers_kit(kit: dict, bank: Institution) -> None:
    """An external data call of the bank (the sandbox answering for its first household's head)."""
    from risk.providers.base import Subject
    from risk.providers.models import ProviderCall
    from risk.providers.services import external_data_fetch

    head = kit["villages.Household"].head
    external_data_fetch(
        bank_id=bank.pk,
        subject=Subject(head.id_number),
        purpose="application",
        sources=["court"],
        household_id=kit["villages.Household"].pk,
    )
    kit["risk.ProviderCall"] = ProviderCall.objects.filter(bank=bank).latest("id")


def _reports_kit(kit: dict, bank: Institution) -> None:
    """A back-test of the bank's decisions, and a rejected decision of the bank (the rejection
    statistics' entry in the admin is a proxy of decisions). The decision is written as the
    engine writes one: decisions are inserted, never changed."""
    from common.clock import business_today
    from risk.decisions.backtest import backtest_create
    from risk.decisions.inputs import LAYOUT_NAMES, layout_id
    from risk.decisions.models import Decision
    from risk.decisions.services import strategy_defaults_ensure
    from risk.pricing.services import pricing_defaults_ensure
    from risk.rules.services import rules_seed_catalogue

    # The seeded rows the default strategy names, ensured: a test that empties the tables before
    # this one takes the migrations' copies away.
    rules_seed_catalogue()
    pricing_defaults_ensure()
    strategy = strategy_defaults_ensure()
    today = business_today()
    kit["risk.Backtest"] = backtest_create(
        actor=None,
        candidate=strategy,
        period_from=today,
        period_to=today,
        bank=bank,
        enqueue=False,
    )
    product = kit["products.Product"]
    version = kit["products.ProductVersion"]
    kit["risk.RejectionStatistics"] = Decision.objects.create(
        kind=1,
        bank=bank,
        household=kit["villages.Household"],
        product=product,
        product_version=version,
        product_chain=[version.pk],
        strategy_version=strategy,
        decision_date=today,
        decided_at=timezone.now(),
        outcome="reject",
        primary_reason="LIST_PROHIBIT",
        reason_source="list",
        reason_codes=["LIST_PROHIBIT"],
        approval_levels=[],
        rule_set_versions=[],
        rule_hits=[],
        list_level=3,
        list_entries=[],
        provider_problems=[],
        layout_id=layout_id(),
        inputs=bytes(8 * len(LAYOUT_NAMES)),
    )


def _personal_data_access(kit: dict, manager: Staff):
    try:
        from villages.services import personal_data_reveal
    except ImportError:  # the access log is being introduced alongside this matrix
        return None
    return personal_data_reveal(
        user=manager.user,
        household=kit["villages.Household"],
        fields="身份证号",
        reason="核对身份",
        channel="api",
    )


def _import_job(manager: Staff, content: bytes):
    from villages.imports.services import import_job_create

    return import_job_create(uploaded_by=manager, upload=SimpleUploadedFile("村民.xlsx", content))


def _third_village(province):
    """县底村: bank 1's, served by b1_am3, not by b1_am2."""
    township = Division.objects.get(code="141002101000")
    division = division_create(code="141002101203", name="县底村", level=5, parent=township)
    village = village_create(division=division, branch=Institution.objects.get(code="SXRCU-YD-B03"))
    manager = Staff.objects.get(user__username="b1_am3")
    village_assign(village=village, account_manager=manager)
    household, _ = household_upsert(
        household_id=uuid.uuid4(),
        village=village,
        actor=manager,
        group_name="第二组",
        address="县底村1号",
        phone="13712345678",
    )
    member_upsert(
        member_id=uuid.uuid4(),
        household=household,
        name="县底户主",
        id_number=make_id_number("141002", datetime.date(1980, 5, 1), 301, True),
        relation="head",
    )
    archive_upsert(
        archive_id=uuid.uuid4(),
        household=household,
        survey_date=datetime.date(2026, 10, 1),
        surveyed_by=manager,
        figures={"land_contracted_mu": "8", "income_crops": "20000"},
    )
    return village, [household], manager


def _omnipotent(staff: Staff) -> None:
    staff.user.user_permissions.set(Permission.objects.all())


def build_world(province, villages, make_product) -> World:
    world = World()
    bank1, bank2 = province["bank1"], province["bank2"]
    am1 = Staff.objects.get(user__username="b1_am2")
    am2 = Staff.objects.get(user__username="b2_am1")
    _village_kit(world.own, villages["v1"], villages["v1_households"], am1, "b1")
    _village_kit(world.foreign, villages["v2"], villages["v2_households"], am2, "b2")
    third, third_households, am3 = _third_village(province)
    _village_kit(world.unassigned, third, third_households, am3, "b1x")
    _bank_kit(world.own, bank1, villages["v1"], am1, make_product, "b1")
    _bank_kit(world.foreign, bank2, villages["v2"], am2, make_product, "b2")
    # Scored with bank 1's scorecard: the unassigned village's score and features.
    job = scoring_job_create(
        scope="village", scope_id=third.pk, bank=bank1, created_by=am3, enqueue=False
    )
    for chunk_id in job.chunks.values_list("pk", flat=True):
        scoring_chunk_run(chunk_id=chunk_id, refresh_features=True)
    world.unassigned["risk.HouseholdScore"] = third_households[0].scores.order_by("pk").first()
    world.unassigned["risk.HouseholdFeatures"] = getattr(third_households[0], "features", None)
    from risk.decisions.services import decision_make

    world.unassigned["risk.Decision"] = decision_make(
        household=third_households[0], product=world.own["products.Product"]
    )
    world.unassigned["lending.CreditLine"] = _line_for(
        third_households[0], world.own["products.Product"], world.own["products.ProductVersion"]
    )
    from lending.lines.models import LinePreapproval

    world.unassigned["lending.LinePreapproval"] = LinePreapproval.objects.create(
        bank=bank1, campaign=world.unassigned["villages.Campaign"], requested_by=am3
    )
    world.unassigned["lending.Application"] = _application_for(
        third_households[0], world.own["products.Product"], am3
    )
    world.unassigned["lending.ApprovalTask"] = _task_for(world.unassigned["lending.Application"])
    world.unassigned["lending.Contract"] = _contract_for(world.unassigned["lending.Application"])
    _loans_kit(world.unassigned, world.unassigned["lending.CreditLine"], am3)

    attacker = staff_create(
        username=BANK1_ATTACKER,
        password="Demo@2026x",
        full_name="全权限管理员",
        institution=bank1,
        employee_no="B1999",
        phone="",
        roles=[Role.BANK_ADMIN],
    )
    _omnipotent(attacker)
    _omnipotent(am1)
    return world
