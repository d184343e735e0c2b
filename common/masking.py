"""Masking of personal data in lists, API output and logs."""

from __future__ import annotations


def mask_middle(value: str | None, keep_start: int, keep_end: int) -> str:
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``."""
    return mask_middle(phone, 3, 4)


def mask_id_number(id_number: str | None) -> str:
    """``110101199003071234`` → ``1101**********1234``."""
    return mask_middle(id_number, 4, 4)
