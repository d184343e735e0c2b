"""Tenancy: the one place that decides which rows a user may see.

Every bank-owned model declares the path to its bank (``tenant_bank_field = "bank"`` or
``"household__village__bank"``) and, when it hangs off a village, the path to the village
(``tenant_village_field = "village"``). Querysets, the admin (``org.admin_mixins``) and the API
(``org.api.mixins``) all filter through :func:`scope_queryset`, so the rule is written once:

- superusers see everything;
- federation staff see every bank's rows, read-only (``Scope.read_only``);
- bank staff see only their own bank's rows; another bank's id is simply not found (404);
- account managers (without a bank-wide role) also see only rows of villages assigned to them.
  The assignment lives in the ``villages`` app, a higher layer, which registers a provider with
  :func:`register_assigned_villages`; until one is registered, village-bound rows are hidden from
  account managers (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models

from org.roles import BANK_WIDE_ROLES, Role, role_of_group_name


@dataclass(frozen=True)
class Scope:
    authenticated: bool
    all_banks: bool
    bank_id: int | None
    read_only: bool
    village_restricted: bool
    roles: frozenset[Role]

    @property
    def sees_nothing(self) -> bool:
        return not self.authenticated or (not self.all_banks and self.bank_id is None)


_NO_SCOPE = Scope(False, False, None, True, True, frozenset())
_assigned_villages_provider: Callable | None = None


def register_assigned_villages(provider: Callable) -> None:
    """``provider(user)`` returns a queryset of the village ids the account manager serves."""
    global _assigned_villages_provider
    _assigned_villages_provider = provider


def scope_for(user) -> Scope:
    """The user's scope, computed once per user object (i.e. once per request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return _NO_SCOPE
    cached = getattr(user, "_tenant_scope", None)
    if cached is not None:
        return cached

    roles = frozenset(
        role
        for role in (
            role_of_group_name(name) for name in user.groups.values_list("name", flat=True)
        )
        if role is not None
    )
    staff = getattr(user, "staff", None) if hasattr(user, "staff") else None
    if user.is_superuser:
        scope = Scope(True, True, None, False, False, roles)
    elif staff is None or not staff.is_active:
        scope = Scope(True, False, None, True, True, roles)
    elif staff.bank_id is None:  # federation staff
        scope = Scope(True, True, None, True, False, roles)
    else:
        restricted = Role.ACCOUNT_MANAGER in roles and not (roles & BANK_WIDE_ROLES)
        scope = Scope(True, False, staff.bank_id, False, restricted, roles)
    user._tenant_scope = scope
    return scope


def scope_queryset(
    queryset: models.QuerySet,
    user,
    *,
    bank_field: str | None = None,
    village_field: str | None = None,
) -> models.QuerySet:
    """Restrict ``queryset`` to the rows ``user`` may see.

    The paths default to the model's ``tenant_bank_field`` / ``tenant_village_field``; pass them
    for models the project does not own (e.g. ``auth.User`` via ``staff__bank``).
    """
    model = queryset.model
    bank_field = bank_field or getattr(model, "tenant_bank_field", None)
    village_field = village_field or getattr(model, "tenant_village_field", None)
    if bank_field is None:
        raise TypeError(f"{model.__name__} does not declare tenant_bank_field")

    scope = scope_for(user)
    if scope.sees_nothing:
        return queryset.none()
    if not scope.all_banks:
        queryset = queryset.filter(**{bank_field: scope.bank_id})
    if scope.village_restricted and village_field:
        if _assigned_villages_provider is None:
            return queryset.none()
        queryset = queryset.filter(**{f"{village_field}__in": _assigned_villages_provider(user)})
    return queryset


def can_write_bank_data(user, bank_id: int | None) -> bool:
    """Whether ``user`` may change a row that belongs to ``bank_id``."""
    scope = scope_for(user)
    if scope.sees_nothing or scope.read_only:
        return False
    return scope.all_banks or scope.bank_id == bank_id


class TenantQuerySet(models.QuerySet):
    def for_user(self, user) -> TenantQuerySet:
        return scope_queryset(self, user)
