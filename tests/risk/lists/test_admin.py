"""The 风险名单 back office: masked IDs, tenancy, proposals and maker-checker actions."""

from __future__ import annotations

import pytest
from django.test import Client

from common.masking import mask_id_number
from risk.lists.models import RiskListEntry
from tests.risk.lists.conftest import outsider_id
from tests.risk.lists.test_peer_review_sync import review

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/risk/risklistentry/"


@pytest.fixture
def client_for(staff):
    def make(username: str) -> Client:
        client = Client()
        client.force_login(staff[username].user)
        return client

    return make


@pytest.fixture
def entries(listed):
    return {
        "federal": listed(outsider_id(31), maker="fed_admin", checker="fed_modeller"),
        "bank1": listed(outsider_id(32), level="grey", phone="13912340003"),
        "bank2": listed(outsider_id(33), maker="b2_risk", checker="b2_admin_risk"),
    }


@pytest.fixture(autouse=True)
def second_bank2_officer(staff, province):
    from org.roles import Role
    from org.services import staff_create

    staff_create(
        username="b2_admin_risk",
        password="Demo@2026x",
        full_name="襄汾风险复核",
        institution=province["bank2"],
        employee_no="B2009",
        phone="13800209999",
        roles=[Role.RISK_OFFICER],
    )
    staff["b2_admin_risk"] = type(staff["b2_risk"]).objects.get(user__username="b2_admin_risk")


def test_the_list_shows_masked_ids_and_a_bank_sees_federation_entries_and_its_own(
    client_for, entries
):
    page = client_for("b1_risk").get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    for key in ("federal", "bank1"):
        assert mask_id_number(entries[key].id_number) in html
        assert entries[key].id_number not in html
    assert f"/{entries['bank2'].pk}/change/" not in html
    assert "13912340003" not in html
    assert "省联社" in html
    # Another bank's entry is simply not there; the history page masks too.
    assert (
        client_for("b1_risk").get(f"{CHANGELIST}{entries['bank2'].pk}/change/").status_code == 404
    )
    detail = client_for("b1_risk").get(f"{CHANGELIST}{entries['bank1'].pk}/change/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert entries["bank1"].id_number not in text
    assert "139****0003" in text
    assert "复核通过" in text  # the change log
    history = client_for("b1_risk").get(f"{CHANGELIST}{entries['bank1'].pk}/history/")
    assert history.status_code == 200
    assert entries["bank1"].id_number not in history.content.decode()


def test_search_takes_a_whole_id_number_through_the_hash(client_for, entries):
    client = client_for("b1_risk")
    found = client.get(CHANGELIST, {"q": entries["bank1"].id_number})
    assert f"/{entries['bank1'].pk}/change/" in found.content.decode()
    assert f"/{entries['federal'].pk}/change/" not in found.content.decode()
    other_bank = client.get(CHANGELIST, {"q": entries["bank2"].id_number})
    assert f"/{entries['bank2'].pk}/change/" not in other_bank.content.decode()
    by_filter = client.get(CHANGELIST, {"owner": "federation"}).content.decode()
    assert f"/{entries['federal'].pk}/change/" in by_filter
    assert f"/{entries['bank1'].pk}/change/" not in by_filter


def test_the_add_form_proposes_and_refusals_show_beside_the_field(client_for, province):
    client = client_for("b1_reviewer1")
    form = {"id_number": outsider_id(34), "level": "grey", "reason": "疑似中介包装"}
    bad = client.post(f"{CHANGELIST}add/", {**form, "id_number": "141002198001010071"})
    assert bad.status_code == 200
    assert "校验位" in bad.content.decode()
    assert not RiskListEntry.objects.exists()

    done = client.post(f"{CHANGELIST}add/", form)
    assert done.status_code == 302
    entry = RiskListEntry.objects.get()
    assert (entry.status, entry.owner, entry.created_by.user.username) == (
        "pending",
        province["bank1"],
        "b1_reviewer1",
    )


def test_actions_run_maker_checker_and_name_a_refused_row(client_for, staff):
    from risk.lists.services import risk_list_entry_propose

    entry = risk_list_entry_propose(
        by=staff["b1_risk"].user, id_number=outsider_id(35), level="prohibit", reason="冒名贷款"
    )
    own = client_for("b1_risk").post(
        CHANGELIST,
        {"action": "approve_action", "_selected_action": [entry.pk], "reason": ""},
        follow=True,
    )
    assert "不能复核自己提议" in own.content.decode()
    assert str(entry) in own.content.decode()  # the refused row is named (masked)
    entry.refresh_from_db()
    assert entry.status == "pending"

    client_for("b1_risk2").post(
        CHANGELIST, {"action": "approve_action", "_selected_action": [entry.pk], "reason": "同意"}
    )
    entry.refresh_from_db()
    assert entry.status == "active"

    client_for("b1_risk2").post(
        CHANGELIST,
        {"action": "removal_propose_action", "_selected_action": [entry.pk], "reason": "误录"},
    )
    client_for("b1_risk").post(
        CHANGELIST, {"action": "removal_approve_action", "_selected_action": [entry.pk]}
    )
    entry.refresh_from_db()
    assert entry.status == "removed"


def test_account_managers_read_but_cannot_propose_and_the_sync_button(
    client_for, villages, staff, province
):
    page = client_for("b1_am2").get(CHANGELIST)
    assert page.status_code == 200
    assert f"{CHANGELIST}add/" not in page.content.decode()
    assert client_for("b1_am2").get(f"{CHANGELIST}add/").status_code == 403
    assert "按背靠背评议结论同步" not in page.content.decode()

    review(
        villages["v1"],
        villages["v1_households"],
        ["black", "green", "green"],
        staff=staff["b1_am2"],
        tag="adm",
    )
    review(
        villages["v2"],
        villages["v2_households"],
        ["black", "green", "green"],
        staff=staff["b2_am1"],
        tag="adm2",
    )
    assert client_for("b1_am2").post(f"{CHANGELIST}sync-peer-review/").status_code == 403
    risk = client_for("b1_risk")
    assert "按背靠背评议结论同步" in risk.get(CHANGELIST).content.decode()
    done = risk.post(f"{CHANGELIST}sync-peer-review/", follow=True)
    assert "新增 1 条" in done.content.decode()
    # Only the officer's own bank was synced.
    assert list(RiskListEntry.objects.values_list("owner", flat=True)) == [province["bank1"].pk]
