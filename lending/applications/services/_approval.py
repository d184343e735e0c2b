"""Approval: the investigation that opens review, the reviewer drawn at each level, the
reviewer's decision (approve, possibly lower or dearer; reject with a reason; return for
information), the resubmission, reassignment and expiry.

Separation of duties is enforced here, not in the screens: nobody is drawn for, or may act on,
an application they marketed (created), investigated, or already reviewed at another level. The
application row is locked before its task, everywhere, so two reviewers acting at once queue and
the second finds the state changed (``ApplicationConflict``, 409 over the API).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from common.money import positive_amount
from lending.applications.models import (
    EXPIRABLE,
    IN_REVIEW,
    LEVEL_STATUS,
    Application,
    ApprovalTask,
    RejectReason,
    TaskOutcome,
    TaskStatus,
)
from lending.applications.services._origination import (
    ApplicationConflict,
    S,
    _grant_line,
    _locked,
    _log,
    _release_line,
    require_permission,
)
from org.models import Staff
from org.roles import Role, group_name
from products.models import ApprovalLevel
from products.selectors import product_terms_effective
from risk.lists.services import staff_of
from villages.models import FieldVisit
from villages.validation import normalise_text

# The role whose holders make up each level's pool.
LEVEL_ROLE = {
    ApprovalLevel.BRANCH: Role.BRANCH_REVIEWER,
    ApprovalLevel.CENTRAL_REVIEW: Role.CENTRAL_REVIEWER,
    ApprovalLevel.APPROVAL_CENTRE: Role.APPROVAL_OFFICER,
}
STATUS_LEVEL = {status: level for level, status in LEVEL_STATUS.items()}


def sla_hours() -> int:
    """How long an item may wait in a reviewer's queue before it is shown as overdue."""
    return int(getattr(settings, "APPROVAL_SLA_HOURS", 24))


def _expiry_days() -> int:
    """Days an application may wait for information, an investigation or a signature."""
    return int(getattr(settings, "APPLICATION_EXPIRY_DAYS", 30))


# --- the draw ----------------------------------------------------------------------------------


def conflicted_staff_ids(application: Application, level: str) -> set[int]:
    """Staff who may not review ``application`` at ``level``: whoever marketed it (created it),
    whoever investigated it, and whoever reviewed it at another level. (The reviewer who
    returned it at this level may take it back after the information is supplied.)"""
    ids = set(
        ApprovalTask.objects.filter(
            application=application, status__in=[TaskStatus.OPEN, TaskStatus.DONE]
        )
        .exclude(level=level)
        .values_list("assignee_id", flat=True)
    )
    if application.created_by_id:
        ids.add(application.created_by_id)
    if application.investigation_id:
        ids.add(application.investigation.account_manager_id)
    return ids


def draw_pick(pool: list[int], pool_open: list[int], seed: int) -> int:
    """The reviewer a stored draw picked: weights 1/(1 + open items), so a reviewer with an
    empty queue is twice as likely as one with a single open item. Pure, so anyone can replay
    a stored draw (``draw_replay``)."""
    weights = [1.0 / (1 + n) for n in pool_open]
    return random.Random(seed).choices(pool, weights=weights, k=1)[0]


def draw_replay(task: ApprovalTask) -> int:
    return draw_pick(list(task.pool), list(task.pool_open), task.seed)


@dataclass(frozen=True)
class Draw:
    pool: list[int]
    pool_open: list[int]
    seed: int
    assignee_id: int


def _draw(application: Application, level: str, *, exclude: set[int] = frozenset()) -> Draw:
    """Draw a reviewer for ``level`` among the bank's active staff holding the level's role,
    leaving out anyone with a conflict of duties."""
    excluded = conflicted_staff_ids(application, level) | set(exclude)
    candidates = (
        Staff.objects.filter(
            bank_id=application.bank_id,
            is_active=True,
            user__is_active=True,
            user__groups__name=group_name(LEVEL_ROLE[level]),
        )
        .exclude(pk__in=excluded)
        .annotate(
            open_items=Count(
                "approval_tasks", filter=Q(approval_tasks__status=TaskStatus.OPEN), distinct=True
            )
        )
        .order_by("pk")
        .values_list("pk", "open_items")
    )
    rows = list(candidates)
    if not rows:
        raise ValidationError(
            {
                "level": f"{ApprovalLevel(level).label}没有可分派的审查人员(已排除经办、调查和已审人员)"
            }
        )
    pool = [pk for pk, _ in rows]
    pool_open = [n for _, n in rows]
    seed = secrets.randbits(62)
    return Draw(pool, pool_open, seed, draw_pick(pool, pool_open, seed))


def _open_task(application: Application, level: str, draw: Draw, reason: str) -> ApprovalTask:
    return ApprovalTask.objects.create(
        bank_id=application.bank_id,
        application=application,
        level=level,
        assignee_id=draw.assignee_id,
        pool=draw.pool,
        pool_open=draw.pool_open,
        seed=draw.seed,
        assigned_reason=reason,
        opened_at=timezone.now(),
    )


def _levels(application: Application) -> list[str]:
    levels = [level for level in application.approval_levels if level in LEVEL_STATUS]
    return levels or [ApprovalLevel.BRANCH]


# --- investigation (the assisted path) ---------------------------------------------------------


def application_investigation_check(*, application: Application, visit: FieldVisit) -> None:
    """A usable investigation: the household's own pre-loan visit by an account manager, with
    its location and at least one photo."""
    if visit.household_id != application.household_id:
        raise ValidationError({"visit": "该走访不是对申请农户的走访"})
    if visit.purpose != FieldVisit.Purpose.INVESTIGATION:
        raise ValidationError({"visit": "请选择目的为“贷前调查”的走访"})
    if visit.latitude is None or visit.longitude is None:
        raise ValidationError({"visit": "贷前调查须有定位(经纬度)"})
    if not visit.photos.exists():
        raise ValidationError({"visit": "贷前调查须有现场照片"})


@transaction.atomic
def application_investigate(
    *, application: Application, visit: FieldVisit, actor, comment: str = ""
) -> Application:
    """转人工审批 → the first review level, once an account manager's field visit (GPS and
    photos) is attached; the first reviewer is drawn at once."""
    require_permission(actor, "lending.change_application", "提交贷前调查")
    application = _locked(application, expected=[S.REFERRED], doing="提交调查")
    application_investigation_check(application=application, visit=visit)
    application.investigation = visit
    first = _levels(application)[0]
    before = application.status
    application.enter_review(LEVEL_STATUS[first])
    application.save(update_fields=["status", "investigation", "updated_at"])
    _log(application, before, actor, normalise_text(comment or "") or "贷前调查完成，提交审查")
    draw = _draw(application, first)
    _open_task(application, first, draw, "调查完成后随机分派")
    return application


# --- the reviewer's decision -------------------------------------------------------------------


def _task_locked(task: ApprovalTask, application: Application) -> ApprovalTask:
    task = ApprovalTask.objects.select_for_update().get(pk=task.pk)
    if task.status != TaskStatus.OPEN or application.status != LEVEL_STATUS[task.level]:
        raise ApplicationConflict({"status": "该审批任务已被处理或改派，请刷新"})
    return task


def _check_reviewer(task: ApprovalTask, application: Application, actor) -> Staff:
    staff = staff_of(actor)
    if staff is None or staff.pk != task.assignee_id:
        raise PermissionDenied("只有被分派的审查人可以处理该审批任务")
    require_permission(actor, "lending.review_application", "审批贷款申请")
    # Checked again at action time: a draw made before an investigation was attached, or a
    # task handed over by hand, must not let anyone approve their own case.
    if staff.pk in conflicted_staff_ids(application, task.level):
        raise PermissionDenied("不能审批本人营销、调查或已在其他层级审过的申请")
    return staff


def approval_terms_check(*, application: Application, amount, rate) -> tuple[Decimal, Decimal]:
    """What a reviewer may approve: no more than requested (or than a lower level approved), no
    less than the product's minimum; a rate no lower than decided and within the product's
    cap."""
    terms = product_terms_effective(product=application.product, bank_id=application.bank_id)
    ceiling = application.approved_amount or application.amount
    floor_rate = application.approved_rate or application.decision.rate
    errors = {}
    amount = positive_amount(amount if amount not in (None, "") else ceiling, field="amount")
    if amount > ceiling:
        errors["amount"] = f"同意金额不能超过 {ceiling} 元"
    elif amount < terms.amount_min:
        errors["amount"] = f"同意金额不能低于产品下限 {terms.amount_min} 元"
    try:
        rate = Decimal(str(rate)) if rate not in (None, "") else floor_rate
    except ArithmeticError:
        raise ValidationError({"rate": "请输入正确的年利率"}) from None
    if floor_rate is not None and rate < floor_rate:
        errors["rate"] = f"同意利率不能低于 {floor_rate}%"
    elif rate > terms.rate_cap:
        errors["rate"] = f"同意利率不能高于产品上限 {terms.rate_cap}%"
    if errors:
        raise ValidationError(errors)
    return amount, rate.quantize(Decimal("0.0001"))


@transaction.atomic
def approval_task_decide(
    *,
    task: ApprovalTask,
    actor,
    outcome: str,
    amount=None,
    rate=None,
    reject_reason: str = "",
    comment: str = "",
) -> Application:
    """The assigned reviewer's decision at their level. 同意 passes to the next level the
    application needs (a reviewer drawn at once) or to 审批通过 (its line granted); 拒绝 needs
    a reason code; 退回补充资料 needs a comment saying what is missing."""
    if outcome not in TaskOutcome.values:
        raise ValidationError({"outcome": "请选择审批意见"})
    comment = normalise_text(comment or "")
    application = _locked(task.application, expected=IN_REVIEW, doing="审批")
    task = _task_locked(task, application)
    _check_reviewer(task, application, actor)
    now = timezone.now()
    before = application.status
    levels = _levels(application)
    if outcome == TaskOutcome.APPROVE:
        amount, rate = approval_terms_check(application=application, amount=amount, rate=rate)
        task.amount, task.rate = amount, rate
        application.approved_amount, application.approved_rate = amount, rate
        position = levels.index(task.level) if task.level in levels else len(levels) - 1
        following = levels[position + 1 :]
        if following:
            application.pass_level(LEVEL_STATUS[following[0]])
        else:
            application.pass_level(S.APPROVED)
            _grant_line(application, actor)
        label = f"同意：{amount} 元，年利率 {rate}%"
    elif outcome == TaskOutcome.REJECT:
        if reject_reason not in RejectReason.values:
            raise ValidationError({"reject_reason": "请选择拒绝原因"})
        task.reject_reason = application.reject_reason = reject_reason
        application.reject()
        _release_line(application, actor)
        label = f"拒绝：{RejectReason(reject_reason).label}"
    else:
        if not comment:
            raise ValidationError({"comment": "请写明需要补充的资料"})
        application.returned_level = task.level
        application.return_for_information()
        label = "退回补充资料"
    task.outcome, task.comment, task.status, task.closed_at = outcome, comment, TaskStatus.DONE, now
    task.save()
    application.save()
    _log(application, before, actor, f"{label}。{comment}" if comment else label)
    if outcome == TaskOutcome.APPROVE and application.status in IN_REVIEW:
        next_level = STATUS_LEVEL[application.status]
        _open_task(application, next_level, _draw(application, next_level), "上一级同意后随机分派")
    return application


@transaction.atomic
def application_resubmit(*, application: Application, actor, comment: str) -> Application:
    """退回补充资料 → back to the level that returned it, to the same reviewer if they can
    still take it (they asked for the information), otherwise to a new draw."""
    comment = normalise_text(comment or "")
    if not comment:
        raise ValidationError({"comment": "请说明补充了哪些资料"})
    require_permission(actor, "lending.change_application", "重新提交贷款申请")
    application = _locked(application, expected=[S.RETURNED], doing="重新提交")
    level = application.returned_level or _levels(application)[0]
    before = application.status
    application.enter_review(LEVEL_STATUS[level])
    application.save(update_fields=["status", "updated_at"])
    _log(application, before, actor, comment)
    previous = (
        ApprovalTask.objects.filter(application=application, level=level, outcome="return")
        .select_related("assignee__user")
        .order_by("-closed_at")
        .first()
    )
    if previous is not None and _still_eligible(previous.assignee, level):
        draw = Draw([previous.assignee_id], [0], 0, previous.assignee_id)
        _open_task(application, level, draw, "补充资料后退回原审查人")
    else:
        exclude = {previous.assignee_id} if previous is not None else set()
        draw = _draw(application, level, exclude=exclude)
        _open_task(application, level, draw, "补充资料后重新随机分派")
    return application


def _still_eligible(staff: Staff, level: str) -> bool:
    return (
        staff.is_active
        and staff.user.is_active
        and staff.user.groups.filter(name=group_name(LEVEL_ROLE[level])).exists()
    )


# --- reassignment ------------------------------------------------------------------------------


@transaction.atomic
def approval_task_reassign(*, task: ApprovalTask, actor, reason: str) -> ApprovalTask:
    """An absent reviewer's open item goes to a new draw at the same level, leaving them out.
    Needs 可改派审批任务; the old task stays, marked 已改派, with the reason."""
    require_permission(actor, "lending.reassign_approvaltask", "改派审批任务")
    reason = normalise_text(reason or "")
    if not reason:
        raise ValidationError({"reason": "请填写改派原因"})
    application = _locked(task.application, expected=IN_REVIEW, doing="改派")
    task = _task_locked(task, application)
    task.status, task.closed_at, task.comment = TaskStatus.REASSIGNED, timezone.now(), reason
    task.save(update_fields=["status", "closed_at", "comment"])
    draw = _draw(application, task.level, exclude={task.assignee_id})
    new = _open_task(application, task.level, draw, f"改派：{reason}")
    _log(application, application.status, actor, f"改派审查人：{reason}")
    return new


# --- expiry ------------------------------------------------------------------------------------


def applications_expire(*, now=None) -> int:
    """Applications waiting longer than ``APPLICATION_EXPIRY_DAYS`` for an investigation,
    information or a signature lapse (已过期); a line granted for one of them is closed.
    Each in its own transaction, so one failure does not hold back the rest."""
    cutoff = (now or timezone.now()) - timedelta(days=_expiry_days())
    ids = list(
        Application.objects.filter(status__in=EXPIRABLE, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    expired = 0
    for pk in ids:
        with transaction.atomic():
            try:
                application = _locked(Application(pk=pk), expected=EXPIRABLE, doing="过期")
            except ApplicationConflict:
                continue
            if application.updated_at >= cutoff:
                continue
            before = application.status
            application.expire()
            application.save(update_fields=["status", "updated_at"])
            _release_line(application, None)
            _log(application, before, None, f"超过 {_expiry_days()} 天未办结，自动过期")
            expired += 1
    return expired
