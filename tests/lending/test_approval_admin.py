"""The review pages as the staff use them: the account manager submits the investigation, the
drawn reviewer finds the item in 我的待办 with its age, reads the decision, archive and photos,
and approves; nobody else can; an overdue item is flagged; the administrator reassigns."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from lending.applications.models import ApplicationStatus, ApprovalTask, TaskStatus
from org.roles import Role
from tests.lending.test_approval import investigation, referred, reviewer

S = ApplicationStatus


def _login(client, user):
    client.force_login(get_user_model().objects.get(pk=user.pk))


def test_investigation_review_and_approval_through_the_pages(
    world, local_flow, media, client, django_assert_max_num_queries
):
    application = referred(world, sequence=980)
    visit = investigation(world, application.household)
    review_url = f"/admin/lending/application/{application.pk}/review/"

    am = world["staff"]["b1_am2"]
    _login(client, am.user)
    page = client.get(review_url).content.decode()
    assert "提交贷前调查" in page
    assert "决策结论与原因" in page
    assert application.applicant.id_number not in page
    sent = client.post(
        review_url,
        {"action": "investigate", "investigate-visit": visit.pk, "investigate-comment": "属实"},
        follow=True,
    )
    assert "已提交贷前调查，进入审查" in sent.content.decode()
    application.refresh_from_db()
    assert application.status == S.BRANCH_REVIEW
    task = ApprovalTask.objects.get(application=application)

    # The account manager cannot decide: the form is not offered and a forged post is refused.
    forged = client.post(review_url, {"action": "decide", "decide-outcome": "approve"})
    assert forged.status_code == 403

    _login(client, task.assignee.user)
    with django_assert_max_num_queries(16):
        queue = client.get("/admin/lending/approvaltask/")
    text = queue.content.decode()
    assert "我的待办" in text
    assert str(application) in text
    assert "分钟" in text  # the item's age
    page = client.get(review_url).content.decode()
    assert "审批意见" in page
    assert "贷前调查" in page
    assert "核实种植面积" in page
    assert "/photos/" in page  # the investigation's photo, through the authorised view
    refused = client.post(
        review_url,
        {"action": "decide", "decide-outcome": "approve", "decide-amount": "999999"},
    )
    assert "同意金额不能超过" in refused.content.decode()
    done = client.post(
        review_url,
        {"action": "decide", "decide-outcome": "approve", "decide-amount": "180000"},
        follow=True,
    )
    assert "已提交审批意见：同意" in done.content.decode()
    application.refresh_from_db()
    assert application.status == S.APPROVED
    assert application.approved_amount == 180000


def test_an_overdue_item_is_flagged_and_reassigned(world, local_flow, media, client):
    reviewer(world, "b1_branch_z1", Role.BRANCH_REVIEWER)
    application = referred(world, sequence=981)
    from lending.applications import services

    services.application_investigate(
        application=application,
        visit=investigation(world, application.household),
        actor=world["staff"]["b1_am2"].user,
    )
    task = ApprovalTask.objects.get(application=application)
    ApprovalTask.objects.filter(pk=task.pk).update(
        opened_at=timezone.now() - datetime.timedelta(hours=30)
    )
    _login(client, world["staff"]["b1_admin"].user)
    overdue = client.get("/admin/lending/approvaltask/?queue=overdue").content.decode()
    assert "（超时）" in overdue
    assert "1天6小时" in overdue
    moved = client.post(
        "/admin/lending/approvaltask/?queue=all",
        {"action": "reassign_action", "_selected_action": [task.pk], "reason": "病假"},
        follow=True,
    )
    assert "已改派 1 项" in moved.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.REASSIGNED
    new = ApprovalTask.objects.get(application=application, status=TaskStatus.OPEN)
    assert new.assignee_id != task.assignee_id
