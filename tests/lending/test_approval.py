"""Approval: the investigation that opens review, the reviewer drawn at random (and replayable),
separation of duties, each level's decision within the product's bounds, return and
resubmission, reassignment of an absent reviewer's item, expiry."""

from __future__ import annotations

import datetime
import io
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from lending.applications import services
from lending.applications.models import (
    Application,
    ApplicationStatus,
    ApprovalTask,
    TaskStatus,
)
from lending.lines.models import LineStatus
from org.models import Staff
from org.roles import Role, role_groups
from org.services import staff_create
from tests.lending.test_applications import _apply
from tests.lending.test_lines import MODEST
from tests.risk.decisions.test_outcomes import _household
from villages.services.visits import field_visit_record, visit_photo_add

S = ApplicationStatus
THREE_LEVELS = ["branch", "central_review", "approval_centre"]


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 120, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile("field.png", buffer.getvalue(), content_type="image/png")


def investigation(world, household, *, gps=True, photo=True, by="b1_am2"):
    visit, _ = field_visit_record(
        visit_id=uuid.uuid4(),
        household=household,
        account_manager=world["staff"][by],
        visited_at=timezone.now() - datetime.timedelta(hours=1),
        purpose="investigation",
        notes="核实种植面积 12 亩，与档案一致",
        latitude=Decimal("36.087000") if gps else None,
        longitude=Decimal("111.519000") if gps else None,
    )
    if photo:
        visit_photo_add(
            photo_id=uuid.uuid4(),
            visit=visit,
            kind="land",
            upload=png(),
            captured_at=timezone.now() - datetime.timedelta(hours=1),
        )
    return visit


def reviewer(world, username, role, *, institution=None):
    """One more reviewer of bank 1 (the demo has one per branch and one per centre)."""
    existing = Staff.objects.filter(user__username=username).first()
    if existing is not None:
        return existing
    return staff_create(
        username=username,
        password="Demo@2026x",
        full_name=f"审查员{username[-2:]}",
        institution=institution or world["province"]["bank1"],
        employee_no=f"T{abs(hash(username)) % 10**6:06d}",
        roles=[role],
    )


def referred(world, *, sequence, levels=("branch",), amount="200000"):
    household = _household(world, figures=MODEST, sequence=sequence)
    application, _ = _apply(world, household, amount=amount)
    application = services.application_submit(
        application=application, actor=world["staff"]["b1_am2"].user
    )
    assert application.status == S.REFERRED
    Application.objects.filter(pk=application.pk).update(approval_levels=list(levels))
    application.refresh_from_db()
    return application


def under_review(world, *, sequence, levels=("branch",), amount="200000"):
    application = referred(world, sequence=sequence, levels=levels, amount=amount)
    visit = investigation(world, application.household)
    return services.application_investigate(
        application=application, visit=visit, actor=world["staff"]["b1_am2"].user
    )


def open_task(application) -> ApprovalTask:
    return ApprovalTask.objects.get(application=application, status=TaskStatus.OPEN)


def test_review_starts_only_after_an_investigation_with_location_and_photos(
    world, local_flow, media
):
    application = referred(world, sequence=970)
    actor = world["staff"]["b1_am2"].user
    for visit, wrong in (
        (investigation(world, application.household, gps=False), "定位"),
        (investigation(world, application.household, photo=False), "照片"),
        (investigation(world, world["v1_households"][1]), "申请农户"),
    ):
        with pytest.raises(ValidationError) as refused:
            services.application_investigate(application=application, visit=visit, actor=actor)
        assert wrong in refused.value.message_dict["visit"][0]
    application.refresh_from_db()
    assert application.status == S.REFERRED
    assert not ApprovalTask.objects.exists()

    good = investigation(world, application.household)
    application = services.application_investigate(application=application, visit=good, actor=actor)
    assert application.status == S.BRANCH_REVIEW
    assert application.investigation == good
    task = open_task(application)
    assert task.level == "branch"
    assert task.assignee_id in task.pool
    assert services.draw_replay(task) == task.assignee_id
    assert task.assignee.user.groups.filter(name=Role.BRANCH_REVIEWER.label).exists()


def test_the_draw_is_weighted_towards_short_queues_and_replays():
    picks = [services.draw_pick([1, 2], [0, 5], seed) for seed in range(2000)]
    # Weights 1 and 1/6: about six in seven draws go to the reviewer with the empty queue.
    share = picks.count(1) / len(picks)
    assert 0.80 < share < 0.92
    assert picks == [services.draw_pick([1, 2], [0, 5], seed) for seed in range(2000)]


def test_nobody_reviews_what_they_marketed_investigated_or_reviewed_below(world, local_flow, media):
    bank1 = world["province"]["bank1"]
    # One person who markets and also holds a reviewer role must never get their own case.
    both = staff_create(
        username="b1_both",
        password="Demo@2026x",
        full_name="兼岗员工",
        institution=bank1,
        employee_no="T900001",
        roles=[Role.ACCOUNT_MANAGER, Role.BRANCH_REVIEWER, Role.CENTRAL_REVIEWER],
    )
    for n in range(3):
        reviewer(world, f"b1_branch_x{n}", Role.BRANCH_REVIEWER)
    household = _household(world, figures=MODEST, sequence=971)
    application, _ = _apply(world, household, amount="200000", actor=both.user)
    application = services.application_submit(application=application, actor=both.user)
    Application.objects.filter(pk=application.pk).update(approval_levels=THREE_LEVELS)
    application.refresh_from_db()
    services.application_investigate(
        application=application,
        visit=investigation(world, household, by="b1_am2"),
        actor=world["staff"]["b1_am2"].user,
    )
    task = open_task(application)
    assert both.pk not in task.pool
    assert world["staff"]["b1_am2"].pk not in task.pool

    # Handed to the marketer by hand anyway: the service refuses them.
    ApprovalTask.objects.filter(pk=task.pk).update(assignee=both)
    with pytest.raises(PermissionDenied):
        services.approval_task_decide(task=task, actor=both.user, outcome="approve")
    ApprovalTask.objects.filter(pk=task.pk).update(assignee_id=task.assignee_id)

    # The branch reviewer also holds the central role: they are left out of the next level.
    branch_reviewer = task.assignee
    branch_reviewer.user.groups.add(*role_groups([Role.CENTRAL_REVIEWER]))
    reviewer(world, "b1_central_x1", Role.CENTRAL_REVIEWER)
    services.approval_task_decide(task=task, actor=branch_reviewer.user, outcome="approve")
    central = open_task(application)
    assert central.level == "central_review"
    assert branch_reviewer.pk not in central.pool
    assert both.pk not in central.pool

    # Someone else than the assignee cannot act on the task.
    with pytest.raises(PermissionDenied):
        services.approval_task_decide(task=central, actor=branch_reviewer.user, outcome="approve")


def test_three_levels_lower_the_amount_raise_the_rate_and_grant_the_line(world, local_flow, media):
    application = under_review(world, sequence=972, levels=THREE_LEVELS)
    decided_rate = application.decision.rate
    task = open_task(application)
    user = task.assignee.user
    for amount, rate, field in (
        ("250000", None, "amount"),  # more than requested
        ("100", None, "amount"),  # under the product's minimum
        (None, decided_rate - Decimal("0.5"), "rate"),  # cheaper than decided
        (None, "99", "rate"),  # over the product's cap
    ):
        with pytest.raises(ValidationError) as refused:
            services.approval_task_decide(
                task=task, actor=user, outcome="approve", amount=amount, rate=rate
            )
        assert field in refused.value.message_dict
    assert open_task(application).pk == task.pk

    services.approval_task_decide(
        task=task, actor=user, outcome="approve", amount="150000", comment="收入核实偏低"
    )
    application.refresh_from_db()
    assert application.status == S.CENTRAL_REVIEW
    central = open_task(application)
    dearer = decided_rate + Decimal("0.3")
    services.approval_task_decide(
        task=central, actor=central.assignee.user, outcome="approve", rate=dearer
    )
    final = open_task(application)
    assert final.level == "approval_centre"
    with pytest.raises(ValidationError):  # a higher level cannot raise what a lower one cut
        services.approval_task_decide(
            task=final, actor=final.assignee.user, outcome="approve", amount="160000"
        )
    application = services.approval_task_decide(
        task=final, actor=final.assignee.user, outcome="approve"
    )
    assert application.status == S.APPROVED
    assert application.approved_amount == Decimal("150000.00")
    assert application.approved_rate == dearer
    line = application.line
    assert (line.status, line.amount, line.rate) == (
        LineStatus.PRE_APPROVED,
        Decimal("150000.00"),
        dearer,
    )
    steps = list(application.events.values_list("to_status", flat=True))
    assert steps[-4:] == [S.BRANCH_REVIEW, S.CENTRAL_REVIEW, S.APPROVAL_CENTRE, S.APPROVED]
    assert ApprovalTask.objects.filter(application=application, status="done").count() == 3


def test_reject_needs_a_reason_and_return_goes_back_to_the_same_reviewer(world, local_flow, media):
    application = under_review(world, sequence=973)
    task = open_task(application)
    user = task.assignee.user
    with pytest.raises(ValidationError) as no_reason:
        services.approval_task_decide(task=task, actor=user, outcome="reject")
    assert "reject_reason" in no_reason.value.message_dict
    with pytest.raises(ValidationError) as no_comment:
        services.approval_task_decide(task=task, actor=user, outcome="return")
    assert "comment" in no_comment.value.message_dict

    services.approval_task_decide(
        task=task, actor=user, outcome="return", comment="补充土地流转合同"
    )
    application.refresh_from_db()
    assert application.status == S.RETURNED
    with pytest.raises(ValidationError):
        services.application_resubmit(application=application, actor=user, comment=" ")
    services.application_resubmit(
        application=application, actor=world["staff"]["b1_am2"].user, comment="已上传土地流转合同"
    )
    again = open_task(application)
    assert again.assignee_id == task.assignee_id
    application = services.approval_task_decide(
        task=again, actor=user, outcome="reject", reject_reason="income_insufficient"
    )
    assert application.status == S.REJECTED
    assert application.get_reject_reason_display() == "收入不足以覆盖还款"
    assert "收入不足" in application.events.last().comment


def test_an_absent_reviewers_item_is_reassigned_by_the_administrator(world, local_flow, media):
    for n in range(2):
        reviewer(world, f"b1_branch_y{n}", Role.BRANCH_REVIEWER)
    application = under_review(world, sequence=974)
    task = open_task(application)
    with pytest.raises(PermissionDenied):
        services.approval_task_reassign(
            task=task, actor=world["staff"]["b1_am2"].user, reason="休假"
        )
    admin = world["staff"]["b1_admin"].user
    with pytest.raises(ValidationError):
        services.approval_task_reassign(task=task, actor=admin, reason="")
    new = services.approval_task_reassign(task=task, actor=admin, reason="审查员休假一周")
    task.refresh_from_db()
    assert task.status == TaskStatus.REASSIGNED
    assert new.assignee_id != task.assignee_id
    assert task.assignee_id not in new.pool
    assert new.assigned_reason == "改派：审查员休假一周"
    with pytest.raises(services.ApplicationConflict):  # the old reviewer's screen is stale
        services.approval_task_decide(task=task, actor=task.assignee.user, outcome="approve")


def test_waiting_applications_expire_and_release_their_line(world, local_flow, media):
    application = under_review(world, sequence=975)
    task = open_task(application)
    services.approval_task_decide(task=task, actor=task.assignee.user, outcome="approve")
    application.refresh_from_db()
    assert application.status == S.APPROVED
    line = application.line
    assert services.applications_expire() == 0
    later = timezone.now() + datetime.timedelta(days=31)
    assert services.applications_expire(now=later) == 1
    application.refresh_from_db()
    line.refresh_from_db()
    assert application.status == S.EXPIRED
    assert line.status == LineStatus.CLOSED
    assert application.events.last().comment.startswith("超过 30 天")


def test_withdrawing_during_review_cancels_the_reviewers_item(world, local_flow, media):
    application = under_review(world, sequence=976)
    services.application_withdraw(
        application=application, actor=world["staff"]["b1_am2"].user, reason="资金已解决"
    )
    assert not ApprovalTask.objects.filter(status=TaskStatus.OPEN).exists()
    assert ApprovalTask.objects.get().status == TaskStatus.CANCELLED


def test_every_transition_needs_its_permission(world, local_flow, media):
    """A risk officer reads applications but runs none of their transitions; each refusal
    leaves the application as it was."""
    risk = world["staff"]["b1_risk"].user
    household = _household(world, figures=MODEST, sequence=977)
    draft, _ = _apply(world, household, amount="200000")
    with pytest.raises(PermissionDenied):
        services.application_submit(application=draft, actor=risk)
    with pytest.raises(PermissionDenied):
        services.application_withdraw(application=draft, actor=risk)
    draft.refresh_from_db()
    assert draft.status == S.DRAFT

    application = referred(world, sequence=978)
    visit = investigation(world, application.household)
    with pytest.raises(PermissionDenied):
        services.application_investigate(application=application, visit=visit, actor=risk)
    application = services.application_investigate(
        application=application, visit=visit, actor=world["staff"]["b1_am2"].user
    )
    task = open_task(application)
    with pytest.raises(PermissionDenied):
        services.approval_task_reassign(task=task, actor=risk, reason="休假")
    # The drawn reviewer without the review permission (role taken away) cannot decide.
    task.assignee.user.groups.clear()
    with pytest.raises(PermissionDenied):
        services.approval_task_decide(task=task, actor=task.assignee.user, outcome="approve")
    task.assignee.user.groups.add(*role_groups([Role.BRANCH_REVIEWER]))
    task.assignee.user = type(task.assignee.user).objects.get(pk=task.assignee.user.pk)
    services.approval_task_decide(
        task=task, actor=task.assignee.user, outcome="return", comment="补充收入证明"
    )
    with pytest.raises(PermissionDenied):
        services.application_resubmit(application=application, actor=risk, comment="已补充")
    application.refresh_from_db()
    assert application.status == S.RETURNED
    assert ApprovalTask.objects.filter(application=application).count() == 1
