"""The business date.

Batches, due dates and overdue counts work on a bank's *business date* in ``BUSINESS_TZ``, never on
``date.today()`` (the server's zone) scattered through the code. Tests pin it with time_machine.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.utils import timezone


def business_tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.BUSINESS_TZ)


def business_now() -> datetime.datetime:
    return timezone.now().astimezone(business_tz())


def business_today() -> datetime.date:
    return business_now().date()


def local_text(value: datetime.datetime | None) -> str:
    """A moment as staff read it: Beijing time to the second, "—" when there is none."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"
