"""Admin building blocks every app's ModelAdmin uses: tenancy, the audit history page, and
actions that run a service on each selected row."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format

from common import pii
from common.errors import describe_error
from common.fields import EncryptedTextField, KeyedHashField
from common.masking import mask_id_number, mask_phone, redact_text
from org.tenancy import scope_for, scope_queryset


def run_per_row(
    modeladmin, request, rows: Iterable, action: Callable[[object], object], success: str
) -> None:
    """An admin action: call the service ``action`` on each selected row in turn. A row the
    service refuses is reported with its reason and does not stop the others."""
    done = 0
    for obj in rows:
        try:
            action(obj)
            done += 1
        except ValidationError as exc:
            reason = describe_error(exc, model=modeladmin.model)
            modeladmin.message_user(request, f"{obj}：{reason}", messages.ERROR)
        except PermissionDenied as exc:
            modeladmin.message_user(request, f"{obj}：{exc}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{success} {done} 项", messages.SUCCESS)


def add_service_errors(form, exc: ValidationError) -> None:
    """A service's refusal shown on the admin form: each message by the field it names when the
    form has that field, otherwise at the top of the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class TenantRelatedFieldListFilter(RelatedFieldListFilter):
    """A sidebar filter on a foreign key that offers only the related rows the user may see
    (Django's own lists every row of the related table: every bank's villages and staff)."""

    def field_choices(self, field, request, model_admin):
        related = field.remote_field.model
        visible = scope_queryset(related._default_manager.all(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to=models.Q(pk__in=visible.values("pk")),
        )


def _tenant_list_filter(model, entry):
    """``entry`` of a ``list_filter``, with a foreign key to a bank-owned model (directly or at
    the end of a ``__`` path) turned into a :class:`TenantRelatedFieldListFilter`."""
    if isinstance(entry, str):
        name, filter_class = entry, None
    elif isinstance(entry, tuple | list) and len(entry) == 2 and isinstance(entry[0], str):
        name, filter_class = entry
    else:
        return entry
    if filter_class not in (None, RelatedFieldListFilter):
        return entry
    try:
        field = get_fields_from_path(model, name)[-1]
    except (FieldDoesNotExist, LookupError):
        return entry
    related = getattr(field, "remote_field", None) and field.remote_field.model
    if not related or not getattr(related, "tenant_bank_field", None):
        return entry
    return (name, TenantRelatedFieldListFilter)


class TenantAdminMixin:
    """Scope the changelist, the change form and foreign-key choices to the user's bank.

    A foreign bank's object id answers 404 (Django's default would redirect with a message
    saying the object does not exist, which still reveals that the id was tried). Federation
    staff get a read-only view of bank data.
    """

    tenant_bank_field: str | None = None
    tenant_village_field: str | None = None

    def get_queryset(self, request):
        return scope_queryset(
            super().get_queryset(request),
            request.user,
            bank_field=self.tenant_bank_field,
            village_field=self.tenant_village_field,
        )

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"{opts.verbose_name} {object_id} 不存在")

    def get_list_filter(self, request):
        # Sidebar filters on foreign keys offer only the user's own rows, for every admin.
        return [
            _tenant_list_filter(self.model, entry) for entry in super().get_list_filter(request)
        ]

    def _read_only(self, request) -> bool:
        return scope_for(request.user).read_only and not request.user.is_superuser

    def has_add_permission(self, request, *args):
        return not self._read_only(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return not self._read_only(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._read_only(request) and super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if getattr(related, "tenant_bank_field", None):
            kwargs.setdefault(
                "queryset", scope_queryset(related._default_manager.all(), request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if getattr(related, "tenant_bank_field", None):
            kwargs.setdefault(
                "queryset", scope_queryset(related._default_manager.all(), request.user)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def masked_column(description: str, source: str, mask):
    """An admin column or read-only field showing ``source`` (an attribute path such as
    ``head__id_number``) through ``mask`` (``common.masking``), as every page shows it."""

    @admin.display(description=description)
    def column(modeladmin, obj) -> str:
        value = obj
        for part in source.split("__"):
            value = getattr(value, part, None) if value is not None else None
        return mask(value) or "—"

    return column


class AuditHistoryMixin:
    """Replace the admin "历史" page with the trigger-written audit trail of the object.

    Rows come from pghistory's event tables (one per audited model), so bulk updates made by
    batches show up too, each with the acting user and the request path or task that did it.
    """

    audit_history_template = "admin/audit/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        from django.contrib.auth import get_user_model
        from pghistory.models import Events

        model = self.model
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"{model._meta.verbose_name} {object_id} 不存在")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied

        events = list(Events.objects.tracks(obj).order_by("-pgh_created_at")[:500])
        related_names = _related_names(model, events)
        user_ids = {(event.pgh_context or {}).get("user") for event in events}
        users = get_user_model().objects.in_bulk([uid for uid in user_ids if uid])
        rows = []
        for event in events:
            metadata = event.pgh_context or {}
            actor = users.get(metadata.get("user"))
            rows.append(
                {
                    "when": event.pgh_created_at,
                    "label": {"insert": "新增", "update": "修改", "delete": "删除"}.get(
                        event.pgh_label, event.pgh_label
                    ),
                    "actor": (actor.first_name or actor.username)
                    if actor
                    else metadata.get("command", "系统"),
                    "where": metadata.get("url")
                    or metadata.get("task")
                    or metadata.get("command")
                    or "",
                    "changes": _describe_diff(model, event.pgh_diff, event.pgh_data, related_names),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"变更历史：{obj}",
            "subtitle": None,
            "object": obj,
            "opts": model._meta,
            "rows": rows,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.audit_history_template, context)


def _related_names(model, events) -> dict[str, dict[str, str]]:
    """For each foreign key of ``model``: the ids the events mention → the related row's name,
    one query per foreign key (not per event), so the page reads "尧都支行" rather than "7".
    Rows that no longer exist keep their id."""
    keys = {f.attname: f for f in model._meta.concrete_fields if f.is_relation}
    keys.update({f.name: f for f in keys.values()})
    wanted: dict[str, set[str]] = {}
    for event in events:
        values = []
        for name, change in (event.pgh_diff or {}).items():
            values.extend((name, value) for value in change)
        values.extend((event.pgh_data or {}).items())
        for name, value in values:
            field = keys.get(name)
            if field is not None and value not in (None, ""):
                wanted.setdefault(field.attname, set()).add(str(value))
    names: dict[str, dict[str, str]] = {}
    for attname, ids in wanted.items():
        field = keys[attname]
        related = field.remote_field.model
        rows = related._default_manager.filter(pk__in=list(ids))
        names[attname] = {str(row.pk): _name_of(row) for row in rows}
    return names


def _name_of(row) -> str:
    first_name = getattr(row, "first_name", None)
    if first_name is not None:  # a login: its person's name, as the 操作人 column shows it
        return first_name or row.get_username()
    return str(row)


def _describe_diff(
    model, diff: dict | None, data: dict | None, related_names: dict | None = None
) -> list[tuple[str, str, str]]:
    """``[(field label, before, after)]``; for inserts (no diff) the values written. Keyed
    hashes are left out; encrypted values are decrypted and masked like every other page;
    foreign keys are shown by the related row's name."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    fields.update({f.column: f for f in model._meta.concrete_fields})
    fields.update({f.name: f for f in model._meta.concrete_fields})
    related_names = related_names or {}

    def show(name: str, value) -> str:
        field = fields.get(name)
        if field is not None and field.is_relation and value not in (None, ""):
            name_of = related_names.get(field.attname, {}).get(str(value))
            if name_of is not None:
                return redact_text(name_of)
        return _show(field, value)

    def label(name: str) -> str:
        field = fields.get(name)
        return str(field.verbose_name) if field is not None else name

    def shown(name: str) -> bool:
        return not isinstance(fields.get(name), KeyedHashField)

    if diff:
        return [
            (label(name), show(name, old), show(name, new))
            for name, (old, new) in diff.items()
            if shown(name)
        ]
    return [
        (label(name), "", show(name, value)) for name, value in (data or {}).items() if shown(name)
    ]


def _show(field, value) -> str:
    """A stored value as staff read it: choices by their label, times in Beijing time, personal
    data masked."""
    if value is None or value == "":
        return "—"
    if isinstance(field, EncryptedTextField):
        text = value
        if isinstance(value, str) and value.startswith("\\x"):
            text = pii.decrypt(bytes.fromhex(value[2:]), field.purpose)
        return _MASK_BY_PURPOSE[field.purpose](text) or "—"
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return "是" if value else "否"
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            return date_format(timezone.localtime(moment), "Y-m-d H:i:s")
    return redact_text(str(value))


_MASK_BY_PURPOSE = {pii.ID_NUMBER: mask_id_number, pii.PHONE: mask_phone}
