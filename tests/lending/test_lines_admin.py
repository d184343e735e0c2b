"""The lines' admin pages as a bank's risk officer uses them: Chinese labels and statuses, a
share refused beside its field, freezing with a reason through the action, a pre-approval
batch started from a campaign."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from lending.lines.models import CreditLine, CreditLineChange, LinePreapproval, LineStatus
from tests.lending.test_lines import campaign_lines  # noqa: F401


def _login(client, username="b1_risk"):
    client.force_login(get_user_model().objects.get(username=username))


def test_lines_pages_and_actions(world, campaign_lines, client, django_assert_max_num_queries):  # noqa: F811
    _login(client)
    with django_assert_max_num_queries(15):
        listing = client.get("/admin/lending/creditline/")
    page = listing.content.decode()
    assert listing.status_code == 200
    assert "预授信" in page
    assert "可用额度" in page
    assert "户" in page
    master = CreditLine.objects.filter(campaign=campaign_lines["campaign"]).first()
    detail = client.get(f"/admin/lending/creditline/{master.pk}/change/").content.decode()
    assert "变更记录" in detail
    assert "查看决策与决策过程" in detail
    assert master.household.head.id_number not in detail

    # A share larger than the master: refused beside the amount, nothing written.
    too_much = client.post(
        "/admin/lending/creditline/add/",
        {"parent": master.pk, "member": master.household.head.pk, "amount": "9999999"},
    )
    assert too_much.status_code == 200
    assert "超过主额度" in too_much.content.decode()
    assert "分配分额度" in client.get("/admin/lending/creditline/").content.decode()
    assert not CreditLine.objects.filter(parent=master).exists()

    # Freezing a pre-approved line is refused with the reason; unfreezing nothing is too.
    refused = client.post(
        "/admin/lending/creditline/",
        {"action": "freeze_action", "_selected_action": [master.pk], "reason": "涉诉"},
        follow=True,
    )
    assert "预授信的额度不能冻结" in refused.content.decode()
    from lending.lines.services import credit_line_transition

    credit_line_transition(
        line=master, action="activate", actor=world["staff"]["b1_risk"].user, reason="已签约"
    )
    frozen = client.post(
        "/admin/lending/creditline/",
        {"action": "freeze_action", "_selected_action": [master.pk], "reason": "涉诉"},
        follow=True,
    )
    assert "已冻结 1 项" in frozen.content.decode()
    master.refresh_from_db()
    assert master.status == LineStatus.FROZEN
    assert CreditLineChange.objects.filter(line=master, action="freeze", reason="涉诉").exists()


def test_a_pre_approval_batch_is_started_from_a_campaign(world, campaign_lines, client):  # noqa: F811
    _login(client, "b1_admin")
    form = client.get("/admin/lending/linepreapproval/add/")
    assert form.status_code == 200
    assert "北杜村整村授信" in form.content.decode()
    before = LinePreapproval.objects.count()
    started = client.post(
        "/admin/lending/linepreapproval/add/",
        {"campaign": campaign_lines["campaign"].pk},
        follow=True,
    )
    assert started.status_code == 200
    assert LinePreapproval.objects.count() == before + 1
    listing = client.get("/admin/lending/linepreapproval/").content.decode()
    assert "预授信批次" in listing
