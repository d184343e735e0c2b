"""Who may change which product.

- Federation-owned products (owner empty) are the shared catalogue: federation staff holding
  the product permissions maintain them. The tenancy layer makes federation staff read-only on
  *bank* data; the federation's own products are not bank data, so this is where they write.
- A bank's own products (and its sub-products of federation products) are maintained by that
  bank's risk officers and bank administrators only; the federation reads them.
- Superusers may do anything (platform operations).

The services call these checks themselves, so admin, API and scripts share one rule.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from org.tenancy import scope_for


def can_manage_owner(user, owner_id: int | None, *, perm: str = "products.change_product") -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.has_perm(perm):
        return False
    scope = scope_for(user)
    if scope.sees_nothing:
        return False
    if scope.all_banks:  # federation staff
        return owner_id is None
    return owner_id is not None and owner_id == scope.bank_id


def check_manage_owner(
    user, owner_id: int | None, *, perm: str = "products.change_product"
) -> None:
    if not can_manage_owner(user, owner_id, perm=perm):
        if owner_id is None:
            raise PermissionDenied("只有省联社产品管理人员可以维护省联社产品")
        raise PermissionDenied("只有本行社的产品管理人员可以维护本行社产品")


def can_activate(user, owner_id: int | None) -> bool:
    return can_manage_owner(user, owner_id, perm="products.activate_productversion")


def actor_bank_id(user) -> int | None:
    """The bank a (bank) user acts for; ``None`` for federation staff and superusers."""
    scope = scope_for(user)
    return None if scope.all_banks else scope.bank_id
