"""Roles are Django groups whose permissions are defined here, in code, and synced on migrate.

Higher layers add their own permissions to a role from their ``AppConfig.ready`` with
``grant(Role.X, "app.codename", ...)``; patterns like ``"villages.view_*"`` are allowed.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict

from django.db import models


class Role(models.TextChoices):
    ACCOUNT_MANAGER = "account_manager", "客户经理"
    BRANCH_REVIEWER = "branch_reviewer", "支行审查岗"
    CENTRAL_REVIEWER = "central_reviewer", "集中审查中心审查员"
    APPROVAL_OFFICER = "approval_officer", "授信审批中心审批员"
    RISK_OFFICER = "risk_officer", "风险管理岗"
    BANK_ADMIN = "bank_admin", "法人行社管理员"
    FEDERATION_ADMIN = "federation_admin", "省联社管理员"
    # Villagers on a back-to-back peer review panel: a login without a staff record, allowed
    # only the peer review voting endpoints.
    PEER_EVALUATOR = "peer_evaluator", "评议员"


# Account managers see only the villages assigned to them; holding any of these roles as well
# lifts that restriction to the whole bank.
BANK_WIDE_ROLES = frozenset(
    {
        Role.BRANCH_REVIEWER,
        Role.CENTRAL_REVIEWER,
        Role.APPROVAL_OFFICER,
        Role.RISK_OFFICER,
        Role.BANK_ADMIN,
        Role.FEDERATION_ADMIN,
    }
)

_grants: dict[str, set[str]] = defaultdict(set)


def grant(role: Role, *permissions: str) -> None:
    _grants[role.value].update(permissions)


def group_name(role: Role) -> str:
    return role.label


def role_of_group_name(name: str) -> Role | None:
    for role in Role:
        if role.label == name:
            return role
    return None


grant(Role.ACCOUNT_MANAGER, "org.view_institution", "org.view_staff")
grant(Role.BRANCH_REVIEWER, "org.view_institution", "org.view_staff")
grant(Role.CENTRAL_REVIEWER, "org.view_institution", "org.view_staff")
grant(Role.APPROVAL_OFFICER, "org.view_institution", "org.view_staff")
grant(Role.RISK_OFFICER, "org.view_institution", "org.view_staff")
grant(
    Role.BANK_ADMIN,
    "org.*_institution",
    "org.*_staff",
    "auth.view_user",
    "auth.change_user",
    "auth.view_group",
)
# Schedules (django_celery_beat) are province-wide, so only superusers (operations) edit them.
# Federation staff read every bank's data but change only what the federation owns; the
# tenancy layer turns their bank-data access into read-only whatever the permission says.
grant(Role.FEDERATION_ADMIN, "*.view_*", "org.*_institution", "org.*_staff", "auth.*_user")
# Login locks name a login and an address, not a bank: the federation lifts them (登录锁定).
grant(Role.FEDERATION_ADMIN, "org.delete_loginlockout")


def resolve_permissions(patterns: set[str], available: list[tuple[str, str]]) -> set[str]:
    """Expand ``app.codename`` patterns against ``(app_label, codename)`` pairs."""
    names = {f"{app}.{codename}" for app, codename in available}
    resolved: set[str] = set()
    for pattern in patterns:
        resolved.update(name for name in names if fnmatch.fnmatchcase(name, pattern))
    return resolved


def role_groups(roles) -> list:
    """The groups of ``roles``, created if a fresh database has not been synced yet."""
    from django.contrib.auth.models import Group

    return [Group.objects.get_or_create(name=group_name(role))[0] for role in roles]


def roles_sync() -> None:
    """Create the role groups and set their permissions to exactly what the grants say."""
    from django.contrib.auth.models import Group, Permission

    permissions = list(Permission.objects.select_related("content_type"))
    available = [(p.content_type.app_label, p.codename) for p in permissions]
    by_name = {f"{p.content_type.app_label}.{p.codename}": p for p in permissions}
    for role in Role:
        group, _ = Group.objects.get_or_create(name=group_name(role))
        wanted = resolve_permissions(_grants[role.value], available)
        group.permissions.set([by_name[name] for name in sorted(wanted)])


def sync_roles_after_migrate(sender, **kwargs) -> None:
    from common.migrate_hooks import is_last_post_migrate

    if is_last_post_migrate(sender):
        roles_sync()
