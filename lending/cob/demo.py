"""120 business days of servicing history for the demo province, made the way it would have
happened: loans drawn 120 days ago, then every day the branch's repayments, the 09:00
auto-debit and the nightly close of business, each on its own date.

The clock is moved with ``time_machine`` (a development dependency, installed by ``make
install``) so that every service stamps its rows with the day it happened; without it the
history is skipped with a message. Idempotent: a bank that already has a completed close of
business, or any loan, is left alone.

What the admin then shows, per bank, one borrower each: a loan paid on time by auto-debit
(正常), a revolving loan, a loan paid late at the counter, a loan overdue since its first
instalment (关注), a prepayment that rebuilt its schedule, a loan paid off (已结清), loans
classified by hand as 次级 and 可疑, and a loss (损失) written off with maker-checker and partly
recovered (已核销); every balance real in the sandbox core.
"""

from __future__ import annotations

import datetime
import logging
import uuid
import zoneinfo
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction

from common.clock import business_today
from lending.cob.models import CobRun, CobStatus
from lending.cob.services import cob_chunk_process, cob_run_start
from lending.corebank.models import SandboxDepositAccount
from lending.corebank.services import (
    sandbox_account_open,
    sandbox_cash_deposit,
    sandbox_cash_withdraw,
)
from lending.lines.models import CreditLine, CreditLineChange, LineStatus
from lending.lines.services import credit_line_transition
from lending.loans import services as loans
from lending.loans.models import Loan, LoanStatus
from org.demo import BANKS as DEMO_BANKS
from org.models import Staff

logger = logging.getLogger(__name__)
DAYS = 120
NAMESPACE = uuid.UUID("0d7c8f4e-5a2b-4c61-9e3f-7b1a2c3d4e5f")


@dataclass(frozen=True)
class Story:
    """One borrower's 120 days."""

    name: str
    method: str
    savings: bool  # keeps money in the account for the auto-debit
    counter_on: int | None = None  # pays what is due at the counter on this day
    prepay_on: int | None = None
    payoff_on: int | None = None
    classify: tuple[int, int] | None = None  # (day, class) set by hand
    write_off_on: int | None = None


STORIES = [  # in this order, so that a bank with only four lines still shows a write-off
    Story("按时自动扣款", "equal_instalment", savings=True),
    Story("首期起逾期", "equal_instalment", savings=False),
    Story("核销并收回", "equal_instalment", savings=False, classify=(100, 5), write_off_on=101),
    Story("提前结清", "equal_instalment", savings=True, payoff_on=90),
    Story("随借随还", "revolving", savings=True),
    Story("人工认定可疑", "periodic_interest", savings=False, classify=(95, 4)),
    Story("提前还款重算计划", "equal_instalment", savings=True, prepay_on=60),
    Story("人工认定次级", "equal_instalment", savings=False, classify=(80, 3)),
    Story("柜面补还逾期", "equal_instalment", savings=False, counter_on=45),
]


def _moment(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(
        day, datetime.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(settings.BUSINESS_TZ)
    )


def _staff(bank_code: str, suffix: str):
    staff = Staff.objects.filter(bank__code=bank_code, user__username__endswith=suffix).first()
    return staff.user if staff else None


def _lines(bank_code: str, admin) -> list[CreditLine]:
    """The bank's lines with a head, pre-approved ones signed (生效) to have enough of them."""
    lines = list(
        CreditLine.objects.filter(
            bank__code=bank_code,
            parent__isnull=True,
            household__head__isnull=False,
            status__in=[LineStatus.ACTIVE, LineStatus.PRE_APPROVED],
        )
        .select_related("household__head", "product_version")
        .order_by("pk")
    )
    chosen = []
    for line in lines[: len(STORIES)]:
        if line.status == LineStatus.PRE_APPROVED:
            line = credit_line_transition(
                line=line,
                action=CreditLineChange.Action.ACTIVATE,
                actor=admin,
                reason="借款合同已签署(演示)",
            )
        chosen.append(line)
    return chosen


def _account(line: CreditLine) -> SandboxDepositAccount:
    head = line.household.head
    account = SandboxDepositAccount.objects.filter(member_id=head.pk).first()
    return account or sandbox_account_open(
        bank_id=line.bank_id, holder_name=head.name, member_id=head.pk
    )


def seed_servicing_history(days: int = DAYS) -> None:
    try:
        import time_machine
    except ImportError:  # a production install: no history to make up
        logger.warning("time_machine is not installed: the demo's servicing history is skipped")
        return
    start = business_today() - datetime.timedelta(days=days)
    banks = []
    for code, *_ in DEMO_BANKS:
        admin, risk = _staff(code, "_admin"), _staff(code, "_risk")
        # A bank with a close of business or any loan already has its history (or one made
        # by an earlier version of the demo): left alone.
        if (
            admin is None
            or CobRun.objects.filter(bank__code=code, status=CobStatus.COMPLETED).exists()
            or Loan.objects.filter(bank__code=code).exists()
        ):
            continue
        banks.append((code, admin, risk))
    if not banks:
        return
    plans: list[tuple[Story, Loan, SandboxDepositAccount]] = []
    with time_machine.travel(_moment(start, 10), tick=False):
        for code, admin, _risk in banks:
            lines = [line for line in _lines(code, admin) if _account(line).status == "open"]
            for story, line in zip(STORIES, lines, strict=False):
                plans.append((story, *_draw(story, line, admin)))
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        with time_machine.travel(_moment(day, 9), tick=False):
            for loan_id in loans.loans_auto_debit_due():
                try:
                    loans.loan_auto_debit(loan_id=loan_id)
                except Exception:  # an account emptied meanwhile: tomorrow again
                    logger.info("demo auto-debit of loan %s not taken", loan_id, exc_info=True)
        with time_machine.travel(_moment(day, 11), tick=False):
            for story, loan, account in plans:
                _today(story, offset, loan, account, banks)
        with time_machine.travel(_moment(day + datetime.timedelta(days=1), 0, 40), tick=False):
            for code, admin, _ in banks:
                _close(code, admin, day)


def _draw(story: Story, line: CreditLine, admin) -> tuple[Loan, SandboxDepositAccount]:
    account = _account(line)
    amount = min(line.available * Decimal("0.4"), Decimal("20000")).quantize(
        Decimal("100"), rounding=ROUND_DOWN
    )
    with transaction.atomic():
        loan, _ = loans.loan_drawdown(
            line=line,
            amount=amount,
            term_months=12,
            method=story.method,
            deposit_account=account.account,
            client_uuid=uuid.uuid5(NAMESPACE, f"history-{line.pk}"),
            actor=admin,
            channel="counter",
            purpose=f"购买农资({story.name})",
        )
    loans.loan_disburse(loan_id=loan.pk, actor=admin)
    # The money is spent on the farm; a careful borrower keeps back enough for the instalments.
    sandbox_cash_withdraw(account=account, amount=amount, memo="演示：购买农资")
    if story.savings:
        sandbox_cash_deposit(account=account, amount=amount / 2, memo="演示：经营收入存入")
    return Loan.objects.get(pk=loan.pk), account


def _today(story: Story, offset: int, loan: Loan, account, banks) -> None:
    loan = Loan.objects.select_related("bank", "borrower").get(pk=loan.pk)
    if loan.status != LoanStatus.ACTIVE:
        return
    admin = next(a for code, a, _ in banks if code == loan.bank.code)
    risk = next(r for code, _, r in banks if code == loan.bank.code)
    key = f"demo-{offset}"
    if offset == story.counter_on:
        due = loans.loan_quote(loan=loan).due
        if due:
            loans.loan_repay(loan=loan, amount=due, key=key, actor=admin)
    if offset == story.prepay_on:
        quote = loans.loan_quote(loan=loan)
        amount = quote.due + quote.interest_accrued - quote.interest_due + Decimal("3000")
        sandbox_cash_deposit(account=account, amount=amount, memo="演示：卖粮收入")
        loans.loan_repay(
            loan=loan,
            amount=amount,
            key=key,
            actor=admin,
            kind="prepayment",
            channel="mobile_banking",
            reschedule="reamortise",
        )
    if offset == story.payoff_on:
        payoff = loans.loan_quote(loan=loan).payoff
        sandbox_cash_deposit(account=account, amount=payoff, memo="演示：卖粮收入")
        loans.loan_repay(
            loan=loan,
            amount=payoff,
            key=key,
            actor=admin,
            kind="payoff",
            channel="mobile_banking",
        )
    if story.classify and offset == story.classify[0] and risk is not None:
        loans.loan_classify(
            loan=loan, loan_class=story.classify[1], actor=risk, reason="借款人经营困难，欠息"
        )
    if offset == story.write_off_on and risk is not None:
        request = loans.loan_write_off_request(
            loan=Loan.objects.get(pk=loan.pk), actor=risk, reason="借款人外出失联，催收无果"
        )
        loans.loan_write_off_approve(write_off=request, actor=admin, comment="同意核销")
        loan = Loan.objects.select_related("bank", "borrower").get(pk=loan.pk)
        loans.loan_recover(loan=loan, amount="2000.00", key=f"{key}-recovery", actor=admin)


def _close(code: str, admin, day: datetime.date) -> None:
    from org.models import Institution

    bank = Institution.objects.get(code=code)
    run = cob_run_start(bank=bank, business_date=day, actor=admin, enqueue=False)
    for chunk_id in run.chunks.values_list("pk", flat=True):
        cob_chunk_process(chunk_id=chunk_id)
