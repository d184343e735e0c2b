"""Shared pieces of the villages admin."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q

from common import pii
from common.errors import describe_error
from org.models import Staff
from villages.models import PersonalDataAccess
from villages.services import may_reveal_identity, personal_data_reveal

_WHOLE_ID = re.compile(r"^[0-9]{17}[0-9X]$")
_WHOLE_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


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
    """Search by name, by a whole ID number, or by a whole mobile number.

    ID numbers and phones are stored encrypted and found through their keyed hash
    (``common.pii``), so only a whole value can be looked up. That is also what masking needs:
    a search by the last digits would answer "whose number ends in 207X?", one query at a time,
    and give back the digits the mask hides."""

    id_hash_field = "head__id_number_hash"
    phone_hash_fields = ("phone_hash",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().upper()
        if _WHOLE_ID.match(term):
            digest = pii.blind_index(term, pii.ID_NUMBER)
            return queryset.filter(**{self.id_hash_field: digest}), False
        if _WHOLE_MOBILE.match(term):
            digest = pii.blind_index(term, pii.PHONE)
            condition = Q()
            for field in self.phone_hash_fields:
                condition |= Q(**{field: digest})
            return queryset.filter(condition), False
        return super().get_search_results(request, queryset, search_term)


class RevealIdentityMixin:
    """A "查看完整信息" page on a household's or member's change page, for roles with the
    identity permission: staff give a reason, the reveal is recorded
    (``personal_data_reveal``), and only then are the full numbers shown. Every other page masks.
    """

    reveal_template = "admin/villages/reveal_identity.html"

    def reveal_subjects(self, obj) -> tuple:
        """(household, members) whose numbers the page shows."""
        raise NotImplementedError

    def get_urls(self):
        from django.urls import path

        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="{}_{}_reveal".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_reveal": may_reveal_identity(request.user)}
        return super().change_view(request, object_id, form_url, extra_context)

    def reveal_view(self, request, object_id):
        from django.contrib.admin.utils import unquote
        from django.core.exceptions import PermissionDenied
        from django.http import Http404
        from django.template.response import TemplateResponse

        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not may_reveal_identity(request.user):
            raise PermissionDenied
        household, members = self.reveal_subjects(obj)
        reason = request.POST.get("reason", "").strip() if request.method == "POST" else ""
        error = ""
        shown = None
        if request.method == "POST":
            try:
                personal_data_reveal(
                    user=request.user,
                    household=household,
                    members=members,
                    fields="身份证号、手机号",
                    reason=reason,
                    channel=PersonalDataAccess.Channel.ADMIN,
                    path=request.path,
                )
            except ValidationError as exc:
                error = "；".join(exc.message_dict.get("reason", exc.messages))
            else:
                shown = {"household": household, "members": members}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "object": obj,
            "title": f"查看完整信息：{obj}",
            "reason": reason,
            "error": error,
            "shown": shown,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.reveal_template, context)
