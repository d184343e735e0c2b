"""API building blocks every app's views use: tenancy-scoped querysets and write guards."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from org.tenancy import scope_for, scope_queryset


class BankDataWritable(BasePermission):
    """Federation staff read bank data but never change it; staff without a bank see nothing."""

    message = "省联社人员对法人行社数据只读"

    def has_permission(self, request, view) -> bool:
        scope = scope_for(request.user)
        if scope.sees_nothing:
            return False
        return request.method in SAFE_METHODS or not scope.read_only


class TenantScopedMixin:
    """``get_queryset`` goes through the tenancy rule: a foreign bank's id is a 404."""

    tenant_bank_field: str | None = None
    tenant_village_field: str | None = None

    def get_queryset(self):
        return scope_queryset(
            super().get_queryset(),
            self.request.user,
            bank_field=self.tenant_bank_field,
            village_field=self.tenant_village_field,
        )
