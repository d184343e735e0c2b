"""Back-dated repayments and reversals (冲正), by reverse-replay (Fineract's name for it).

A payment dated before today, or the reversal of a payment, changes what every later day
should have accrued and how every later payment should have been split. So the loan is rebuilt:

1. **reverse**: every payment since the disbursement is reversed by the opposite journal entry
   (the originals stay, marked 已冲正), and the net of its nightly accruals by one entry the
   other way; the loan is back to the day it was paid out (balances from the journal, the
   schedule from the calculator again, the class floor kept);
2. **replay**: day by day from the start, the payments that stand (the new back-dated one among
   them, the reversed one not) are posted again on their own value dates with the same split
   rules, and each day is closed with the same set-based statements as the close of business
   (``loans_close_day``), up to yesterday; then today's payments.

Money is never lost: a replayed payment that no longer fits what was owed (a payoff now too
large) holds the rest in suspense, and a reversed payment's money is held in suspense for the
branch to refund or apply. The line gets back exactly the principal the replay repaid.
The journal keeps everything: originals, reversals and replayed postings, each with its own
reference (the replay's tag ``/RP<version>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from common.clock import business_today
from lending.ledger.models import Account, EntryKind, JournalLine
from lending.ledger.services import journal_post, journal_reverse
from lending.lines.services import credit_line_redraw, credit_line_restore
from lending.loans.accrual import loans_close_day
from lending.loans.models import (
    Loan,
    LoanClass,
    LoanEvent,
    LoanStatus,
    LoanTransaction,
    TransactionKind,
)
from lending.loans.services._disbursement import LoanConflict, _instalments_create, _schedule
from lending.loans.services._repayments import (
    CASH_CHANNELS,
    _collect,
    _earlier,
    _lock_for_posting,
    _owed_instalments,
    _plan,
    _post,
)
from org.auth import require_permission
from risk.lists.services import staff_of

PAYMENTS = (TransactionKind.REPAYMENT, TransactionKind.PREPAYMENT, TransactionKind.PAYOFF)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Payment:
    value_date: date
    amount: Decimal
    kind: str
    channel: str
    reschedule: str
    reference: str
    core_id: str
    order: int  # the order they were received in, within a day


def _payments(loan: Loan) -> list[Payment]:
    rows = loan.transactions.filter(kind__in=PAYMENTS, reversed=False).order_by("id")
    return [
        Payment(
            t.value_date,
            t.amount,
            t.kind,
            t.channel,
            t.reschedule,
            t.reference.split("/RP")[0],
            t.core_id,
            t.pk,
        )
        for t in rows
    ]


def _reverse_all(loan: Loan, *, today: date, actor, tag: str, reason: str) -> Decimal:
    """Step 1; the principal the reversed payments had given back to the line."""
    given_back = ZERO
    for txn in loan.transactions.filter(kind__in=PAYMENTS, reversed=False).select_related(
        "journal_entry"
    ):
        journal_reverse(entry=txn.journal_entry, value_date=today, actor=actor, reason=reason)
        txn.reversed = True
        txn.save(update_fields=["reversed"])
        given_back += txn.principal
    accrued = (
        JournalLine.objects.filter(loan_id=loan.pk, entry__kind=EntryKind.ACCRUAL)
        .values("account")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    lines = [(row["account"], -row["total"]) for row in accrued if row["total"]]
    if lines:
        journal_post(
            bank_id=loan.bank_id,
            kind=EntryKind.ACCRUAL,
            value_date=today,
            reference=f"{loan.bank.code}-LN{loan.pk}-ACR{tag}",
            lines=lines,
            loan_id=loan.pk,
            actor=actor,
            memo=f"重算前冲回计提({reason})"[:200],
        )
    return given_back


def _reset(loan: Loan) -> None:
    """The loan as the day it was paid out; what it holds in suspense from the journal."""
    held = -(
        JournalLine.objects.filter(loan_id=loan.pk, account=Account.SUSPENSE).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    if loan.status == LoanStatus.CLOSED:
        loan.reopen()
    loan.principal_outstanding = loan.amount
    loan.interest_outstanding = loan.penalty_outstanding = ZERO
    loan.principal_due = loan.interest_due = ZERO
    loan.principal_overdue = loan.interest_overdue = ZERO
    loan.accrual_carry = Decimal("0")
    loan.suspense_balance = held
    loan.accrued_through = loan.start_date - timedelta(days=1)
    loan.days_past_due = 0
    loan.overdue_since = None
    loan.loan_class = loan.loan_class_floor or LoanClass.NORMAL
    loan.version += 1
    loan.instalments.all().delete()
    schedule = _schedule(loan, start=loan.start_date)
    _instalments_create(loan, schedule)
    loan.maturity_date = schedule[-1].due_date
    loan.save()


def _replay_payments(loan: Loan, payments: list[Payment], *, today: date, actor, tag: str):
    """Step 2; the replayed transactions by the payment they replay."""
    by_day: dict[date, list[Payment]] = {}
    for payment in sorted(payments, key=lambda p: (p.value_date, p.order)):
        by_day.setdefault(payment.value_date, []).append(payment)
    replayed: dict[str, LoanTransaction] = {}
    day = loan.start_date
    while day <= today:
        for payment in by_day.get(day, []):
            loan = _lock_for_posting(loan.pk)
            if loan.status != LoanStatus.ACTIVE:
                replayed[payment.reference] = _hold(loan, payment, day, actor, tag)
                continue
            owed = _owed_instalments(loan, day, lock=False)
            plan = _plan(
                loan, owed, amount=payment.amount, kind=payment.kind, today=day, collected=True
            )
            replayed[payment.reference] = _post(
                loan,
                plan,
                owed=owed,
                amount=payment.amount,
                kind=payment.kind,
                channel=payment.channel,
                today=day,
                reference=f"{payment.reference}{tag}",
                core_id=payment.core_id,
                actor=actor,
                reschedule=payment.reschedule or "reamortise",
                restore_line=False,
            )
        if day < today:
            loans_close_day(
                bank_id=loan.bank_id, day=day, first_id=loan.pk, last_id=loan.pk, tag=tag
            )
        day += timedelta(days=1)
    return replayed


def _hold(loan: Loan, payment: Payment, day: date, actor, tag: str) -> LoanTransaction:
    """Money of a payment with nothing left to pay (the loan was already paid off): held."""
    return _suspense(
        loan,
        payment.amount,
        payment.channel,
        day,
        f"{payment.reference}{tag}",
        actor,
        payment.kind,
        payment.core_id,
    )


def _suspense(loan, amount, channel, day, reference, actor, kind, core_id="") -> LoanTransaction:
    debit = Account.CASH if channel in CASH_CHANNELS else Account.CORE_CLEARING
    entry, _ = journal_post(
        bank_id=loan.bank_id,
        kind=EntryKind.SUSPENSE,
        value_date=day,
        reference=reference,
        lines=[(debit, amount), (Account.SUSPENSE, -amount)],
        loan_id=loan.pk,
        actor=staff_of(actor),
        memo="挂账待处理",
    )
    loan.suspense_balance += amount
    loan.version += 1
    loan.save(update_fields=["suspense_balance", "version", "updated_at"])
    return LoanTransaction.objects.create(
        loan=loan,
        kind=kind,
        value_date=day,
        amount=amount,
        to_suspense=amount,
        channel=channel,
        reference=reference,
        core_id=core_id,
        journal_entry=entry,
        actor=staff_of(actor),
    )


def loan_rebuild(
    *, loan: Loan, actor, reason: str, add: Payment | None = None, drop: str | None = None
) -> dict[str, LoanTransaction]:
    """Reverse and replay the loan (locked by the caller, in the caller's transaction): its
    standing payments, plus ``add``, less the one whose reference is ``drop``."""
    today = business_today()
    if loan.status not in (LoanStatus.ACTIVE, LoanStatus.CLOSED):
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，不能重算"})
    payments = [p for p in _payments(loan) if p.reference != drop]
    if add is not None:
        payments.append(add)
    tag = f"/RP{loan.version}"
    repaid_before = loan.amount - loan.principal_outstanding
    _reverse_all(loan, today=today, actor=staff_of(actor), tag=tag, reason=reason)
    _reset(loan)
    replayed = _replay_payments(loan, payments, today=today, actor=actor, tag=tag)
    loan = Loan.objects.get(pk=loan.pk)
    repaid_after = loan.amount - loan.principal_outstanding
    if repaid_after > repaid_before:
        credit_line_restore(line=loan.line, amount=repaid_after - repaid_before)
    elif repaid_after < repaid_before:
        credit_line_redraw(line=loan.line, amount=repaid_before - repaid_after)
    LoanEvent.objects.create(
        loan=loan,
        from_status=loan.status,
        to_status=loan.status,
        actor=staff_of(actor),
        comment=f"冲正重算：{reason}；重放 {len(payments)} 笔还款"[:300],
    )
    return replayed


@transaction.atomic
def loan_transaction_reverse(*, txn: LoanTransaction, actor, reason: str) -> LoanTransaction:
    """冲正 a repayment: the loan is replayed without it and its money held in suspense (to be
    refunded or applied by the branch); the original stays, marked 已冲正."""
    require_permission(actor, "lending.reverse_repayment", "冲正还款")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "请填写冲正原因"})
    if txn.kind not in PAYMENTS:
        raise ValidationError({"transaction": f"{txn.get_kind_display()}不能在此冲正"})
    loan = _lock_for_posting(txn.loan_id)
    txn = LoanTransaction.objects.get(pk=txn.pk)
    if txn.reversed:
        raise LoanConflict({"transaction": "该笔交易已冲正"})
    reference = txn.reference.split("/RP")[0]
    loan_rebuild(
        loan=loan,
        actor=actor,
        reason=f"冲正 {txn.value_date} 还款 {txn.amount} 元，{reason}",
        drop=reference,
    )
    loan = Loan.objects.select_related("bank").get(pk=loan.pk)
    return _suspense(
        loan,
        txn.amount,
        txn.channel,
        business_today(),
        f"{reference}/HOLD",
        actor,
        TransactionKind.HELD,
        txn.core_id,
    )


def loan_repay_back_dated(
    *,
    loan: Loan,
    amount: Decimal,
    reference: str,
    actor,
    kind: str,
    channel: str,
    reschedule: str | None,
    value_date: date,
) -> tuple[LoanTransaction, bool]:
    """补记往日还款 (called by ``loan_repay`` for a value date before today, checked already):
    the money is taken once, then the loan is reversed and replayed with the payment on its
    own date; what no longer fits is held in suspense."""
    loan = Loan.objects.select_related("bank").get(pk=loan.pk)
    if loan.status not in (LoanStatus.ACTIVE, LoanStatus.CLOSED):
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，不能还款"})
    if kind == TransactionKind.PREPAYMENT and not reschedule:
        raise ValidationError({"reschedule": "请选择提前还款后的还款计划：期限不变或期限缩短"})
    core_id = _collect(loan, amount=amount, reference=reference, channel=channel)
    with transaction.atomic():
        locked = _lock_for_posting(loan.pk)
        earlier = _earlier(locked, reference, amount, kind)
        if earlier is not None:
            return earlier, False
        received = locked.transactions.filter(kind__in=PAYMENTS).order_by("-id").first()
        payment = Payment(
            value_date,
            amount,
            kind,
            channel,
            reschedule or "",
            reference,
            core_id,
            # After every payment already received on that day.
            (received.pk + 1) if received else 0,
        )
        replayed = loan_rebuild(
            loan=locked, actor=actor, reason=f"补记 {value_date} 还款 {amount} 元", add=payment
        )
    return replayed[reference], True
