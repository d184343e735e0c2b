"""Amounts of money as the services take them: a positive Decimal to the fen, or a
``ValidationError`` naming the field (never rounded silently: 1.005 元 is refused)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError

FEN = Decimal("0.01")


def positive_amount(value, *, field: str, label: str = "金额") -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ValidationError({field: f"{label}格式不正确"}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: f"{label}必须大于0"})
    if amount != amount.quantize(FEN):
        raise ValidationError({field: f"{label}最多精确到分"})
    return amount
