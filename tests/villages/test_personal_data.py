"""Personal data as a bank's IT auditor checks it: masks nobody can undo, reveals that are
recorded, history pages and logs without a full ID number or phone."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client

from common.logging import RedactPersonalData
from common.masking import mask_id_number, redact_text
from villages.models import Member, PersonalDataAccess

ID_IN_CLEAR = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
MOBILE_IN_CLEAR = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def admin_page(username: str, url: str, **kwargs):
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client.get(url, **kwargs) if not kwargs.get("data") else client.post(url, **kwargs)


def test_mask_keeps_no_tail_to_pair_with_the_birth_date():
    assert mask_id_number("14100219800101203X") == "1410**************"
    assert redact_text("身份证 14100219800101203X，电话 +86 13912345678") == (
        "身份证 1410**************，电话 139****5678"
    )


def test_member_history_page_shows_no_full_id_or_phone_to_a_bank_admin(villages):
    member = villages["v1_households"][0].head
    from villages.services import member_upsert

    member_upsert(
        member_id=member.pk,
        household=member.household,
        name=member.name,
        id_number=member.id_number,
        relation=member.relation,
        phone="13700001111",
    )
    response = admin_page("b1_admin", f"/admin/villages/member/{member.pk}/history/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "手机号" in html
    assert "137****1111" in html  # the change is shown, masked
    assert not ID_IN_CLEAR.search(html), ID_IN_CLEAR.search(html)
    assert not MOBILE_IN_CLEAR.search(html), MOBILE_IN_CLEAR.search(html)
    assert "(哈希)" not in html  # keyed hashes are machinery, not history
    assert "</strong>：户主</div>" in html  # choices by their label, not their code
    assert "</strong>：head</div>" not in html
    assert "+00:00" not in html  # times in Beijing time, not UTC strings


def test_household_history_page_masks_for_bank_admin(villages):
    household = villages["v1_households"][0]
    html = admin_page("b1_admin", f"/admin/villages/household/{household.pk}/history/")
    html = html.content.decode()
    assert household.phone not in html
    assert not MOBILE_IN_CLEAR.search(html)


def test_household_edit_form_does_not_prefill_the_full_phone(villages):
    household = villages["v1_households"][0]
    html = admin_page("b1_admin", f"/admin/villages/household/{household.pk}/change/")
    html = html.content.decode()
    assert household.phone not in html
    assert "139****5678" in html


@pytest.mark.parametrize("username", ["b1_admin", "b1_risk", "fed_admin"])
def test_roles_without_the_identity_permission_cannot_reveal(villages, username):
    member = villages["v1_households"][0].head
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    response = client.post(
        f"/admin/villages/member/{member.pk}/reveal/", {"reason": "好奇"}, follow=False
    )
    assert response.status_code == 403
    assert member.id_number not in response.content.decode()
    assert not PersonalDataAccess.objects.exists()


def test_reveal_in_the_admin_needs_a_reason_and_is_recorded(villages):
    member = villages["v1_households"][0].head
    client = Client()
    user = get_user_model().objects.get(username="b1_am2")
    client.force_login(user)
    url = f"/admin/villages/member/{member.pk}/reveal/"

    without_reason = client.post(url, {"reason": "  "})
    assert member.id_number not in without_reason.content.decode()
    assert "请填写查看事由" in without_reason.content.decode()
    assert not PersonalDataAccess.objects.exists()

    shown = client.post(url, {"reason": "柜面核对身份证"})
    assert member.id_number in shown.content.decode()
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.household_id, access.reason, access.channel) == (
        user,
        member.household_id,
        "柜面核对身份证",
        PersonalDataAccess.Channel.ADMIN,
    )
    assert access.member_ids == [str(member.pk)]


def test_api_detail_for_an_account_manager_is_a_recorded_read(login_as, villages):
    household = villages["v1_households"][0]
    client = login_as("b1_am2")
    body = client.get(f"/api/v1/households/{household.pk}/", {"reason": "贷前调查核身"}).json()
    assert body["head_id_number"] == household.head.id_number
    access = PersonalDataAccess.objects.get()
    assert access.reason == "贷前调查核身"
    assert access.channel == PersonalDataAccess.Channel.API
    assert len(access.member_ids) == 3

    login_as("b1_risk").get(f"/api/v1/households/{household.pk}/")
    assert PersonalDataAccess.objects.count() == 1  # a masked read reveals nothing to record


def test_put_answers_are_masked_even_for_account_managers(login_as, villages):
    member = villages["v1_households"][0].head
    response = login_as("b1_am2").put(
        f"/api/v1/members/{member.pk}/",
        {
            "household": str(member.household_id),
            "name": member.name,
            "id_number": member.id_number,
            "relation": member.relation,
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["id_number"] == mask_id_number(member.id_number)
    assert not PersonalDataAccess.objects.exists()


def test_logs_never_carry_a_full_id_number_even_from_a_unique_violation(villages, caplog):
    member = villages["v1_households"][0].head
    handler_filter = RedactPersonalData()
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Member.objects.create(
            household=member.household,
            bank_id=member.bank_id,
            name="重复",
            id_number=member.id_number,
            sex=member.sex,
            birth_date=member.birth_date,
            relation="other",
        )
    record = logging.LogRecord(
        "villages", logging.ERROR, __file__, 1, "写入 %s 失败：%s", (member.id_number, "x"), None
    )
    try:
        raise caught.value
    except IntegrityError:
        import sys

        record.exc_info = sys.exc_info()
    handler_filter.filter(record)
    text = logging.Formatter().format(record)
    assert member.id_number not in text
    assert mask_id_number(member.id_number) in text
    assert "member_id_number_unique_per_bank" in text  # the reason itself survives


def test_every_configured_log_handler_masks_personal_data():
    from django.conf import settings

    for name, handler in settings.LOGGING["handlers"].items():
        assert "personal_data" in handler.get("filters", []), name


def test_administrators_read_the_reveal_records_and_the_revealers_do_not(villages):
    member = villages["v1_households"][0].head
    revealer = Client()
    revealer.force_login(get_user_model().objects.get(username="b1_am2"))
    revealer.post(f"/admin/villages/member/{member.pk}/reveal/", {"reason": "贷后回访核身"})

    html = admin_page("b1_admin", "/admin/villages/personaldataaccess/").content.decode()
    assert "贷后回访核身" in html
    assert f"{member.name}户" in html
    assert member.id_number not in html
    assert revealer.get("/admin/villages/personaldataaccess/").status_code == 403
    other_bank = admin_page("b2_admin", "/admin/villages/personaldataaccess/").content.decode()
    assert "贷后回访核身" not in other_bank


@pytest.mark.parametrize("username", ["b1_risk", "fed_admin"])
def test_view_only_household_page_shows_the_phone_masked(villages, username):
    household = villages["v1_households"][0]
    response = admin_page(username, f"/admin/villages/household/{household.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert household.phone not in html
    assert "139****5678" in html


@pytest.mark.parametrize("username", ["b1_risk", "fed_admin"])
def test_view_only_staff_page_shows_the_work_phone_masked(province, username):
    from org.models import Staff

    staff = Staff.objects.get(user__username="b1_am2")
    response = admin_page(username, f"/admin/org/staff/{staff.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert staff.phone
    assert staff.phone not in html
    assert staff.phone[-4:] in html
