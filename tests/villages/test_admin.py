"""The back office: every villages page loads, is scoped to the bank, masks identity and does
not issue a query per row."""

import datetime

import pytest
from django.contrib.auth import get_user_model

from org.models import Staff
from villages.models import Campaign, Household, Village, VillageAssignment
from villages.services import campaign_create

User = get_user_model()

PAGES = [
    "village",
    "villageassignment",
    "household",
    "member",
    "economicarchive",
    "fieldvisit",
    "peerreviewround",
    "campaign",
    "division",
]


@pytest.fixture
def admin_client(client, villages):
    client.force_login(User.objects.get(username="b1_admin"))
    return client


@pytest.mark.parametrize("page", PAGES)
def test_changelists_load_and_stay_in_bank(admin_client, page, villages):
    campaign_create(
        village=villages["v2"],
        name="魏村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 1),
    )
    response = admin_client.get(f"/admin/villages/{page}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "魏村整村授信" not in html
    assert "魏村head" not in html


def test_household_changelist_masks_ids_and_has_constant_queries(
    admin_client, villages, django_assert_max_num_queries
):
    with django_assert_max_num_queries(14):
        html = admin_client.get("/admin/villages/household/").content.decode()
    head = villages["v1_households"][0].head
    assert head.id_number not in html
    assert head.id_number[:4] + "*" * 14 in html
    assert head.id_number[-4:] + "<" not in html  # no tail left to pair with the birth date
    for n in range(20):
        Household.objects.create(village=villages["v1"], bank=villages["v1"].bank, address=f"新{n}")
    with django_assert_max_num_queries(14):
        admin_client.get("/admin/villages/household/")


def test_search_by_whole_id_number_and_whole_phone(admin_client, villages):
    head = villages["v1_households"][1].head
    html = admin_client.get("/admin/villages/household/", {"q": head.id_number}).content.decode()
    assert head.name in html
    assert villages["v1_households"][0].head.name not in html
    phone = villages["v1_households"][0].phone  # every test household has this phone
    by_phone = admin_client.get("/admin/villages/household/", {"q": phone})
    assert set(by_phone.context["cl"].result_list) == set(villages["v1_households"])


def test_search_by_last_digits_gives_nothing_back(admin_client, villages):
    """The mask hides an ID number's tail; a suffix search would hand it back."""
    head = villages["v1_households"][1].head
    response = admin_client.get("/admin/villages/household/", {"q": head.id_number[-4:]})
    assert list(response.context["cl"].result_list) == []


def test_foreign_household_is_404(admin_client, villages):
    foreign = villages["v2_households"][0]
    assert admin_client.get(f"/admin/villages/household/{foreign.pk}/change/").status_code == 404


def test_campaign_list_shows_progress(admin_client, villages):
    campaign_create(
        village=villages["v1"],
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 1),
    )
    response = admin_client.get("/admin/villages/campaign/")
    row = response.context["cl"].result_list[0]
    assert (row.n_households, row.n_archived, row.n_reviewed) == (3, 3, 0)


def test_campaign_actions_move_each_row_and_explain_a_refusal(admin_client, villages):
    campaign = campaign_create(
        village=villages["v1"],
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 1),
    )
    url = "/admin/villages/campaign/"
    post = {"action": "start", "_selected_action": [campaign.pk]}
    page = admin_client.post(url, post, follow=True).content.decode()
    assert "已开始 1 项" in page
    campaign.refresh_from_db()
    assert campaign.status == campaign.Status.IN_PROGRESS

    page = admin_client.post(url, post, follow=True).content.decode()  # already started
    assert f"{campaign}：状态：活动状态不能从“进行中”变为“进行中”" in page
    assert "status" not in page.split("messagelist")[1].split("</ul>")[0]


def test_assigning_someone_who_is_not_an_account_manager_is_refused_on_the_form(
    admin_client, villages
):
    clerk = Staff.objects.get(user__username="b1_admin")
    before = VillageAssignment.objects.count()
    response = admin_client.post(
        "/admin/villages/villageassignment/add/",
        {"village": villages["v1"].pk, "account_manager": clerk.pk},
    )
    assert response.status_code == 200  # the form again, not a redirect with "added"
    assert response.context["adminform"].form.errors["account_manager"] == [
        f"{clerk.full_name}不是客户经理"
    ]
    assert VillageAssignment.objects.count() == before


def test_a_second_open_campaign_for_a_village_is_refused_on_the_form(admin_client, villages):
    campaign_create(
        village=villages["v1"],
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 1),
    )
    response = admin_client.post(
        "/admin/villages/campaign/add/",
        {
            "village": villages["v1"].pk,
            "name": "又一次",
            "starts_on": "2026-10-02",
            "ends_on": "2026-12-01",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["village"] == [
        "北杜村已有未结束的整村授信活动"
    ]
    assert not Campaign.objects.filter(name="又一次").exists()


def test_campaign_dates_in_the_wrong_order_are_explained(admin_client, villages):
    response = admin_client.post(
        "/admin/villages/campaign/add/",
        {
            "village": villages["v1"].pk,
            "name": "倒排",
            "starts_on": "2026-12-01",
            "ends_on": "2026-10-01",
        },
    )
    assert response.status_code == 200
    assert "计划结束日期不能早于开始日期" in str(response.context["adminform"].form.errors)
    assert not Campaign.objects.filter(name="倒排").exists()


def test_a_village_already_held_by_the_bank_is_refused_on_the_form(admin_client, villages):
    village = villages["v1"]
    response = admin_client.post(
        "/admin/villages/village/add/",
        {"division": village.division_id, "name": "重复", "branch": village.branch_id},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["division"] == [
        f"{village.division.name}已由本行社管辖"
    ]
    assert Village.objects.filter(division=village.division).count() == 1


def test_a_bad_phone_is_refused_on_the_household_form(admin_client, villages):
    household = villages["v1_households"][0]
    response = admin_client.post(
        f"/admin/villages/household/{household.pk}/change/",
        {
            "group_name": household.group_name,
            "address": household.address,
            "phone": "12345",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
            "archives-TOTAL_FORMS": "0",
            "archives-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    household.refresh_from_db()
    assert household.phone != "12345"


def test_village_list_counts_each_villages_households(admin_client, villages):
    Household.objects.create(village=villages["v1"], bank=villages["v1"].bank, address="新户")
    page = admin_client.get("/admin/villages/village/")
    counts = {v.pk: v.households_total for v in page.context["cl"].result_list}
    assert counts == {villages["v1"].pk: 4}  # three from the fixture, one new; v2 is another bank's


def test_a_campaign_cannot_be_handed_to_another_banks_staff(client, villages):
    # A superuser's choices are not limited to one bank, so the check itself must hold.
    client.force_login(User.objects.create_superuser("root", password="x"))
    campaign = campaign_create(
        village=villages["v1"],
        name="北杜村整村授信",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 12, 1),
    )
    outsider = Staff.objects.get(user__username="b2_am1")
    response = client.post(
        f"/admin/villages/campaign/{campaign.pk}/change/",
        {"name": "北杜村", "starts_on": "2026-10-01", "ends_on": "2026-12-01", "lead": outsider.pk},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["lead"] == ["负责人须为本行社员工"]
    campaign.refresh_from_db()
    assert (campaign.name, campaign.lead_id) == ("北杜村整村授信", None)


def test_assigning_a_manager_already_serving_the_village_says_so(admin_client, villages):
    manager = Staff.objects.get(user__username="b1_am2")  # serves v1 (fixture)
    before = VillageAssignment.objects.count()
    response = admin_client.post(
        "/admin/villages/villageassignment/add/",
        {"village": villages["v1"].pk, "account_manager": manager.pk},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["account_manager"] == [
        f"{manager.full_name}已是{villages['v1'].name}的包村客户经理"
    ]
    assert VillageAssignment.objects.count() == before
