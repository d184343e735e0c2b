"""Account managers sync households, members, archives from the PAD; tenancy and masking hold."""

import uuid

import pytest

from villages.models import EconomicArchive, Household, Member


def test_account_manager_lists_only_assigned_villages(login_as, villages):
    response = login_as("b1_am2").get("/api/v1/villages/")
    names = [row["name"] for row in response.json()["results"]]
    assert names == ["北杜村"]
    progress = response.json()["results"][0]["progress"]
    assert progress["households"] == 3
    assert progress["archived"] == 3
    assert progress["archived_percent"] == "100.00"


def test_unassigned_account_manager_sees_no_village(login_as, villages):
    assert login_as("b1_am1").get("/api/v1/villages/").json()["results"] == []
    response = login_as("b1_am1").get(f"/api/v1/villages/{villages['v1'].pk}/households/")
    assert response.status_code == 404


def test_other_banks_village_and_household_are_404(login_as, villages):
    client = login_as("b1_admin")
    assert client.get(f"/api/v1/villages/{villages['v2'].pk}/households/").status_code == 404
    foreign = villages["v2_households"][0]
    assert client.get(f"/api/v1/households/{foreign.pk}/").status_code == 404


def test_household_list_masks_identity_and_filters_updated_since(login_as, villages):
    client = login_as("b1_am2")
    url = f"/api/v1/villages/{villages['v1'].pk}/households/"
    rows = client.get(url).json()["results"]
    assert len(rows) == 3
    assert all("**********" in row["head_id_number"] for row in rows)
    assert all(row["phone"] == "139****5678" for row in rows)

    newest = max(row["updated_at"] for row in rows)
    assert client.get(url, {"updated_since": newest}).json()["results"] == []
    bad = client.get(url, {"updated_since": "昨天"})
    assert bad.status_code == 400
    assert "updated_since" in bad.json()["fields"]


def test_household_list_query_count_is_constant(login_as, villages, django_assert_max_num_queries):
    client = login_as("b1_admin")
    url = f"/api/v1/villages/{villages['v1'].pk}/households/"
    with django_assert_max_num_queries(9):
        client.get(url)
    # more households, same number of queries
    for n in range(10):
        Household.objects.create(village=villages["v1"], bank=villages["v1"].bank, address=f"新{n}")
    with django_assert_max_num_queries(9):
        response = client.get(url)
    assert response.json()["count"] == 13


def test_detail_shows_full_identity_to_account_manager_masked_to_risk_officer(login_as, villages):
    household = villages["v1_households"][0]
    full = login_as("b1_am2").get(f"/api/v1/households/{household.pk}/").json()
    masked = login_as("b1_risk").get(f"/api/v1/households/{household.pk}/").json()

    assert len(full["members"]) == 3
    assert full["head_id_number"] == household.head.id_number
    assert masked["head_id_number"] != household.head.id_number
    assert masked["head_id_number"] == household.head.id_number[:4] + "*" * 14
    assert full["latest_archive"]["net_income"] == "30000.00"
    assert full["latest_archive"]["total_assets"] == "5000.00"


def test_offline_household_sync_twice_is_safe(login_as, villages):
    client = login_as("b1_am2")
    household_id = uuid.uuid4()
    body = {
        "village": villages["v1"].pk,
        "group_name": "第二组",
        "address": "北杜村9号",
        "phone": "+86 139-1234-5678",
    }

    first = client.put(f"/api/v1/households/{household_id}/", body, format="json")
    second = client.put(f"/api/v1/households/{household_id}/", body, format="json")

    assert first.status_code == 201
    assert second.status_code == 200
    assert Household.objects.filter(pk=household_id).count() == 1
    assert Household.objects.get(pk=household_id).phone == "13912345678"


def test_member_put_validates_id_and_names_the_field(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    response = client.put(
        f"/api/v1/members/{uuid.uuid4()}/",
        {
            "household": str(household.pk),
            "name": "王小二",
            "id_number": "110105194912310021",
            "relation": "child",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["id_number"] == ["身份证号校验位错误"]
    assert household.members.count() == 3


def test_member_id_number_unique_within_bank(login_as, villages):
    client = login_as("b1_am2")
    taken = villages["v1_households"][0].head.id_number
    response = client.put(
        f"/api/v1/members/{uuid.uuid4()}/",
        {
            "household": str(villages["v1_households"][1].pk),
            "name": "冒名",
            "id_number": taken,
            "relation": "child",
        },
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["fields"]["id_number"][0]
    assert "已登记在本行社" in message
    # the other member may live in a village this account manager cannot see
    assert villages["v1_households"][0].head.name not in message


def test_member_put_twice_then_correction(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][2]
    member_id = uuid.uuid4()
    body = {
        "household": str(household.pk),
        "name": "李四",
        "id_number": "11010519491231002X",
        "relation": "parent",
        "phone": "13800138000",
    }
    assert client.put(f"/api/v1/members/{member_id}/", body, format="json").status_code == 201
    assert client.put(f"/api/v1/members/{member_id}/", body, format="json").status_code == 200
    corrected = client.put(f"/api/v1/members/{member_id}/", {**body, "name": "李思"}, format="json")
    assert corrected.status_code == 200
    member = Member.objects.get(pk=member_id)
    assert (member.name, member.sex, str(member.birth_date)) == ("李思", "F", "1949-12-31")


def test_another_banks_uuid_cannot_be_overwritten(login_as, villages):
    foreign = villages["v2_households"][0]
    response = login_as("b1_am2").put(
        f"/api/v1/households/{foreign.pk}/",
        {"village": villages["v1"].pk, "address": "x"},
        format="json",
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.village_id == villages["v2"].pk


def test_archive_put_rejects_absurd_land_naming_the_field(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    response = client.put(
        f"/api/v1/archives/{uuid.uuid4()}/",
        {
            "household": str(household.pk),
            "survey_date": "2026-11-01",
            "land_contracted_mu": "12000",
            "deposits": "-5",
        },
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert set(fields) == {"land_contracted_mu", "deposits"}
    assert EconomicArchive.objects.filter(household=household).count() == 1


def test_archive_new_survey_becomes_latest(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    response = client.put(
        f"/api/v1/archives/{uuid.uuid4()}/",
        {
            "household": str(household.pk),
            "survey_date": "2026-11-01",
            "income_wages": "48000",
            "annual_expenses": "20000",
        },
        format="json",
    )
    assert response.status_code == 201
    detail = client.get(f"/api/v1/households/{household.pk}/").json()
    assert detail["latest_archive"]["survey_date"] == "2026-11-01"
    assert detail["latest_archive"]["net_income"] == "28000.00"


@pytest.mark.parametrize("username", ["fed_admin"])
def test_federation_staff_cannot_write_households(login_as, villages, username):
    response = login_as(username).put(
        f"/api/v1/households/{uuid.uuid4()}/", {"village": villages["v1"].pk}, format="json"
    )
    assert response.status_code == 403


def test_household_page_query_count_independent_of_page_size(login_as, villages):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(60):
        Household.objects.create(village=villages["v1"], bank=villages["v1"].bank, address=f"批{n}")
    client = login_as("b1_am2")
    url = f"/api/v1/villages/{villages['v1'].pk}/households/"
    client.get(url)  # the user's tenancy scope is computed once, on the first request
    counts = []
    for size in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page_size": size})
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_archive_date_corrected_onto_another_archives_date_is_refused(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    archive_id = uuid.uuid4()
    body = {"household": str(household.pk), "survey_date": "2026-08-01", "deposits": "100"}
    assert client.put(f"/api/v1/archives/{archive_id}/", body, format="json").status_code == 201

    # 2026-10-01 is the fixture's archive of the same household: was a server error.
    response = client.put(
        f"/api/v1/archives/{archive_id}/",
        {**body, "survey_date": "2026-10-01", "deposits": "200"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["survey_date"]
    archive = EconomicArchive.objects.get(pk=archive_id)
    assert (str(archive.survey_date), archive.deposits) == ("2026-08-01", 100)


def test_archive_survey_date_before_1990_is_refused_as_the_import_does(login_as, villages):
    household = villages["v1_households"][0]
    response = login_as("b1_am2").put(
        f"/api/v1/archives/{uuid.uuid4()}/",
        {"household": str(household.pk), "survey_date": "0026-10-01"},
        format="json",
    )
    assert response.status_code == 400
    assert "1990-01-01" in response.json()["fields"]["survey_date"][0]
    assert EconomicArchive.objects.filter(household=household).count() == 1


def _member_body(member, household, relation):
    return {
        "household": str(household.pk),
        "name": member.name,
        "id_number": member.id_number,
        "relation": relation,
    }


def test_head_corrected_to_another_relation_no_longer_heads_the_household(login_as, villages):
    client = login_as("b1_am2")
    household = villages["v1_households"][0]
    head = household.head

    response = client.put(
        f"/api/v1/members/{head.pk}/", _member_body(head, household, "parent"), format="json"
    )

    assert response.status_code == 200
    household.refresh_from_db()
    assert household.head_id is None  # was still the member now recorded as a parent
    detail = client.get(f"/api/v1/households/{household.pk}/").json()
    assert detail["head_name"] == ""
    # the household can now be given its new head
    spouse = household.members.get(relation="spouse")
    promoted = client.put(
        f"/api/v1/members/{spouse.pk}/", _member_body(spouse, household, "head"), format="json"
    )
    assert promoted.status_code == 200
    household.refresh_from_db()
    assert household.head_id == spouse.pk


def test_head_moved_to_another_household_no_longer_heads_the_old_one(login_as, villages):
    client = login_as("b1_am2")
    old, new = villages["v1_households"][:2]
    head = old.head

    response = client.put(
        f"/api/v1/members/{head.pk}/", _member_body(head, new, "child"), format="json"
    )

    assert response.status_code == 200
    old.refresh_from_db()
    assert old.head_id is None  # was a member of another household
    assert Member.objects.get(pk=head.pk).household_id == new.pk
