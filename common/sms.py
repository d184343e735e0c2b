"""Text messages (SMS) behind one interface, so a real operator's gateway can replace the sandbox.

``sms_send(phone=…, text=…)`` is what services call. It sends after the current transaction
commits (a code for a login that rolled back is never sent) through the gateway named by the
``SMS_GATEWAY`` setting, a dotted path to an ``SmsGateway`` subclass. The default,
``SandboxSmsGateway``, sends nothing: it keeps each message in ``SandboxSmsMessage`` (admin:
短信发送记录(沙箱)) so tests and demos read what a phone would have received.
"""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from common.masking import mask_phone

logger = logging.getLogger(__name__)

DEFAULT_GATEWAY = "common.sms.SandboxSmsGateway"


class SmsGateway:
    """Deliver one text message to one mainland mobile number (11 digits)."""

    def send(self, *, phone: str, text: str, purpose: str = "") -> None:
        raise NotImplementedError


class SandboxSmsGateway(SmsGateway):
    """A gateway for development, tests and demos: stores the message, sends nothing."""

    def send(self, *, phone: str, text: str, purpose: str = "") -> None:
        from common.models import SandboxSmsMessage

        SandboxSmsMessage.objects.create(phone=phone, text=text, purpose=purpose)
        logger.info("sandbox SMS to %s (%s)", mask_phone(phone), purpose)


@cache
def _gateway_class(path: str) -> type[SmsGateway]:
    return import_string(path)


def sms_gateway() -> SmsGateway:
    return _gateway_class(getattr(settings, "SMS_GATEWAY", DEFAULT_GATEWAY))()


def sms_send(*, phone: str, text: str, purpose: str = "") -> None:
    """Send ``text`` to ``phone`` once the current transaction has committed."""
    transaction.on_commit(lambda: sms_gateway().send(phone=phone, text=text, purpose=purpose))
