"""Who may edit federation-owned and bank-owned definitions (derived features, rules, rule sets):
federation staff the federation's, a bank's staff their own bank's, superusers any; reading
follows ``OwnedQuerySet.visible_to``. Same rule as the products and the risk lists."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from org.models import Institution, Staff
from org.tenancy import scope_for


def can_edit_owned(user, owner_id: int | None, *, perm: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.has_perm(perm):
        return False
    scope = scope_for(user)
    if scope.sees_nothing:
        return False
    if scope.all_banks:
        return owner_id is None
    return owner_id is not None and owner_id == scope.bank_id


def check_can_edit_owned(user, owner_id: int | None, *, perm: str, what: str) -> None:
    if not can_edit_owned(user, owner_id, perm=perm):
        if owner_id is None:
            raise PermissionDenied(f"只有省联社有权限的人员可以修改省联社的{what}")
        raise PermissionDenied(f"只有本行社有权限的人员可以修改本行社的{what}")


def default_owner(user) -> Institution | None:
    """The owner a new definition gets: the user's bank, or the federation (None)."""
    scope = scope_for(user)
    if scope.all_banks or scope.bank_id is None:
        return None
    return Institution.objects.get(pk=scope.bank_id)


def staff_of(user) -> Staff | None:
    return getattr(user, "staff", None) if user is not None and hasattr(user, "staff") else None
