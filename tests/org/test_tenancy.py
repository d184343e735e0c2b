"""A bank's staff see their bank only; another bank's id is a 404, in the API and the admin."""

import pytest
from django.contrib.auth import get_user_model

from org.models import Institution, Staff
from org.tenancy import register_assigned_villages, scope_for, scope_queryset

User = get_user_model()


def codes(response):
    return {row["code"] for row in response.json()["results"]}


def test_bank_admin_lists_only_own_bank_institutions(login_as, province):
    response = login_as("b1_admin").get("/api/v1/org/institutions/")

    assert response.status_code == 200
    listed = codes(response)
    assert "SXRCU-YD-B01" in listed
    assert all(code.startswith("SXRCU-YD") for code in listed)
    assert "SXRCU-XF" not in listed


def test_other_banks_institution_is_404_with_uniform_body(login_as, province):
    foreign = Institution.objects.get(code="SXRCU-XF-B01")
    response = login_as("b1_admin").get(f"/api/v1/org/institutions/{foreign.pk}/")

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert body["fields"] == {}
    assert body["message"]
    assert "襄汾" not in response.content.decode()


def test_other_banks_staff_is_404(login_as, province):
    foreign = Staff.objects.get(user__username="b2_am1")
    assert login_as("b1_admin").get(f"/api/v1/org/staff/{foreign.pk}/").status_code == 404
    own = Staff.objects.get(user__username="b1_am1")
    assert login_as("b1_admin").get(f"/api/v1/org/staff/{own.pk}/").status_code == 200


def test_staff_list_masks_phones_and_stays_in_bank(login_as, province):
    response = login_as("b1_admin").get("/api/v1/org/staff/")
    rows = response.json()["results"]

    assert {row["bank_id"] for row in rows} == {province["bank1"].pk}
    assert all("****" in row["phone"] for row in rows if row["phone"])


def test_federation_staff_read_every_bank(login_as, province):
    listed = codes(login_as("fed_admin").get("/api/v1/org/institutions/"))
    assert {"SXRCU-YD", "SXRCU-XF"} <= listed


def test_staff_list_query_count_does_not_grow_with_rows(
    login_as, province, django_assert_max_num_queries
):
    client = login_as("b1_admin")
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/org/staff/?page_size=200")
    assert response.json()["count"] >= 12


def test_account_manager_scope_is_village_restricted(province):
    manager = User.objects.get(username="b1_am1")
    admin_user = User.objects.get(username="b1_admin")
    assert scope_for(manager).village_restricted
    assert not scope_for(admin_user).village_restricted
    assert scope_for(User.objects.get(username="fed_admin")).read_only


def test_village_hook_fails_closed_then_filters_by_assignment(province):
    """Until the villages app registers assignments, village-bound rows are hidden from account
    managers; once registered, only assigned villages' rows show. Staff-by-institution stands in
    for a village-bound model here."""
    from org import tenancy

    manager = User.objects.get(username="b1_am1")
    branch = Institution.objects.get(code="SXRCU-YD-B01")
    previous = tenancy._assigned_villages_provider
    try:
        tenancy._assigned_villages_provider = None
        assert not scope_queryset(
            Staff.objects.all(), manager, village_field="institution"
        ).exists()

        register_assigned_villages(lambda user: [branch.pk])
        visible = scope_queryset(Staff.objects.all(), manager, village_field="institution")
        assert set(visible.values_list("institution__code", flat=True)) == {"SXRCU-YD-B01"}
    finally:
        tenancy._assigned_villages_provider = previous


@pytest.fixture
def admin_client_for(client, province):
    def make(username):
        client.force_login(User.objects.get(username=username))
        return client

    return make


def test_admin_changelist_shows_only_own_bank(admin_client_for):
    page = admin_client_for("b1_admin").get("/admin/org/institution/").content.decode()

    assert "尧都农村商业银行魏村支行" in page
    assert "襄汾农村商业银行" not in page


def test_admin_staff_changelist_shows_only_own_bank(admin_client_for):
    page = admin_client_for("b1_admin").get("/admin/org/staff/").content.decode()

    assert "b1_am1" in page or "B1101" in page
    assert "B2101" not in page


def test_admin_foreign_object_is_404(admin_client_for):
    foreign = Institution.objects.get(code="SXRCU-XF-B01")
    client = admin_client_for("b1_admin")

    assert client.get(f"/admin/org/institution/{foreign.pk}/change/").status_code == 404
    assert client.get(f"/admin/org/institution/{foreign.pk}/history/").status_code == 404


def test_admin_federation_staff_cannot_change_bank_data(admin_client_for):
    branch = Institution.objects.get(code="SXRCU-YD-B01")
    client = admin_client_for("fed_admin")

    assert client.get(f"/admin/org/institution/{branch.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/org/institution/{branch.pk}/change/",
        {"name": "被改名", "address": "", "phone": "", "is_active": "on"},
    )
    assert response.status_code == 403
    branch.refresh_from_db()
    assert branch.name == "尧都农村商业银行城区支行"


def test_admin_bank_admin_cannot_pick_foreign_institution_for_staff(admin_client_for):
    foreign = Institution.objects.get(code="SXRCU-XF-B01")
    response = admin_client_for("b1_admin").post(
        "/admin/org/staff/add/",
        {
            "username": "intruder",
            "password": "Secret@2026x",
            "full_name": "外行员工",
            "institution": foreign.pk,
            "employee_no": "X1",
            "phone": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # form redisplayed with an error
    assert "institution" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="intruder").exists()


def test_staff_list_filters_by_active_and_refuses_a_misspelt_value(login_as, province):
    client = login_as("b1_admin")
    everyone = client.get("/api/v1/org/staff/?page_size=200").json()["count"]
    inactive = client.get("/api/v1/org/staff/?is_active=false").json()["count"]
    active = client.get("/api/v1/org/staff/?is_active=true").json()["count"]
    assert active + inactive == everyone
    assert active > 0
    response = client.get("/api/v1/org/staff/?is_active=maybe")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["is_active"]
