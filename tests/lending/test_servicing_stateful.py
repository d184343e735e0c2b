"""A Hypothesis state machine over servicing: draw, repay, prepay, pay off, let days pass, run
the close of business, write off, in any order. After every step the books hold:

- debits equal credits over the whole journal;
- no loan owes a negative amount, and every loan's kept balances equal its journal;
- each loan's principal is its amount less the principal its own payments reported;
- the interest each loan has accrued equals an independent computation: the exact sum over its
  days of principal × rate ÷ 360 (principal as the payments left it at each day's close),
  rounded half-up to the fen once.

A payment may also be dated back (up to 20 days) or reversed: both reverse and replay the loan.
The principal path of the reference is that of the payments standing after every replay.

Each example runs inside a savepoint rolled back at its end, so examples do not see each other.
"""

from __future__ import annotations

import datetime
import os
import uuid
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from lending.ledger.models import Account, EntryKind, JournalLine
from lending.loans import services
from lending.loans.accrual import loans_close_day
from lending.loans.models import Loan, LoanStatus, LoanTransaction
from lending.loans.selectors import loans_out_of_balance
from tests.lending.servicing_setup import SH

D = Decimal
FEN = D("0.01")
START = datetime.date(2027, 1, 10)
EXAMPLES = int(os.environ.get("SERVICING_EXAMPLES", "1000"))


class Servicing(RuleBasedStateMachine):
    world: dict = {}
    loans = Bundle("loans")

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.today = START
        self.clock = time_machine.travel(self._moment(), tick=False)
        self.coordinates = self.clock.start()
        # the loans drawn (their principal moves are read from their standing postings)
        self.principal_moves: dict[int, list] = {}

    def teardown(self) -> None:
        self.clock.stop()
        transaction.savepoint_rollback(self.savepoint)

    def _moment(self) -> datetime.datetime:
        return datetime.datetime.combine(self.today, datetime.time(10), tzinfo=SH)

    def _loan(self, loan_id: int) -> Loan:
        return Loan.objects.select_related("bank", "borrower").get(pk=loan_id)

    # --- steps ------------------------------------------------------------------------------

    @rule(
        target=loans,
        hundreds=st.integers(min_value=10, max_value=160),
        method=st.sampled_from(["equal_instalment", "periodic_interest", "revolving"]),
        term=st.integers(min_value=3, max_value=12),
    )
    def draw(self, hundreds, method, term):
        try:
            loan, _ = services.loan_drawdown(
                line=self.world["line"],
                amount=D(hundreds) * 100,
                term_months=term,
                method=method,
                deposit_account=self.world["account"],
                client_uuid=uuid.uuid4(),
                actor=self.world["am"],
            )
        except ValidationError:
            return multiple()  # above what the line has left
        services.loan_disburse(loan_id=loan.pk)
        self.principal_moves[loan.pk] = []
        return loan.pk

    # A month (an instalment falls due), half a month, a day, six weeks, a few days.
    @rule(days=st.sampled_from([31, 16, 1, 45, 3]))
    def days_pass(self, days):
        self.today += datetime.timedelta(days=days)
        self.coordinates.move_to(self._moment())

    @rule()
    def close_of_business(self):
        """The nightly close, for every loan of the bank, through yesterday."""
        bank_id = self.world["line"].bank_id
        oldest = (
            Loan.objects.filter(bank_id=bank_id, status=LoanStatus.ACTIVE)
            .order_by("accrued_through")
            .values_list("accrued_through", flat=True)
            .first()
        )
        day = oldest + datetime.timedelta(days=1) if oldest else self.today
        while day < self.today:
            loans_close_day(bank_id=bank_id, day=day, first_id=0, last_id=2**62)
            day += datetime.timedelta(days=1)

    def _post(self, loan_id, amount, **kwargs):
        txn, created = services.loan_repay(
            loan=self._loan(loan_id),
            amount=amount,
            key=uuid.uuid4().hex,
            actor=self.world["admin"],
            **kwargs,
        )
        assert created
        assert txn.penalty + txn.interest + txn.principal + txn.to_suspense == txn.amount

    @rule(
        loan_id=loans,
        how=st.sampled_from(["due", "part", "reamortise", "payoff", "shorten"]),
        hundreds=st.integers(min_value=1, max_value=80),
    )
    def pay(self, loan_id, how, hundreds):
        """A part of what is due, all of it, a prepayment either way, or the payoff."""
        loan = self._loan(loan_id)
        if loan.status != LoanStatus.ACTIVE:
            return
        quote = services.loan_quote(loan=loan)
        if how in ("part", "due"):
            amount = quote.due if how == "due" else (quote.due / 3).quantize(FEN, ROUND_HALF_UP)
            if amount > 0:
                self._post(loan_id, amount)
        elif how == "payoff":
            self._post(loan_id, quote.payoff, kind="payoff")
            assert self._loan(loan_id).status == LoanStatus.CLOSED
        else:
            not_due = quote.principal_outstanding - quote.principal_due
            principal = min(D(hundreds) * 100, not_due)
            if principal > 0:
                amount = quote.due + quote.interest_accrued - quote.interest_due + principal
                self._post(loan_id, amount, kind="prepayment", reschedule=how)

    @rule(loan_id=loans)
    def write_off(self, loan_id):
        """A loan long overdue is put in the loss class and written off (maker, checker)."""
        loan = self._loan(loan_id)
        if loan.status != LoanStatus.ACTIVE or not loan.days_past_due:
            return
        services.loan_classify(loan=loan, loan_class=5, actor=self.world["risk"], reason="失联")
        request = services.loan_write_off_request(
            loan=self._loan(loan_id), actor=self.world["risk"], reason="失联"
        )
        services.loan_write_off_approve(write_off=request, actor=self.world["admin"])

    @rule(loan_id=loans, days_back=st.sampled_from([3, 10, 20]))
    def pay_back_dated(self, loan_id, days_back):
        """A counter slip found late: paid ``days_back`` days ago (never before the start)."""
        loan = self._loan(loan_id)
        if loan.status != LoanStatus.ACTIVE:
            return
        value_date = max(self.today - datetime.timedelta(days=days_back), loan.start_date)
        if value_date < self.today:
            self._post(loan_id, D("100.00"), value_date=value_date)

    @rule(loan_id=loans)
    def reverse_last_payment(self, loan_id):
        last = (
            LoanTransaction.objects.filter(
                loan_id=loan_id, kind__in=["repayment", "prepayment", "payoff"], reversed=False
            )
            .order_by("-id")
            .first()
        )
        if last is None or self._loan(loan_id).status not in (
            LoanStatus.ACTIVE,
            LoanStatus.CLOSED,
        ):
            return
        services.loan_transaction_reverse(txn=last, actor=self.world["admin"], reason="记错")

    # --- what must always hold --------------------------------------------------------------

    @invariant()
    def books_hold(self):
        """All four rules, read in a handful of queries whatever the number of loans."""
        total = JournalLine.objects.aggregate(total=Sum("amount"))["total"] or 0
        assert total == 0, "debits and credits differ"
        ids = list(self.principal_moves)
        if not ids:
            return
        assert loans_out_of_balance(loan_ids=ids) == []
        moves: dict[int, list[tuple[datetime.date, Decimal]]] = {pk: [] for pk in ids}
        standing = (
            LoanTransaction.objects.filter(loan_id__in=ids, reversed=False, principal__gt=0)
            .exclude(kind="disbursement")
            .values_list("loan_id", "value_date", "principal")
        )
        for loan_id, day, principal in standing:
            moves[loan_id].append((day, principal))
        posted = dict(
            JournalLine.objects.filter(
                loan_id__in=ids, account=Account.INTEREST_INCOME, entry__kind=EntryKind.ACCRUAL
            )
            .values("loan_id")
            .annotate(total=Sum("amount"))
            .values_list("loan_id", "total")
        )
        for loan in Loan.objects.filter(pk__in=ids):
            assert min(loan.principal_outstanding, loan.interest_outstanding) >= 0
            assert loan.penalty_outstanding >= 0
            moved = sum((amount for _, amount in moves[loan.pk]), D(0))
            assert loan.principal_outstanding == loan.amount - moved
            self._interest_matches(loan, moves[loan.pk], -(posted.get(loan.pk) or 0))

    @staticmethod
    def _interest_matches(loan, moves, posted) -> None:
        """The exact sum over the loan's days of principal × rate ÷ 360, principal as the
        standing payments left it at each day's close, rounded half-up once."""
        if loan.accrued_through is None or loan.start_date is None:
            return
        exact = Fraction(0)
        day = loan.start_date
        while day <= loan.accrued_through:
            principal = loan.amount - sum((a for d, a in moves if d <= day), D(0))
            if principal > 0:
                exact += Fraction(principal) * Fraction(loan.rate) / 36000
            day += datetime.timedelta(days=1)
        expected = (D(exact.numerator) / D(exact.denominator)).quantize(FEN, ROUND_HALF_UP)
        assert posted == expected, (loan.pk, posted, expected)


@pytest.mark.django_db
def test_servicing_keeps_the_books_whatever_happens(active_line, django_user_model):
    from lending.corebank.services import sandbox_cash_deposit

    # Enough in the borrower's account for every payment the machine makes.
    sandbox_cash_deposit(account=active_line["account"], amount=D("1000000"))
    Servicing.world = {
        "line": active_line["line"],
        "account": active_line["account"].account,
        "am": active_line["am"],
        "admin": active_line["admin"],
        "risk": django_user_model.objects.get(username="b1_risk"),
    }
    run_state_machine_as_test(
        Servicing,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
