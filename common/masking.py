"""Masking of personal data in lists, pages, API output, history, reports and logs.

One rule, chosen so that no page can give back what another hides:

- an ID number keeps only its first four digits (province and city): ``1410**************``.
  The tail is hidden too. With the birth date (shown beside members), the village's division code
  and a visible tail, ``1410**********207X`` could be rebuilt in a handful of guesses, the check
  digit confirming the right one; without the tail the three sequence digits and the check digit
  are unknown, five hundred candidates that nothing on any page tells apart;
- a mobile keeps its first three and last four digits (``139****5678``): nothing else on a page
  fills the middle.

``redact_text`` applies the same masks to free text (log lines, error reports, history values).
Full values are shown only to roles with the identity permission, and only through a recorded
reveal (``villages.services.personal_data_reveal``).
"""

from __future__ import annotations

import re

ID_NUMBER_VISIBLE = 4

# An 18-character ID (17 digits, then a digit or X) or an 11-digit mobile standing alone.
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])([0-9]{17}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?(1[3-9][0-9]{9})(?![0-9])")


def mask_middle(value: str | None, keep_start: int, keep_end: int) -> str:
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    tail = value[-keep_end:] if keep_end else ""
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + tail


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``."""
    return mask_middle(phone, 3, 4)


def mask_id_number(id_number: str | None) -> str:
    """``110101199003071234`` → ``1101**************``."""
    return mask_middle(id_number, ID_NUMBER_VISIBLE, 0)


def mask_account(account: str | None) -> str:
    """A deposit account or card number as statements print it: ``6229****8138``."""
    if not account:
        return ""
    return f"{account[:4]}****{account[-4:]}" if len(account) > 8 else "*" * len(account)


def redact_text(text: str) -> str:
    """``text`` with every ID number and mobile in it masked."""
    if not text:
        return text
    text = _ID_NUMBER_IN_TEXT.sub(lambda match: mask_id_number(match.group(1)), text)
    return _MOBILE_IN_TEXT.sub(lambda match: mask_phone(match.group(1)), text)
