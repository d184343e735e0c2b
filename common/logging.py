"""Logs and error reports never carry a full ID number or phone.

``RedactPersonalData`` is a logging filter set on every handler (``settings.LOGGING``): it renders
the record's message with its arguments, and the traceback, then masks every ID number and mobile
in them (``common.masking.redact_text``). A database error quoting a row, a validation message
quoting what was typed, a task's arguments: whatever reaches a handler is masked there, so no call
site has to remember. ``PersonalDataExceptionReporterFilter`` does the same for Django's error
pages and mails, where local variables and request data are shown.
"""

from __future__ import annotations

import logging

from django.views.debug import SafeExceptionReporterFilter

from common.masking import redact_text


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
            # The handler formats exc_info again when it is there; the masked text stands in.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class PersonalDataExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        return {key: redact_text(str(value)) for key, value in parameters.items()}

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, redact_text(value) if isinstance(value, str) else _masked_repr(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


class _Masked(str):
    """A variable's repr, masked; the error page prints it as it is."""

    def __repr__(self) -> str:
        return str(self)


def _masked_repr(value) -> object:
    try:
        text = repr(value)
    except Exception:
        return value
    masked = redact_text(text)
    return value if masked == text else _Masked(masked)
