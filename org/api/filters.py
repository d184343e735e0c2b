"""The API's filter backend: django-filter's, with foreign-key filters scoped by tenancy.

A ``?village=<id>`` filter built from ``filterset_fields`` validates the id against every row
of the related table, so another bank's id was accepted (200, an empty page) where an id that
does not exist is refused (400): an answer that told the caller the id exists elsewhere. Here
the choices are the rows the user may see, so another bank's id answers exactly as an unknown
one, for every present and future view.
"""

from __future__ import annotations

from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter
from django_filters.rest_framework import DjangoFilterBackend

from org.tenancy import scope_queryset


class TenantFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            scope_related_filters(filterset, request.user)
        return filterset


def scope_related_filters(filterset, user) -> None:
    """Restrict the choices of ``filterset``'s foreign-key filters to the rows ``user`` sees."""
    for declared in filterset.filters.values():
        if not isinstance(declared, ModelChoiceFilter | ModelMultipleChoiceFilter):
            continue
        related = declared.queryset
        if callable(related):
            related = related(filterset.request)
        model = getattr(related, "model", None)
        if model is not None and getattr(model, "tenant_bank_field", None):
            declared.queryset = scope_queryset(related, user)
