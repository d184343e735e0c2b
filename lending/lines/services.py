"""Every write of credit lines: pre-approval from a campaign's decisions, sub-lines, the status
transitions, drawing on and restoring a line, and the daily expiry.

Locking order, everywhere: the master line, then the sub-line. Two requests on one household's
lines therefore queue on the master row and never deadlock; the check that sub-lines add up to
no more than the master, and that a drawdown fits both lines' availability, runs after the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django_fsm import can_proceed

from common.clock import business_today
from common.money import positive_amount
from lending.lines.models import (
    OPEN_STATUSES,
    CreditLine,
    CreditLineChange,
    LinePreapproval,
    LineStatus,
)
from products.schedule import add_months
from products.selectors import product_terms_effective
from risk.lists.services import staff_of
from risk.models import Decision, DecisionJob
from villages.models import Household, Member
from villages.validation import normalise_text

Action = CreditLineChange.Action
# A line whose product names no validity (a one-time, non-revolving product) is valid a year.
DEFAULT_VALIDITY_MONTHS = 12


def _log(line: CreditLine, action: str, before: str, actor, reason: str = "", at=None) -> None:
    CreditLineChange.objects.create(
        line=line,
        action=action,
        from_status=before,
        to_status=line.status,
        actor=staff_of(actor),
        reason=reason,
        at=at or timezone.now(),
    )


def _locked(line_id: int) -> CreditLine:
    return CreditLine.objects.select_for_update().get(pk=line_id)


# --- pre-approval from a campaign's decisions --------------------------------------------------


_PREAPPROVE_SQL = f"""
    WITH approved AS (
        SELECT DISTINCT ON (d.household_id) d.id, d.bank_id, d.household_id, d.product_id,
               d.product_version_id, d.limit_amount, d.rate
        FROM {Decision._meta.db_table} d
        WHERE d.job_id = %(job)s AND d.outcome = 'approve' AND d.limit_amount > 0
          AND d.rate IS NOT NULL
        ORDER BY d.household_id, d.id
    ), created AS (
        INSERT INTO {CreditLine._meta.db_table} (bank_id, household_id, parent_id, member_id,
            product_id, product_version_id, decision_id, campaign_id, amount, drawn, rate,
            valid_from, valid_until, status, created_at, updated_at)
        SELECT bank_id, household_id, NULL, NULL, product_id, product_version_id, id,
            %(campaign)s, limit_amount, 0, rate, %(valid_from)s, %(valid_until)s,
            '{LineStatus.PRE_APPROVED}', now(), now()
        FROM approved
        ON CONFLICT DO NOTHING
        RETURNING id, household_id, amount
    ), logged AS (
        INSERT INTO {CreditLineChange._meta.db_table} (line_id, action, from_status, to_status,
            actor_id, reason, at)
        SELECT id, '{Action.PRE_APPROVE}', '', '{LineStatus.PRE_APPROVED}', %(actor)s,
            %(reason)s, now()
        FROM created
    ), marked AS (
        UPDATE {Household._meta.db_table} h SET pre_approved_limit = c.amount
        FROM created c WHERE h.id = c.household_id
    )
    SELECT (SELECT count(*) FROM approved), (SELECT count(*) FROM created)
"""


@dataclass(frozen=True)
class PreapprovalCounts:
    decisions: int
    created: int

    @property
    def already(self) -> int:
        return self.decisions - self.created


def line_preapproval_request(*, campaign, actor, enqueue: bool = True) -> LinePreapproval:
    """Queue the pre-approval of ``campaign`` (预授信批次): its latest finished decision batch's
    APPROVE decisions become pre-approved lines. The run happens after commit, in a task
    (``enqueue=False``: the caller runs it, as the demo does)."""
    line_preapproval_check(campaign=campaign)
    run = LinePreapproval.objects.create(
        bank_id=campaign.bank_id, campaign=campaign, requested_by=staff_of(actor)
    )
    if enqueue:
        from lending.lines.tasks import run_line_preapproval

        transaction.on_commit(lambda: run_line_preapproval.delay(run.pk))
    return run


def line_preapproval_check(*, campaign) -> DecisionJob:
    """The decision batch a pre-approval of ``campaign`` would use, or the reason there is none."""
    job = _latest_job(campaign)
    if job is None:
        raise ValidationError({"campaign": "该活动还没有完成的批量决策，请先运行批量决策"})
    return job


def _latest_job(campaign) -> DecisionJob | None:
    return (
        DecisionJob.objects.filter(campaign=campaign, status=DecisionJob.Status.DONE)
        .order_by("-id")
        .first()
    )


@transaction.atomic
def line_preapproval_run(*, run_id: int) -> LinePreapproval:
    """One statement: the job's APPROVE decisions (one per household) inserted as pre-approved
    master lines, skipping households that already hold an open line of the product (the
    unique index ``line_one_open_master``) and decisions already turned into a line; each new
    line logged and its household's 预授信额度 set (the campaign's 授信覆盖率 counts those).
    Running it again creates nothing twice."""
    run = (
        LinePreapproval.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .get(pk=run_id)
    )
    if run.status == LinePreapproval.Status.DONE:
        return run
    job = _latest_job(run.campaign)
    if job is None:
        run.status, run.error = LinePreapproval.Status.FAILED, "没有完成的批量决策"
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    counts = _preapprove(job=job, campaign=run.campaign, staff=run.requested_by)
    run.decisions, run.created = counts.decisions, counts.created
    run.already = counts.already
    run.status, run.finished_at = LinePreapproval.Status.DONE, timezone.now()
    run.save(update_fields=["decisions", "created", "already", "status", "finished_at"])
    return run


def _preapprove(*, job: DecisionJob, campaign, staff) -> PreapprovalCounts:
    today = business_today()
    terms = product_terms_effective(product=job.product, on_date=today, bank_id=job.bank_id)
    months = terms.line_validity_months or DEFAULT_VALIDITY_MONTHS
    with connection.cursor() as cursor:
        cursor.execute(
            _PREAPPROVE_SQL,
            {
                "job": job.pk,
                "campaign": campaign.pk,
                "valid_from": today,
                "valid_until": add_months(today, months) - timedelta(days=1),
                "actor": staff.pk if staff is not None else None,
                "reason": f"{campaign.name}：{job.decision_date:%Y-%m-%d}的批量决策通过",
            },
        )
        decisions, created = cursor.fetchone()
    return PreapprovalCounts(decisions=decisions, created=created)


# --- a line granted by an approved application -------------------------------------------------


@transaction.atomic
def credit_line_grant(
    *,
    bank_id: int,
    household_id,
    product,
    product_version_id: int,
    decision_id: int | None,
    amount,
    rate,
    actor,
    reason: str,
) -> CreditLine:
    """The pre-approved master line an approved application is contracted against. The
    household's open pre-approved line for the product (a campaign's) is resized to what was
    approved, keeping its validity; with none, a new one is granted for the product's validity.
    An active line is not touched here: an application against it draws on it instead. The
    household row is locked first, so two approvals for one household queue."""
    amount = positive_amount(amount, field="amount")
    Household.objects.select_for_update().filter(pk=household_id).first()
    line = (
        CreditLine.objects.select_for_update()
        .masters()
        .open()
        .filter(household_id=household_id, product=product)
        .first()
    )
    if line is not None and line.status != LineStatus.PRE_APPROVED:
        raise ValidationError({"line": f"该农户此产品已有{line.get_status_display()}的额度"})
    if line is not None:
        line.amount = amount
        line.rate = rate
        line.product_version_id = product_version_id
        line.save(update_fields=["amount", "rate", "product_version", "updated_at"])
        _log(line, Action.GRANT, line.status, actor, reason)
    else:
        today = business_today()
        terms = product_terms_effective(product=product, on_date=today, bank_id=bank_id)
        months = terms.line_validity_months or DEFAULT_VALIDITY_MONTHS
        line = CreditLine.objects.create(
            bank_id=bank_id,
            household_id=household_id,
            product=product,
            product_version_id=product_version_id,
            decision_id=decision_id,
            amount=amount,
            rate=rate,
            valid_from=today,
            valid_until=add_months(today, months) - timedelta(days=1),
        )
        _log(line, Action.GRANT, "", actor, reason)
    _mark_household(line)
    return line


# --- sub-lines ---------------------------------------------------------------------------------


def credit_line_sub_check(*, master: CreditLine, member: Member | None, amount) -> Decimal:
    """What ``credit_line_sub_create`` refuses, without a lock: the admin form shows the same
    errors beside their fields. The service checks again after locking the master."""
    amount = positive_amount(amount, field="amount")
    if master.parent_id is not None:
        raise ValidationError({"parent": "分额度下不能再分配分额度"})
    if master.status not in OPEN_STATUSES:
        raise ValidationError({"parent": f"主额度{master.get_status_display()}，不能分配"})
    if member is None or member.household_id != master.household_id:
        raise ValidationError({"member": "该成员不属于主额度所属农户"})
    if master.sub_lines.open().filter(member=member).exists():
        raise ValidationError({"member": "该成员已有分额度"})
    given = master.sub_lines.open().aggregate(total=Sum("amount"))["total"] or Decimal("0")
    if given + amount > master.amount:
        raise ValidationError(
            {"amount": f"分额度合计 {given + amount} 元超过主额度 {master.amount} 元"}
        )
    return amount


@transaction.atomic
def credit_line_sub_create(
    *, master: CreditLine, member: Member, amount, actor, reason: str = ""
) -> CreditLine:
    """A member's share of the household's master line (分额度). The master is locked first,
    so the sub-lines of two concurrent requests never add up to more than the master."""
    master = _locked(master.pk)
    amount = credit_line_sub_check(master=master, member=member, amount=amount)
    line = CreditLine.objects.create(
        bank_id=master.bank_id,
        household_id=master.household_id,
        parent=master,
        member=member,
        product_id=master.product_id,
        product_version_id=master.product_version_id,
        campaign_id=master.campaign_id,
        amount=amount,
        rate=master.rate,
        valid_from=master.valid_from,
        valid_until=master.valid_until,
        status=master.status,
    )
    _log(line, Action.SUB_CREATE, "", actor, normalise_text(reason))
    return line


# --- status transitions ------------------------------------------------------------------------

_TRANSITIONS = {
    Action.ACTIVATE: "activate",
    Action.FREEZE: "freeze",
    Action.UNFREEZE: "unfreeze",
    Action.CLOSE: "close",
}
# Which actions staff start by hand, and the reason each requires.
MANUAL_ACTIONS = (Action.FREEZE, Action.UNFREEZE, Action.CLOSE)


@transaction.atomic
def credit_line_transition(*, line: CreditLine, action: str, actor, reason: str) -> CreditLine:
    """Freeze, unfreeze or close a line (and, from the contract step, activate it), with the
    reason. A master's transition carries its open sub-lines along (a frozen household line
    freezes its members' shares); a wrong state is a clear error, nothing changed."""
    if action not in _TRANSITIONS:
        raise ValidationError({"action": "不支持的操作"})
    reason = normalise_text(reason or "")
    if action in MANUAL_ACTIONS and not reason:
        raise ValidationError({"reason": "请填写原因"})
    line = _locked(line.pk)
    label = Action(action).label
    if action == Action.CLOSE and line.drawn > 0:
        raise ValidationError({"status": f"额度尚有已用 {line.drawn} 元未还清，不能关闭"})
    lines = [line]
    if line.parent_id is None:
        lines += list(
            CreditLine.objects.select_for_update().filter(parent=line, status__in=OPEN_STATUSES)
        )
    for each in lines:
        method = getattr(each, _TRANSITIONS[action])
        if not can_proceed(method):
            if each is line:
                raise ValidationError({"status": f"{each.get_status_display()}的额度不能{label}"})
            continue  # a sub-line already in the target state (e.g. closed on its own)
        before = each.status
        method()
        each.save(update_fields=["status", "updated_at"])
        _log(each, action, before, actor, reason)
    _mark_household(line)
    return line


def _mark_household(line: CreditLine) -> None:
    """The household's 预授信额度 is its open master line's amount (none: cleared)."""
    if line.parent_id is not None:
        return
    amount = (
        CreditLine.objects.masters()
        .open()
        .filter(household_id=line.household_id)
        .order_by("-amount")
        .values_list("amount", flat=True)
        .first()
    )
    Household.objects.filter(pk=line.household_id).update(pre_approved_limit=amount)


# --- drawing on a line and restoring it --------------------------------------------------------


@transaction.atomic
def credit_line_draw(*, line: CreditLine, amount) -> CreditLine:
    """Use ``amount`` of an active line (a drawdown): a sub-line uses its master's availability
    too. Refused above what is available or on a line that is not active."""
    amount = positive_amount(amount, field="amount")
    master, sub = _locked_pair(line)
    for each in filter(None, (master, sub)):
        if each.status != LineStatus.ACTIVE:
            raise ValidationError({"line": f"{each.get_status_display()}的额度不能用信"})
        if each.valid_until < business_today():
            raise ValidationError({"line": "额度已过有效期"})
        if amount > each.available:
            raise ValidationError(
                {"amount": f"用信金额 {amount} 元超过可用额度 {each.available} 元"}
            )
    for each in filter(None, (master, sub)):
        each.drawn += amount
        each.save(update_fields=["drawn", "updated_at"])
    return sub or master


@transaction.atomic
def credit_line_restore(*, line: CreditLine, amount) -> CreditLine:
    """Give back ``amount`` repaid in principal (循环: repaid, it can be drawn again)."""
    amount = positive_amount(amount, field="amount")
    master, sub = _locked_pair(line)
    for each in filter(None, (master, sub)):
        if amount > each.drawn:
            raise ValidationError({"amount": f"恢复金额 {amount} 元超过已用额度 {each.drawn} 元"})
    for each in filter(None, (master, sub)):
        each.drawn -= amount
        each.save(update_fields=["drawn", "updated_at"])
    return sub or master


@transaction.atomic
def credit_line_redraw(*, line: CreditLine, amount) -> CreditLine:
    """Take back ``amount`` a repayment gave the line when that repayment is reversed or
    replayed into less principal: the money was never repaid, so it is drawn again whatever the
    line's status now (the database still refuses more than the line's amount)."""
    amount = positive_amount(amount, field="amount")
    master, sub = _locked_pair(line)
    for each in filter(None, (master, sub)):
        each.drawn += amount
        each.save(update_fields=["drawn", "updated_at"])
    return sub or master


def _locked_pair(line: CreditLine) -> tuple[CreditLine, CreditLine | None]:
    if line.parent_id is None:
        return _locked(line.pk), None
    master = _locked(line.parent_id)
    return master, _locked(line.pk)


# --- the daily expiry --------------------------------------------------------------------------


def credit_lines_expire(*, on_date=None) -> int:
    """Open lines whose validity ended before ``on_date`` become expired (the daily job);
    returns how many. Each in its own short transaction, locked, logged without an actor."""
    on_date = on_date or business_today()
    due = list(
        CreditLine.objects.open()
        .filter(valid_until__lt=on_date)
        .order_by(F("parent_id").asc(nulls_first=True), "id")  # masters (no parent) first
        .values_list("pk", flat=True)
    )
    expired = 0
    for pk in due:
        with transaction.atomic():
            line = _locked(pk)
            if line.status not in OPEN_STATUSES or line.valid_until >= on_date:
                continue
            before = line.status
            line.expire()
            line.save(update_fields=["status", "updated_at"])
            _log(line, Action.EXPIRE, before, None, f"有效期至 {line.valid_until}")
            _mark_household(line)
            expired += 1
    return expired
