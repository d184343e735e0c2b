"""Writes of the sandbox core outside the gateway: opening an account, a cash deposit and a cash
withdrawal at the counter (what a teller does in the core; here for the demo, the admin and
tests)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from common.money import positive_amount
from lending.corebank.models import SandboxDepositAccount, SandboxDepositTransaction


@transaction.atomic
def sandbox_account_open(
    *, bank_id: int, holder_name: str, member_id=None, account: str = ""
) -> SandboxDepositAccount:
    """A deposit account in the sandbox core; the number is made when not given (19 digits,
    as a rural credit cooperative's debit card)."""
    holder_name = (holder_name or "").strip()
    if not holder_name:
        raise ValidationError({"holder_name": "请填写户名"})
    account = account or f"6229{uuid.uuid4().int % 10**15:015d}"
    if SandboxDepositAccount.objects.filter(account=account).exists():
        raise ValidationError({"account": f"账号 {account} 已存在"})
    return SandboxDepositAccount.objects.create(
        bank_id=bank_id, account=account, holder_name=holder_name, member_id=member_id
    )


@transaction.atomic
def sandbox_cash_deposit(
    *, account: SandboxDepositAccount, amount, reference: str = "", memo: str = "现金存入"
) -> SandboxDepositTransaction:
    amount: Decimal = positive_amount(amount, field="amount")
    account = SandboxDepositAccount.objects.select_for_update().get(pk=account.pk)
    account.balance += amount
    account.save(update_fields=["balance"])
    return SandboxDepositTransaction.objects.create(
        deposit_account=account,
        reference=reference or f"CASH-{uuid.uuid4().hex}",
        amount=amount,
        balance_after=account.balance,
        memo=memo,
    )


@transaction.atomic
def sandbox_cash_withdraw(
    *, account: SandboxDepositAccount, amount, reference: str = "", memo: str = "现金支取"
) -> SandboxDepositTransaction:
    """Cash taken out at the counter (the borrower spending the loan); refused above the
    balance, as the core would."""
    amount: Decimal = positive_amount(amount, field="amount")
    account = SandboxDepositAccount.objects.select_for_update().get(pk=account.pk)
    if amount > account.balance:
        raise ValidationError({"amount": f"账户余额不足（余额 {account.balance} 元）"})
    account.balance -= amount
    account.save(update_fields=["balance"])
    return SandboxDepositTransaction.objects.create(
        deposit_account=account,
        reference=reference or f"CASH-{uuid.uuid4().hex}",
        amount=-amount,
        balance_after=account.balance,
        memo=memo,
    )
