"""The API's token check and permission lookups (org.auth): the same answers as knox and
Django's ModelBackend, in fewer queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from org.auth import PermissionBackend
from org.models import DeviceToken
from org.services import device_token_issue, device_tokens_purge_expired


def _fresh(user):
    return User.objects.get(pk=user.pk)


@pytest.mark.django_db
def test_permissions_are_own_and_groups_in_one_query():
    user = User.objects.create_user("perm_probe")
    group = Group.objects.create(name="探针组")
    group.permissions.add(Permission.objects.get(codename="view_application"))
    user.groups.add(group)
    user.user_permissions.add(Permission.objects.get(codename="add_application"))

    with CaptureQueriesContext(connection) as queries:
        permissions = PermissionBackend().get_all_permissions(_fresh(user))
    assert len(queries) == 2  # the user, then the permissions
    assert {"lending.view_application", "lending.add_application"} <= permissions
    assert permissions == ModelBackend().get_all_permissions(_fresh(user))

    user.groups.remove(group)  # revoked: the next request (a new user object) no longer has it
    assert not _fresh(user).has_perm("lending.view_application")
    assert _fresh(user).has_perm("lending.add_application")


@pytest.mark.django_db
def test_superuser_and_inactive_users():
    admin = User.objects.create_superuser("perm_admin", password=None)
    assert PermissionBackend().get_all_permissions(_fresh(admin)) == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    idle = User.objects.create_user("perm_idle", is_active=False)
    idle.user_permissions.add(Permission.objects.get(codename="add_application"))
    assert PermissionBackend().get_all_permissions(_fresh(idle)) == set()


@pytest.mark.django_db
def test_token_is_checked_with_its_staff_in_one_query(province):
    from org.models import Staff

    user = Staff.objects.get(user__username="b1_am2").user
    _, token = device_token_issue(user=user, device_id="pad-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/applications/").status_code == 200
    token_reads = [q for q in queries if "org_devicetoken" in q["sql"]]
    staff_reads = [q for q in queries if 'FROM "org_staff"' in q["sql"]]
    assert len(token_reads) == 1
    assert not staff_reads

    client.credentials(HTTP_AUTHORIZATION=f"Token {token[:-1]}x")
    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_expired_token_is_refused_and_expired_tokens_are_purged(province):
    from org.models import Staff

    user = Staff.objects.get(user__username="b1_am2").user
    expired, expired_token = device_token_issue(user=user, device_id="pad-old")
    other, _ = device_token_issue(user=user, device_id="pad-other")
    live, live_token = device_token_issue(user=user, device_id="pad-new")
    past = timezone.now() - timedelta(minutes=1)
    DeviceToken.objects.filter(pk__in=[expired.pk, other.pk]).update(expiry=past)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {expired_token}")
    assert client.get("/api/v1/me/").status_code == 401
    assert not DeviceToken.objects.filter(pk=expired.pk).exists()  # deleted when presented
    client.credentials(HTTP_AUTHORIZATION=f"Token {live_token}")
    assert client.get("/api/v1/me/").status_code == 200
    assert DeviceToken.objects.filter(pk=other.pk).exists()  # left for the nightly purge

    assert device_tokens_purge_expired() == 1
    assert list(DeviceToken.objects.filter(user=user).values_list("pk", flat=True)) == [live.pk]
