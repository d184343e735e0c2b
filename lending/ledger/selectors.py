"""Reads of the ledger: a loan's balances by account and a bank's trial balance."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from lending.ledger.models import JournalLine


def loan_balances(loan_id: int) -> dict[int, Decimal]:
    """Each account's balance (debit positive) over the loan's lines."""
    rows = (
        JournalLine.objects.filter(loan_id=loan_id)
        .values("account")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {row["account"]: row["total"] for row in rows if row["total"]}


def trial_balance(bank_id: int) -> dict[int, Decimal]:
    """试算平衡: each account's balance over the bank's whole journal; sums to zero."""
    rows = (
        JournalLine.objects.filter(entry__bank_id=bank_id)
        .values("account")
        .annotate(total=Sum("amount"))
        .order_by("account")
    )
    return {row["account"]: row["total"] for row in rows}
