"""Repayments (还款): what is due, what pays it off, and posting a payment exactly once.

Three kinds, all idempotent by the caller's key (the API's ``Idempotency-Key``, a counter
slip number, the auto-debit's loan and due date):
- 还款 (``repayment``): pays what is due today, split by the loan's allocation order; more than is
  due is refused (or held in suspense where the product says so);
- 提前还款 (``prepayment``): pays everything due and all interest to the day, the rest goes to
  principal not yet due and the remaining schedule is rebuilt, either keeping the maturity
  (``reamortise``, smaller instalments) or keeping the instalment (``shorten``, fewer of them);
- 提前结清 (``payoff``): exactly the payoff amount (principal, interest to the day, penalty).

Money from the borrower's deposit account is collected through the core after a first
transaction has checked the request and before the posting transaction, never under a lock;
the core's reference is the posting's, so a retry collects once. Cash at the counter needs no
core call. Before posting, a loan the close of business has not reached yet is brought up to
date inline (``loan_catch_up``); a loan whose chunk the close of business is working on right
now answers ``LoanBusy`` (409 with a retry hint) instead of waiting behind the chunk.

Value date: a repayment is posted on today's business date. A back-dated repayment needs the
later accruals replayed (reverse-replay) and is refused with that reason until it is built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Q

from common.clock import business_today
from common.money import positive_amount
from lending.corebank.gateway import CoreRefused, core_gateway
from lending.ledger.models import Account, EntryKind
from lending.ledger.services import journal_post
from lending.lines.services import credit_line_restore
from lending.loans.accrual import loan_catch_up
from lending.loans.allocation import Allocation, OwedInstalment, allocate
from lending.loans.models import (
    BatchLock,
    Instalment,
    Loan,
    LoanEvent,
    LoanStatus,
    LoanTransaction,
    TransactionChannel,
    TransactionKind,
)
from lending.loans.services._disbursement import HUNDRED, LoanConflict
from org.auth import require_permission
from products.schedule import (
    RepaymentMethod,
    ScheduleError,
    build_schedule,
    interest_for_days,
)
from risk.lists.services import staff_of

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")
AMORTISING = (RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL)
RESCHEDULES = {"reamortise": "期限不变、月供减少", "shorten": "月供不变、期限缩短"}
# Cash at the counter is counted by the teller; everything else leaves the borrower's account.
CASH_CHANNELS = (TransactionChannel.COUNTER,)


class LoanBusy(LoanConflict):
    """The close of business holds this loan right now (409, retry shortly)."""

    retry_after = 5


# --- locking and bringing a loan up to date -------------------------------------------------


def _lock_for_posting(loan_id: int) -> Loan:
    """The loan row, locked for a posting. A lock held by another posting is waited for; one
    held by the close of business (a ``BatchLock`` over the loan) is a ``LoanBusy``."""
    try:
        with transaction.atomic():
            return (
                Loan.objects.select_for_update(of=("self",), nowait=True)
                .select_related("bank")
                .get(pk=loan_id)
            )
    except OperationalError:
        if BatchLock.objects.filter(first_loan_id__lte=loan_id, last_loan_id__gte=loan_id).exists():
            raise LoanBusy(
                {"loan": "日终批处理正在处理该贷款，请约5秒后重试"}, code="busy"
            ) from None
    return Loan.objects.select_for_update(of=("self",)).select_related("bank").get(pk=loan_id)


def _up_to_date(loan: Loan, today: date) -> Loan:
    """The loan closed through yesterday (inline close of business), reloaded if it moved."""
    if loan.accrued_through is not None and loan.accrued_through < today - timedelta(days=1):
        loan_catch_up(loan=loan, through=today - timedelta(days=1))
        loan.refresh_from_db()
    return loan


# --- what is owed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """Amounts owed on ``on``: ``due`` today (penalty, settled interest, principal fallen due)
    and ``payoff`` (everything, with interest to the day)."""

    on: date
    penalty: Decimal
    interest_due: Decimal
    principal_due: Decimal
    interest_accrued: Decimal
    principal_outstanding: Decimal

    @property
    def due(self) -> Decimal:
        return self.penalty + self.interest_due + self.principal_due

    @property
    def payoff(self) -> Decimal:
        return self.penalty + self.interest_accrued + self.principal_outstanding

    def as_dict(self) -> dict:
        return {
            "on": self.on,
            "penalty": self.penalty,
            "interest_due": self.interest_due,
            "principal_due": self.principal_due,
            "due": self.due,
            "interest_to_date": self.interest_accrued,
            "principal_outstanding": self.principal_outstanding,
            "payoff": self.payoff,
        }


def _quote(loan: Loan, today: date) -> Quote:
    return Quote(
        on=today,
        penalty=loan.penalty_outstanding,
        interest_due=loan.interest_due,
        principal_due=loan.principal_due,
        interest_accrued=loan.interest_outstanding,
        principal_outstanding=loan.principal_outstanding,
    )


class _QuoteOnly(Exception):
    def __init__(self, quote: Quote) -> None:
        self.quote = quote


def loan_quote(*, loan: Loan, on: date | None = None) -> Quote:
    """What the loan owes today, as if the close of business had reached it, without writing:
    the inline catch-up runs in a transaction that is rolled back."""
    today = on or business_today()
    if loan.status != LoanStatus.ACTIVE:
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，没有应还金额"})
    try:
        with transaction.atomic():
            locked = _up_to_date(_lock_for_posting(loan.pk), today)
            raise _QuoteOnly(_quote(locked, today))
    except _QuoteOnly as answer:
        return answer.quote


def _owed_instalments(loan: Loan, today: date, *, lock: bool = True) -> list[Instalment]:
    rows = loan.instalments.filter(interest_settled=True, due_date__lte=today)
    rows = rows.filter(
        Q(principal_paid__lt=F("principal_due")) | Q(interest_paid__lt=F("interest_due"))
    )
    return list((rows.select_for_update() if lock else rows).order_by("number"))


# --- the plan of a payment ----------------------------------------------------------------


@dataclass
class Plan:
    allocation: Allocation
    interest_not_due: Decimal = ZERO  # accrued interest paid ahead of settlement
    principal_not_due: Decimal = ZERO  # principal paid ahead of the schedule
    to_suspense: Decimal = ZERO

    @property
    def penalty(self) -> Decimal:
        return self.allocation.penalty

    @property
    def interest(self) -> Decimal:
        return self.allocation.interest_total + self.interest_not_due

    @property
    def principal(self) -> Decimal:
        return self.allocation.principal_total + self.principal_not_due


def _check(loan: Loan, *, amount: Decimal, kind: str, today: date, collected: bool) -> None:
    """A ``ValidationError`` naming the field when ``amount`` cannot pay the loan this way, from
    the loan's own figures (what is due is the sum of what its instalments owe). ``collected``
    means the money has already left the borrower's account: what cannot be applied any more
    (another payment got there first) is held in suspense rather than refused, never lost."""
    if collected:
        return
    quote = _quote(loan, today)
    may_hold = loan.overpayment_to_suspense
    if kind == TransactionKind.REPAYMENT:
        if amount > quote.due and not may_hold:
            if quote.due == 0:
                raise ValidationError(
                    {"amount": "当前没有到期应还金额；提前还款请选择「提前还款」"}
                )
            raise ValidationError(
                {"amount": f"还款金额超过当前应还 {quote.due} 元；多还部分请选择「提前还款」"}
            )
        return
    # Prepayment and payoff first clear everything due, then interest to the day, then principal.
    interest_not_due = quote.interest_accrued - quote.interest_due
    if amount < quote.due + interest_not_due:
        raise ValidationError(
            {
                "amount": f"提前还款须先还清到期应还 {quote.due} 元及截至今日利息 "
                f"{interest_not_due} 元"
            }
        )
    if kind == TransactionKind.PAYOFF and amount < quote.payoff:
        raise ValidationError({"amount": f"提前结清金额应为 {quote.payoff} 元"})
    if amount > quote.payoff and not may_hold:
        raise ValidationError({"amount": f"还款金额超过结清金额 {quote.payoff} 元"})
    if kind == TransactionKind.PREPAYMENT and amount == quote.due + interest_not_due:
        raise ValidationError({"amount": "提前还款金额须大于到期应还与截至今日利息之和"})


def _plan(loan: Loan, instalments, *, amount: Decimal, kind: str, today: date, collected: bool):
    """How ``amount`` pays the loan (after ``_check``): what is due in the loan's allocation
    order, then, for a prepayment or payoff, the interest to the day and principal not yet due;
    whatever is left is held in suspense."""
    _check(loan, amount=amount, kind=kind, today=today, collected=collected)
    owed = [
        OwedInstalment(
            number=i.number,
            interest=i.interest_due - i.interest_paid,
            principal=i.principal_due - i.principal_paid,
        )
        for i in instalments
    ]
    allocation = allocate(
        amount=amount,
        order=loan.allocation_order,
        penalty=loan.penalty_outstanding,
        instalments=owed,
    )
    plan = Plan(allocation=allocation)
    left = allocation.left
    if kind != TransactionKind.REPAYMENT:
        plan.interest_not_due = min(left, loan.interest_outstanding - loan.interest_due)
        left -= plan.interest_not_due
        plan.principal_not_due = min(left, loan.principal_outstanding - loan.principal_due)
        left -= plan.principal_not_due
    plan.to_suspense = left
    return plan


# --- posting -----------------------------------------------------------------------------


def _reference(loan: Loan, key: str) -> str:
    return f"{loan.bank.code}-LN{loan.pk}-R-{key}"[:120]


def _validate_request(loan: Loan, *, amount, kind: str, channel: str, value_date, reschedule):
    if kind not in (TransactionKind.REPAYMENT, TransactionKind.PREPAYMENT, TransactionKind.PAYOFF):
        raise ValidationError({"kind": f"未知还款类型 {kind}"})
    if channel not in TransactionChannel.values or channel == TransactionChannel.BATCH:
        raise ValidationError({"channel": f"未知渠道 {channel}"})
    if kind == TransactionKind.PREPAYMENT and reschedule not in RESCHEDULES:
        raise ValidationError({"reschedule": "请选择提前还款后的还款计划：期限不变或期限缩短"})
    amount = positive_amount(amount, field="amount", label="还款金额")
    today = business_today()
    value_date = value_date or today
    if loan.start_date is not None and value_date < loan.start_date:
        raise ValidationError({"value_date": f"还款日不能早于放款日 {loan.start_date}"})
    if value_date > today:
        raise ValidationError({"value_date": f"还款日不能晚于今日 {today}"})
    return amount, today, value_date


def loan_repay(
    *,
    loan: Loan,
    amount,
    key: str,
    actor,
    kind: str = TransactionKind.REPAYMENT,
    channel: str = TransactionChannel.COUNTER,
    reschedule: str | None = None,
    value_date: date | None = None,
) -> tuple[LoanTransaction, bool]:
    """Post one payment on the loan; ``(transaction, created)``. The same ``key`` again returns
    the first transaction, and is refused with another amount or kind."""
    require_permission(actor, "lending.repay_loan", "办理还款")
    key = (key or "").strip()
    if not key:
        raise ValidationError({"key": "缺少还款业务编号(幂等键)"})
    reference = _reference(loan, key)
    earlier = _earlier(loan, reference, amount, kind)
    if earlier is not None:
        return earlier, False
    if loan.status != LoanStatus.ACTIVE:
        raise LoanConflict({"status": f"贷款当前为{loan.get_status_display()}，不能还款"})
    amount, today, value_date = _validate_request(
        loan,
        amount=amount,
        kind=kind,
        channel=channel,
        value_date=value_date,
        reschedule=reschedule,
    )
    if value_date < today:
        # Back-dated: the loan is reversed and replayed with it (``_replay`` builds on this
        # module, hence the import here).
        from lending.loans.services._replay import loan_repay_back_dated

        return loan_repay_back_dated(
            loan=loan,
            amount=amount,
            reference=reference,
            actor=actor,
            kind=kind,
            channel=channel,
            reschedule=reschedule,
            value_date=value_date,
        )
    # 1. Check the request against the loan as the close of business leaves it. A loan that
    #    is up to date is read without a lock (the posting below checks again, locked); one
    #    behind is brought up to date first, locked (the catch-up commits: it is what the close
    #    of business would have written anyway).
    locked = loan  # as the caller just read it; checked again, locked, before posting
    if locked.accrued_through is not None and locked.accrued_through < today - timedelta(days=1):
        with transaction.atomic():
            locked = _up_to_date(_lock_for_posting(loan.pk), today)
    if locked.status != LoanStatus.ACTIVE:
        raise LoanConflict({"status": f"贷款当前为{locked.get_status_display()}，不能还款"})
    _check(locked, amount=amount, kind=kind, today=today, collected=False)
    # 2. Take the money from the borrower's account (not for cash), outside any lock.
    core_id = _collect(locked, amount=amount, reference=reference, channel=channel)
    # 3. Post, once.
    with transaction.atomic():
        locked = _up_to_date(_lock_for_posting(loan.pk), today)
        earlier = _earlier(locked, reference, amount, kind)
        if earlier is not None:
            return earlier, False
        collected = channel not in CASH_CHANNELS
        owed: list[Instalment] = []
        if locked.status != LoanStatus.ACTIVE and collected:
            # Closed by another payment between the check and now: the money is held.
            plan = Plan(allocation=Allocation(left=amount), to_suspense=amount)
        else:
            owed = _owed_instalments(locked, today, lock=False)  # the loan's lock guards them
            plan = _plan(
                locked,
                owed,
                amount=amount,
                kind=kind,
                today=today,
                collected=collected,
            )
        txn = _post(
            locked,
            plan,
            owed=owed,
            amount=amount,
            kind=kind,
            channel=channel,
            today=today,
            reference=reference,
            core_id=core_id,
            actor=actor,
            reschedule=reschedule,
        )
    return txn, True


def _collect(loan: Loan, *, amount: Decimal, reference: str, channel: str) -> str:
    """The money from the borrower's account through the core, once per reference (cash at the
    counter needs none); the core's 流水号."""
    if channel in CASH_CHANNELS:
        return ""
    try:
        result = core_gateway().collect(
            account=loan.deposit_account,
            amount=amount,
            reference=reference,
            memo=f"贷款还款 LN{loan.pk}",
        )
    except CoreRefused as refused:
        raise ValidationError({"amount": f"扣款失败：{refused.reason}"}) from refused
    return result.core_id


def _earlier(loan: Loan, reference: str, amount, kind: str) -> LoanTransaction | None:
    """The transaction this key already made: the first posting, or, when a reverse-replay has
    posted it again, its standing copy."""
    earlier = (
        LoanTransaction.objects.filter(loan=loan, kind=kind)
        .filter(Q(reference=reference) | Q(reference__startswith=f"{reference}/RP"))
        .order_by("reversed", "-id")
        .first()
    ) or LoanTransaction.objects.filter(loan=loan, reference=reference).first()
    if earlier is None:
        return None
    try:
        same = earlier.amount == Decimal(str(amount)) and earlier.kind == kind
    except ArithmeticError:
        same = False
    if not same:
        raise ValidationError({"key": "该还款业务编号已用于另一笔不同的还款"}, code="key_reused")
    return earlier


def _post(
    loan: Loan,
    plan: Plan,
    *,
    owed: list[Instalment],
    amount,
    kind,
    channel,
    today,
    reference,
    core_id,
    actor,
    reschedule,
    restore_line: bool = True,
) -> LoanTransaction:
    debit = Account.CASH if channel in CASH_CHANNELS else Account.CORE_CLEARING
    entry, _ = journal_post(
        bank_id=loan.bank_id,
        kind=EntryKind.REPAYMENT,
        value_date=today,
        reference=reference,
        lines=[
            (debit, amount),
            (Account.PENALTY_RECEIVABLE, -plan.penalty),
            (Account.INTEREST_RECEIVABLE, -plan.interest),
            (Account.LOAN_PRINCIPAL, -plan.principal),
            (Account.SUSPENSE, -plan.to_suspense),
        ],
        loan_id=loan.pk,
        actor=staff_of(actor),
        memo=f"{TransactionKind(kind).label} 贷款{loan.pk}",
        known_new=True,  # the transaction's reference was checked under the loan's lock
    )
    _apply_to_instalments(loan, plan, owed)
    loan.penalty_outstanding -= plan.penalty
    loan.interest_outstanding -= plan.interest
    loan.interest_due -= plan.allocation.interest_total
    loan.principal_outstanding -= plan.principal
    loan.principal_due -= plan.allocation.principal_total
    loan.suspense_balance += plan.to_suspense
    loan.interest_overdue = min(loan.interest_overdue, loan.interest_due)
    loan.principal_overdue = min(loan.principal_overdue, loan.principal_due)
    if loan.interest_due == 0 and loan.principal_due == 0:
        loan.days_past_due = 0
        loan.overdue_since = None
    loan.version += 1
    txn = LoanTransaction.objects.create(
        loan=loan,
        kind=kind,
        value_date=today,
        amount=amount,
        principal=plan.principal,
        interest=plan.interest,
        penalty=plan.penalty,
        to_suspense=plan.to_suspense,
        reschedule=reschedule or "" if kind == TransactionKind.PREPAYMENT else "",
        channel=channel,
        reference=reference,
        core_id=core_id,
        journal_entry=entry,
        actor=staff_of(actor),
    )
    if kind == TransactionKind.PREPAYMENT and plan.principal_not_due and loan.principal_outstanding:
        _reschedule(loan, mode=reschedule, today=today)
    cleared = not (
        loan.principal_outstanding or loan.interest_outstanding or loan.penalty_outstanding
    )
    before = loan.status
    if cleared:
        loan.close()
        loan.accrual_carry = Decimal("0")
    loan.save(update_fields=_POSTED_FIELDS)
    if plan.principal and restore_line:
        credit_line_restore(line=loan.line, amount=plan.principal)
    if cleared:
        LoanEvent.objects.create(
            loan=loan,
            from_status=before,
            to_status=loan.status,
            actor=staff_of(actor),
            comment=f"{TransactionKind(kind).label} {amount} 元，贷款结清",
        )
    return txn


# What a posting changes on the loan (the rest is left to its own services).
_POSTED_FIELDS = [
    "status",
    "penalty_outstanding",
    "interest_outstanding",
    "interest_due",
    "principal_outstanding",
    "principal_due",
    "suspense_balance",
    "interest_overdue",
    "principal_overdue",
    "days_past_due",
    "overdue_since",
    "maturity_date",
    "accrual_carry",
    "version",
    "updated_at",
]


def _apply_to_instalments(loan: Loan, plan: Plan, owed: list[Instalment]) -> None:
    """Record the payment on the schedule: due interest and principal on the instalments the
    allocation chose; on a payoff, everything not yet due on the remaining instalments (the
    interest to the day on the current one, which is settled at that)."""
    numbers = set(plan.allocation.interest) | set(plan.allocation.principal)
    for instalment in (i for i in owed if i.number in numbers):
        number = instalment.number
        Instalment.objects.filter(pk=instalment.pk).update(
            interest_paid=instalment.interest_paid + plan.allocation.interest.get(number, ZERO),
            principal_paid=instalment.principal_paid + plan.allocation.principal.get(number, ZERO),
        )
    if not (plan.interest_not_due or plan.principal_not_due):
        return
    future = list(loan.instalments.filter(interest_settled=False).order_by("number"))
    if loan.principal_outstanding == plan.principal:  # paid off: nothing is left to fall due
        interest = plan.interest_not_due
        for instalment in future:
            instalment.principal_paid = instalment.principal_due
            instalment.interest_due = instalment.interest_paid + interest
            instalment.interest_paid = instalment.interest_due
            instalment.interest_settled = True
            interest = ZERO
        Instalment.objects.bulk_update(
            future, ["principal_paid", "interest_due", "interest_paid", "interest_settled"]
        )
    elif future:
        # Interest to the day is paid on the current period; settled later with the rest.
        future[0].interest_paid += plan.interest_not_due
        future[0].save(update_fields=["interest_paid"])


def _reschedule(loan: Loan, *, mode: str, today: date) -> None:
    """The instalments not yet settled, rebuilt for the principal left after a prepayment."""
    future = list(loan.instalments.filter(interest_settled=False).order_by("number"))
    if not future:
        return
    remaining = loan.principal_outstanding - loan.principal_due
    rate = loan.rate / HUNDRED
    if loan.method not in AMORTISING:
        # Interest-only methods owe principal at maturity: the last instalment carries less,
        # the interest projections follow the lower principal.
        future[-1].principal_due = future[-1].principal_paid + remaining
        for instalment in future:
            instalment.interest_due = instalment.interest_paid + interest_for_days(
                principal=remaining,
                annual_rate=rate,
                days=(instalment.due_date - max(instalment.period_start, today)).days,
            )
        Instalment.objects.bulk_update(future, ["principal_due", "interest_due"])
        _log_reschedule(loan, mode, len(future), len(future))
        return
    start = future[0].period_start
    months = (loan.maturity_date.year - start.year) * 12 + loan.maturity_date.month - start.month
    step = 3 if loan.frequency == "quarterly" else 1
    old_payment = future[0].principal_due + future[0].interest_due
    new = None
    try:
        if mode == "shorten":
            for term in range(step, months + 1, step):
                candidate = _build(loan, remaining, term, start, rate)
                if candidate[0].principal + candidate[0].interest <= old_payment:
                    new = candidate
                    break
        new = new or _build(loan, remaining, months, start, rate)
    except ScheduleError as error:
        raise ValidationError({error.field: error.message}) from error
    paid_interest = future[0].interest_paid
    first_number = future[0].number
    Instalment.objects.filter(pk__in=[i.pk for i in future]).delete()
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=first_number + k,
            period_start=item.period_start,
            due_date=item.due_date,
            principal_due=item.principal,
            interest_due=item.interest,
            interest_paid=paid_interest if k == 0 else ZERO,
        )
        for k, item in enumerate(new)
    )
    loan.maturity_date = new[-1].due_date
    _log_reschedule(loan, mode, len(future), len(new))


def _build(loan: Loan, amount: Decimal, term: int, start: date, rate: Decimal):
    return build_schedule(
        amount=amount,
        term_months=term,
        method=loan.method,
        annual_rate=rate,
        start_date=start,
        frequency=loan.frequency,
        settlement=loan.settlement,
    )


def _log_reschedule(loan: Loan, mode: str, before: int, after: int) -> None:
    LoanEvent.objects.create(
        loan=loan,
        from_status=loan.status,
        to_status=loan.status,
        comment=f"提前还款，重算还款计划({RESCHEDULES.get(mode, mode)})：剩余{before}期→{after}期",
    )


# --- auto-debit ------------------------------------------------------------------------------


def loan_auto_debit(*, loan_id: int, on: date | None = None) -> LoanTransaction | None:
    """到期自动扣款 for one loan: what is due today, or as much of it as the account holds,
    collected once a day (the day is the key, so a retried task collects once). ``None`` when
    nothing is due or the account is empty."""
    today = on or business_today()
    loan = Loan.objects.select_related("bank").get(pk=loan_id)
    if loan.status != LoanStatus.ACTIVE or not loan.auto_debit:
        return None
    key = f"AD-{today:%Y%m%d}"
    earlier = LoanTransaction.objects.filter(loan=loan, reference=_reference(loan, key)).first()
    if earlier is not None:
        return earlier
    due = loan_quote(loan=loan, on=today).due
    if not due:
        return None
    available = core_gateway().balance(loan.deposit_account)
    amount = min(due, available)
    if amount <= 0:
        logger.info("auto-debit of loan %s: account empty, %s due", loan_id, due)
        return None
    txn, _ = loan_repay(
        loan=loan, amount=amount, key=key, actor=None, channel=TransactionChannel.AUTO_DEBIT
    )
    return txn


def loans_auto_debit_due() -> list[int]:
    """Ids of active auto-debit loans with something due as the close of business left them
    (the daily job, after the close of business, asks for each)."""
    return list(
        Loan.objects.filter(status=LoanStatus.ACTIVE, auto_debit=True)
        .filter(Q(principal_due__gt=0) | Q(interest_due__gt=0) | Q(penalty_outstanding__gt=0))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
