"""The journal: balanced entries once per reference, reversals, and a database that refuses an
unbalanced, changed or deleted line whatever code writes it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from lending.ledger.models import Account, EntryKind, JournalEntry, JournalLine
from lending.ledger.selectors import loan_balances, trial_balance
from lending.ledger.services import LedgerError, journal_post, journal_reverse

DAY = datetime.date(2026, 12, 1)
D = Decimal


def _post(bank, reference="R1", amount=None, loan_id=7):
    amount = D("100.00") if amount is None else amount
    return journal_post(
        bank_id=bank.pk,
        kind=EntryKind.DISBURSEMENT,
        value_date=DAY,
        reference=reference,
        lines=[(Account.LOAN_PRINCIPAL, amount), (Account.CORE_CLEARING, -amount)],
        loan_id=loan_id,
    )


def test_an_entry_posts_once_per_reference(province):
    bank = province["bank1"]
    entry, created = _post(bank)
    again, created_again = _post(bank)
    assert created
    assert not created_again
    assert again.pk == entry.pk
    assert JournalLine.objects.filter(entry=entry).count() == 2
    with pytest.raises(ValidationError) as refused:
        _post(bank, amount=D("200.00"))
    assert "reference" in refused.value.message_dict
    assert loan_balances(7) == {
        Account.LOAN_PRINCIPAL: D("100.00"),
        Account.CORE_CLEARING: D("-100.00"),
    }


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        ([(Account.LOAN_PRINCIPAL, D("100.00")), (Account.CORE_CLEARING, D("-99.99"))], "不平衡"),
        ([(Account.LOAN_PRINCIPAL, D("100.005")), (Account.CORE_CLEARING, D("-100.005"))], "分"),
        ([(Account.LOAN_PRINCIPAL, D("0.00")), (Account.CORE_CLEARING, D("0.00"))], "一借一贷"),
        ([(Account.LOAN_PRINCIPAL, 100.0), (Account.CORE_CLEARING, -100.0)], "Decimal"),
        ([(4242, D("1.00")), (Account.CORE_CLEARING, D("-1.00"))], "科目"),
    ],
)
def test_a_broken_posting_is_refused_and_writes_nothing(province, lines, why):
    with pytest.raises(LedgerError, match=why):
        journal_post(
            bank_id=province["bank1"].pk,
            kind=EntryKind.REPAYMENT,
            value_date=DAY,
            reference="BAD",
            lines=lines,
        )
    assert not JournalEntry.objects.exists()


def test_the_database_refuses_unbalanced_changed_or_deleted_lines(province):
    entry, _ = _post(province["bank1"])
    with (
        pytest.raises(DatabaseError, match="not balanced"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO lending_journalline (entry_id, account, amount) VALUES (%s, %s, %s)",
            [entry.pk, Account.SUSPENSE, D("5.00")],
        )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).update(amount=D("1.00"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(memo="改")
    # A whole balanced entry in one statement (as the close of business writes) is accepted.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO lending_journalline (entry_id, account, amount) VALUES (%s, %s, %s), (%s, %s, %s)",
            [entry.pk, Account.SUSPENSE, D("5.00"), entry.pk, Account.CASH, D("-5.00")],
        )


def test_a_reversal_is_the_opposite_entry_once(province):
    bank = province["bank1"]
    entry, _ = _post(bank)
    reversal = journal_reverse(entry=entry, value_date=DAY, reason="金额录错")
    assert reversal.reverses_id == entry.pk
    assert reversal.kind == EntryKind.REVERSAL
    assert loan_balances(7) == {}
    assert JournalLine.objects.filter(entry=entry).count() == 2  # the original stays readable
    with pytest.raises(ValidationError, match="已冲正"):
        journal_reverse(entry=entry, value_date=DAY)
    with pytest.raises(ValidationError, match="不能再冲正"):
        journal_reverse(entry=reversal, value_date=DAY)
    assert sum(trial_balance(bank.pk).values()) == 0
