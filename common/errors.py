"""Errors as staff read them: one line for a message bar, a log or a job's failure reason."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError


def describe_error(exc: ValidationError, *, model=None) -> str:
    """``ValidationError`` as one line: ``字段：原因；…``, for a message bar, a log or a job.

    Without ``model`` each message is prefixed with its error key (a command's option, a CSV
    column). With ``model`` — the admin, whose staff read Chinese — a key that is a field of it is
    shown as the field's verbose name, and any other key (a service parameter such as ``reason``)
    is left out: those messages are written to stand alone."""
    if not hasattr(exc, "error_dict"):
        return "；".join(exc.messages)
    parts = []
    for field, messages in exc.message_dict.items():
        text = "；".join(messages)
        label = None if field == NON_FIELD_ERRORS else _label(model, field)
        parts.append(f"{label}：{text}" if label else text)
    return "；".join(parts)


def _label(model, field: str) -> str | None:
    if model is None:
        return field
    try:
        return str(model._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        return None
