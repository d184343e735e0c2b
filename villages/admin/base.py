"""Shared pieces of the villages admin."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q

from common.errors import describe_error
from org.models import Staff

_ID_SUFFIX = re.compile(r"^[0-9]{3,6}[0-9Xx]?$")


def acting_staff(request) -> Staff | None:
    return getattr(request.user, "staff", None)


def report_errors(request, exc: ValidationError, *, model, subject=None) -> None:
    """A service's refusal as one error message, fields named as the admin names them."""
    reason = describe_error(exc, model=model)
    messages.error(request, f"{subject}：{reason}" if subject is not None else reason)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HouseholdSearchMixin:
    """Search by name, by the last digits of an ID number, or by the end of a phone number —
    staff type what the villager reads out, never a whole ID."""

    id_field = "head__id_number"
    phone_fields = ("phone",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if _ID_SUFFIX.match(term):
            condition = Q(**{f"{self.id_field}__endswith": term.upper()})
            for field in self.phone_fields:
                condition |= Q(**{f"{field}__endswith": term})
            return queryset.filter(condition), False
        return super().get_search_results(request, queryset, search_term)
