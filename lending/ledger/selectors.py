"""Reads of the ledger: a loan's balances by account, the trial balance, broken entries."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Sum

from lending.ledger.models import Account, JournalLine


def loan_balances(loan_id: int) -> dict[int, Decimal]:
    """Each account's balance (debit positive) over the loan's lines."""
    rows = (
        JournalLine.objects.filter(loan_id=loan_id)
        .values("account")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {row["account"]: row["total"] for row in rows if row["total"]}


def loans_balances(loan_ids: Iterable[int]) -> dict[int, dict[int, Decimal]]:
    """``loan_balances`` for many loans in one query."""
    out: dict[int, dict[int, Decimal]] = {}
    rows = (
        JournalLine.objects.filter(loan_id__in=list(loan_ids))
        .values("loan_id", "account")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        if row["total"]:
            out.setdefault(row["loan_id"], {})[row["account"]] = row["total"]
    return out


def trial_balance(bank_id: int) -> dict[int, Decimal]:
    """试算平衡: each account's balance over the bank's whole journal; sums to zero."""
    rows = (
        JournalLine.objects.filter(entry__bank_id=bank_id)
        .values("account")
        .annotate(total=Sum("amount"))
        .order_by("account")
    )
    return {row["account"]: row["total"] for row in rows}


def account_label(code: int) -> str:
    return Account(code).label
