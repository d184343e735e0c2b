"""Credit lines: pre-approval from a campaign's decisions (idempotent), sub-lines within the
master, the lifecycle with its log, revolving availability, the nightly expiry."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from common.clock import business_today
from lending.lines import services
from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval, LineStatus
from risk.decisions.batch import decision_job_create, decision_job_run
from risk.decisions.models import Decision
from tests.risk.decisions.test_outcomes import WELL_OFF, _household
from villages.models import Household
from villages.selectors import village_progress
from villages.services import campaign_create

Action = CreditLineChange.Action
# A household the default flow approves in a campaign: its limit (about 36,000) is within the
# product's automatic approval (50,000); a well-off one's limit is referred above it.
MODEST = {
    **WELL_OFF,
    "income_crops": "20000",
    "income_wages": "10000",
    "deposits": "10000",
    "housing_value": "80000",
    "machinery_value": "0",
    "annual_expenses": "10000",
}


@pytest.fixture
def campaign_lines(world, local_flow, django_capture_on_commit_callbacks):
    """A campaign in the first village, decided in batch, pre-approved."""
    for sequence in range(900, 904):
        _household(world, figures=MODEST, sequence=sequence)
    campaign = campaign_create(
        village=world["v1"],
        name="北杜村整村授信",
        starts_on=business_today(),
        ends_on=business_today() + datetime.timedelta(days=30),
    )
    admin = world["staff"]["b1_admin"].user
    job = decision_job_create(
        product=world["product"], actor=admin, campaign=campaign, enqueue=False
    )
    decision_job_run(job_id=job.pk)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.line_preapproval_request(campaign=campaign, actor=admin)
    run.refresh_from_db()
    return {"campaign": campaign, "job": job, "run": run, "admin": admin}


def test_a_campaigns_approvals_become_pre_approved_lines_once(world, campaign_lines):
    run, job, campaign = campaign_lines["run"], campaign_lines["job"], campaign_lines["campaign"]
    approved = Decision.objects.filter(job=job, outcome="approve", limit_amount__gt=0)
    assert approved.count() >= 4  # the four modest households at least
    referred = Decision.objects.filter(job=job).exclude(outcome="approve")
    assert referred.exists()  # and some not approved, which get no line
    assert run.status == LinePreapproval.Status.DONE
    assert run.created == approved.count() == run.decisions
    for decision in approved:
        line = CreditLine.objects.get(decision=decision)
        assert line.status == LineStatus.PRE_APPROVED
        assert line.amount == decision.limit_amount
        assert line.rate == decision.rate
        assert line.product_version_id == decision.product_version_id
        assert line.campaign_id == campaign.pk
        assert line.valid_until > line.valid_from
        assert Household.objects.get(pk=decision.household_id).pre_approved_limit == line.amount
        change = line.changes.get()
        assert change.action == Action.PRE_APPROVE
        assert change.to_status == LineStatus.PRE_APPROVED
        assert change.actor == world["staff"]["b1_admin"]
    not_approved = Decision.objects.filter(job=job).exclude(pk__in=approved.values("pk"))
    assert not CreditLine.objects.filter(household__in=not_approved.values("household")).exists()
    progress = village_progress([world["v1"].pk])[world["v1"].pk]
    assert progress.pre_approved == approved.count()

    # The same campaign again: nothing twice, the skipped counted.
    again = services.line_preapproval_run(
        run_id=services.line_preapproval_request(
            campaign=campaign, actor=campaign_lines["admin"]
        ).pk
    )
    assert (again.created, again.already) == (0, approved.count())
    assert CreditLine.objects.count() == approved.count()


def test_pre_approval_needs_a_finished_decision_batch(world):
    campaign = campaign_create(
        village=world["v1"],
        name="未决策的活动",
        starts_on=business_today(),
        ends_on=business_today() + datetime.timedelta(days=30),
    )
    with pytest.raises(ValidationError) as refused:
        services.line_preapproval_request(campaign=campaign, actor=world["staff"]["b1_admin"].user)
    assert "campaign" in refused.value.message_dict
    assert not LinePreapproval.objects.exists()


def _master(campaign_lines) -> CreditLine:
    return CreditLine.objects.filter(campaign=campaign_lines["campaign"]).order_by("-amount")[0]


def _activate(line, actor):
    return services.credit_line_transition(
        line=line, action=Action.ACTIVATE, actor=actor, reason="合同已签署"
    )


def test_sub_lines_never_add_up_to_more_than_the_master(world, campaign_lines):
    master = _master(campaign_lines)
    admin = campaign_lines["admin"]
    head = master.household.head
    first = services.credit_line_sub_create(
        master=master, member=head, amount=master.amount - Decimal("1000"), actor=admin
    )
    assert first.status == master.status
    assert first.changes.get().action == Action.SUB_CREATE
    other = world["v1_households"][0].head
    with pytest.raises(ValidationError) as foreign:
        services.credit_line_sub_check(master=master, member=other, amount="100")
    assert "member" in foreign.value.message_dict
    with pytest.raises(ValidationError) as twice:
        services.credit_line_sub_create(master=master, member=head, amount="100", actor=admin)
    assert "member" in twice.value.message_dict
    for bad in ("0", "-5", "1.005", "abc"):
        with pytest.raises(ValidationError) as wrong:
            services.credit_line_sub_check(master=master, member=head, amount=bad)
        assert "amount" in wrong.value.message_dict


def test_the_lifecycle_is_logged_and_wrong_states_are_refused(world, campaign_lines):
    master = _master(campaign_lines)
    risk = world["staff"]["b1_risk"].user
    with pytest.raises(ValidationError) as early:
        services.credit_line_transition(
            line=master, action=Action.FREEZE, actor=risk, reason="核查"
        )
    assert "预授信的额度不能冻结" in str(early.value)
    with pytest.raises(ValidationError) as no_reason:
        services.credit_line_transition(line=master, action=Action.CLOSE, actor=risk, reason="")
    assert "reason" in no_reason.value.message_dict
    master = _activate(master, risk)
    sub = services.credit_line_sub_create(
        master=master, member=master.household.head, amount="10000", actor=risk
    )
    assert sub.status == LineStatus.ACTIVE
    services.credit_line_transition(line=master, action=Action.FREEZE, actor=risk, reason="涉诉")
    sub.refresh_from_db()
    assert sub.status == LineStatus.FROZEN  # the household's freeze holds its members' shares
    with pytest.raises(ValidationError):
        services.credit_line_draw(line=sub, amount="100")
    services.credit_line_transition(
        line=master, action=Action.UNFREEZE, actor=risk, reason="已结案"
    )
    log = list(
        CreditLineChange.objects.filter(line=master).values_list(
            "action", "from_status", "to_status"
        )
    )
    assert log == [
        (Action.PRE_APPROVE, "", LineStatus.PRE_APPROVED),
        (Action.ACTIVATE, LineStatus.PRE_APPROVED, LineStatus.ACTIVE),
        (Action.FREEZE, LineStatus.ACTIVE, LineStatus.FROZEN),
        (Action.UNFREEZE, LineStatus.FROZEN, LineStatus.ACTIVE),
    ]
    freeze = CreditLineChange.objects.get(line=master, action=Action.FREEZE)
    assert (freeze.actor, freeze.reason) == (world["staff"]["b1_risk"], "涉诉")


def test_drawing_and_repaying_revolve_within_both_lines(world, campaign_lines):
    risk = world["staff"]["b1_risk"].user
    master = _activate(_master(campaign_lines), risk)
    sub = services.credit_line_sub_create(
        master=master, member=master.household.head, amount="10000", actor=risk
    )
    services.credit_line_draw(line=sub, amount="6000")
    master.refresh_from_db()
    sub.refresh_from_db()
    assert (sub.drawn, master.drawn) == (Decimal("6000"), Decimal("6000"))
    with pytest.raises(ValidationError) as over:
        services.credit_line_draw(line=sub, amount="4000.01")
    assert "可用额度 4000.00 元" in str(over.value)
    services.credit_line_restore(line=sub, amount="2500")
    services.credit_line_draw(line=sub, amount="6500")  # repaid, it can be drawn again
    sub.refresh_from_db()
    assert sub.available == Decimal("0")
    with pytest.raises(ValidationError) as closing:
        services.credit_line_transition(line=master, action=Action.CLOSE, actor=risk, reason="结清")
    assert "未还清" in str(closing.value)
    services.credit_line_restore(line=sub, amount="10000")
    with pytest.raises(ValidationError):
        services.credit_line_restore(line=sub, amount="0.01")
    services.credit_line_transition(line=master, action=Action.CLOSE, actor=risk, reason="结清")
    master.refresh_from_db()
    sub.refresh_from_db()
    assert (master.status, sub.status) == (LineStatus.CLOSED, LineStatus.CLOSED)
    assert Household.objects.get(pk=master.household_id).pre_approved_limit is None


def test_lines_past_their_validity_expire_at_night(world, campaign_lines):
    master = _master(campaign_lines)
    household = master.household_id
    assert services.credit_lines_expire(on_date=master.valid_until) == 0
    expired = services.credit_lines_expire(on_date=master.valid_until + datetime.timedelta(days=1))
    assert expired == CreditLine.objects.filter(campaign=campaign_lines["campaign"]).count()
    master.refresh_from_db()
    assert master.status == LineStatus.EXPIRED
    change = master.changes.get(action=Action.EXPIRE)
    assert change.actor is None
    assert Household.objects.get(pk=household).pre_approved_limit is None
