"""Every change to an audited model leaves an event row naming who did it and from where."""

from django.contrib.auth import get_user_model
from pghistory.models import Events

from common.audit import audit_context
from org.models import Institution

User = get_user_model()


def test_admin_change_is_recorded_with_acting_user_and_path(client, province):
    actor = User.objects.get(username="b1_admin")
    branch = Institution.objects.get(code="SXRCU-YD-B02")
    client.force_login(actor)

    response = client.post(
        f"/admin/org/institution/{branch.pk}/change/",
        {"name": "尧都农商银行魏村中心支行", "address": "魏村镇", "phone": "", "is_active": "on"},
    )

    assert response.status_code == 302
    update = Events.objects.tracks(branch).filter(pgh_label="update").get()
    assert update.pgh_context["user"] == actor.pk
    assert update.pgh_context["url"] == f"/admin/org/institution/{branch.pk}/change/"
    assert update.pgh_diff["name"] == ["尧都农村商业银行魏村支行", "尧都农商银行魏村中心支行"]


def test_bulk_update_outside_a_request_is_recorded_with_its_context(province):
    with audit_context(command="nightly_batch"):
        Institution.objects.filter(code__startswith="SXRCU-XF-B").update(phone="0357-1234567")

    branch = Institution.objects.get(code="SXRCU-XF-B03")
    update = Events.objects.tracks(branch).filter(pgh_label="update").get()
    assert update.pgh_context["command"] == "nightly_batch"


def test_history_page_lists_events_with_actor(client, province):
    actor = User.objects.get(username="b1_admin")
    branch = Institution.objects.get(code="SXRCU-YD-B03")
    client.force_login(actor)
    client.post(
        f"/admin/org/institution/{branch.pk}/change/",
        {"name": "屯里中心支行", "address": "", "phone": "", "is_active": "on"},
    )

    page = client.get(f"/admin/org/institution/{branch.pk}/history/").content.decode()

    assert "变更历史" in page
    assert actor.first_name in page
    assert "屯里中心支行" in page
    assert "新增" in page
    assert "修改" in page
