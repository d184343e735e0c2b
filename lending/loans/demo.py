"""Demo loans: drawdowns on the demo province's active lines, paid into sandbox deposit
accounts, and one refused by a frozen account (放款失败), so the loan pages have something in
every disbursement state. Idempotent: the drawdowns' client UUIDs derive from their lines and the
accounts are found by their holder."""

from __future__ import annotations

import uuid
from decimal import ROUND_DOWN, Decimal

from django.db import transaction

from common.clock import business_today
from lending.corebank.models import SandboxAccountStatus, SandboxDepositAccount
from lending.corebank.services import sandbox_account_open, sandbox_cash_deposit
from lending.lines.models import CreditLine, LineStatus
from lending.loans.models import Loan, LoanStatus
from lending.loans.services import loan_disburse, loan_drawdown
from org.models import Staff
from products.schedule import add_months
from products.selectors import product_terms_for_version

NAMESPACE = uuid.UUID("6f1c2a52-8d0e-4b7e-9a51-2f3c4d5e6f70")
LOANS_PER_BANK = 2


def _account(line: CreditLine) -> SandboxDepositAccount:
    head = line.household.head
    account = SandboxDepositAccount.objects.filter(member_id=head.pk).first()
    if account is None:
        account = sandbox_account_open(
            bank_id=line.bank_id, holder_name=head.name, member_id=head.pk
        )
        # Savings for the first instalments' auto-debit.
        sandbox_cash_deposit(account=account, amount="3000.00", memo="演示：现金存入")
    return account


def _term(line: CreditLine) -> int | None:
    terms = product_terms_for_version(version=line.product_version)
    for months in (12, 6, terms.term_min_months):
        fits = terms.term_min_months <= months <= terms.term_max_months
        if fits and add_months(business_today(), months) <= line.valid_until:
            return months
    return None


def seed_loans() -> None:
    lines = (
        CreditLine.objects.filter(status=LineStatus.ACTIVE, parent__isnull=True)
        .select_related("household__head", "product_version")
        .order_by("bank_id", "pk")
    )
    per_bank: dict[int, int] = {}
    for line in lines:
        index = per_bank.get(line.bank_id, 0)
        if index >= LOANS_PER_BANK or line.household.head is None:
            continue
        term = _term(line)
        admin = Staff.objects.filter(
            bank_id=line.bank_id, user__username__endswith="_admin"
        ).first()
        if term is None or admin is None:
            continue
        per_bank[line.bank_id] = index + 1
        client_uuid = uuid.uuid5(NAMESPACE, f"line-{line.pk}")
        if Loan.objects.filter(bank_id=line.bank_id, client_uuid=client_uuid).exists():
            continue  # drawn by an earlier run
        amount = (line.available * Decimal("0.4")).quantize(Decimal("100"), rounding=ROUND_DOWN)
        if amount <= 0:
            continue
        # The first bank's second drawdown is refused by the core: the account, checked at
        # drawdown, is frozen before the money is sent (as a court order would freeze it).
        frozen = index == 1 and len(per_bank) == 1
        account = _account(line)
        terms = product_terms_for_version(version=line.product_version)
        with transaction.atomic():
            loan, _ = loan_drawdown(
                line=line,
                amount=amount,
                term_months=term,
                method=terms.repayment_methods[0],
                deposit_account=account.account,
                client_uuid=client_uuid,
                actor=admin.user,
                channel="counter",
                purpose="购买农机" if frozen else "购买农资",
            )
            if frozen and account.status != SandboxAccountStatus.FROZEN:
                # Before commit: the disbursement asked for on commit finds it frozen.
                account.status = SandboxAccountStatus.FROZEN
                account.save(update_fields=["status"])
        if loan.status in (LoanStatus.PENDING, LoanStatus.DISBURSING):
            loan_disburse(loan_id=loan.pk, actor=admin.user)
