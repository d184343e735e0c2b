"""Writes of the ledger: post a balanced entry once per reference, reverse one.

Services of higher concerns (disbursement, repayment, the close of business) call these inside
their own transaction, with the loan row locked, so the entry and the loan's balances change
together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from common.money import FEN
from lending.ledger.models import Account, EntryKind, JournalEntry, JournalLine


class LedgerError(ValueError):
    """A posting that would break the books (unbalanced, sub-fen, empty); a programming error
    in the caller, never bad user input."""


def _lines(lines: Iterable[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """Non-zero lines with their amounts checked to the fen; zero lines dropped (an allocation
    that paid nothing of a component posts nothing to its account)."""
    checked = []
    for account, amount in lines:
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise LedgerError(f"科目{account}的金额必须是Decimal: {amount!r}")
        if amount != amount.quantize(FEN):
            raise LedgerError(f"科目{account}的金额 {amount} 未精确到分")
        if account not in Account.values:
            raise LedgerError(f"未知科目 {account}")
        if amount:
            checked.append((account, amount))
    if len(checked) < 2:
        raise LedgerError("一笔分录至少需要一借一贷")
    total = sum((amount for _, amount in checked), Decimal("0"))
    if total:
        raise LedgerError(f"借贷不平衡: 差额 {total}")
    return checked


def _same(entry: JournalEntry, lines: list[tuple[int, Decimal]]) -> bool:
    stored = sorted(entry.lines.values_list("account", "amount"))
    return stored == sorted(lines)


@transaction.atomic
def journal_post(
    *,
    bank_id: int,
    kind: int,
    value_date: date,
    reference: str,
    lines: Iterable[tuple[int, Decimal]],
    loan_id: int | None = None,
    actor=None,
    memo: str = "",
    reverses: JournalEntry | None = None,
    known_new: bool = False,
) -> tuple[JournalEntry, bool]:
    """Post one balanced entry (debit positive, credit negative); ``(entry, created)``.

    The reference makes it happen once: posting the same reference again returns the first
    entry with ``created`` false, and refuses one whose lines differ (a retried request with
    another body must not be taken for the first)."""
    checked = _lines(lines)
    existing = JournalEntry.objects.filter(bank_id=bank_id, reference=reference).first()
    if existing is not None:
        if not _same(existing, checked):
            raise ValidationError({"reference": f"业务参考号 {reference} 已用于另一笔不同的记账"})
        return existing, False
    entry = JournalEntry.objects.create(
        bank_id=bank_id,
        loan_id=loan_id,
        kind=kind,
        value_date=value_date,
        reference=reference,
        actor=actor,
        memo=memo[:200],
        reverses=reverses,
    )
    JournalLine.objects.bulk_create(
        JournalLine(entry=entry, account=account, amount=amount, loan_id=loan_id)
        for account, amount in checked
    )
    return entry, True


@transaction.atomic
def journal_reverse(
    *, entry: JournalEntry, value_date: date, actor=None, reason: str = ""
) -> JournalEntry:
    """The opposite entry of ``entry`` (冲正), once: the original stays as it was."""
    entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.kind == EntryKind.REVERSAL:
        raise ValidationError({"entry": "冲正分录不能再冲正"})
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise ValidationError({"entry": "该分录已冲正"})
    lines = [(account, -amount) for account, amount in entry.lines.values_list("account", "amount")]
    reversal, _ = journal_post(
        bank_id=entry.bank_id,
        kind=EntryKind.REVERSAL,
        value_date=value_date,
        reference=f"REV:{entry.reference}",
        lines=lines,
        loan_id=entry.loan_id,
        actor=actor,
        memo=reason or f"冲正{entry.get_kind_display()}",
        reverses=entry,
    )
    return reversal
