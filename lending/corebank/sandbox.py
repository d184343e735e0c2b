"""The sandbox core (沙箱核心系统): real deposit accounts in its own tables, answering as a
core does.

- Each call runs in its own transaction and commits before answering, as a remote core's
  posting stands whatever the caller does next; callers make it outside their own
  transaction (``on_commit`` or a task).
- Idempotent by reference: the same reference again answers the first result with
  ``replayed=True``; with another account or amount it is refused.
- Refuses a frozen or closed account and a debit above the balance, with the reason a teller
  would read.
- ``SANDBOX_CORE_OUTAGE`` (a setting, for drills and tests) makes every call raise
  ``CoreUnavailable`` without touching the books, as a core that does not answer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from common.money import positive_amount
from lending.corebank.gateway import (
    CoreAccount,
    CoreBankingGateway,
    CoreRefused,
    CoreResult,
    CoreTransaction,
    CoreUnavailable,
)
from lending.corebank.models import (
    SandboxAccountStatus,
    SandboxDepositAccount,
    SandboxDepositTransaction,
)


def _result(txn: SandboxDepositTransaction, *, replayed: bool) -> CoreResult:
    return CoreResult(
        reference=txn.reference,
        core_id=txn.core_id,
        account=txn.deposit_account.account,
        amount=abs(txn.amount),
        balance_after=txn.balance_after,
        posted_at=txn.posted_at,
        replayed=replayed,
    )


class SandboxCoreBank(CoreBankingGateway):
    def _reachable(self) -> None:
        if getattr(settings, "SANDBOX_CORE_OUTAGE", False):
            raise CoreUnavailable("沙箱核心系统暂停服务(演练)")

    def account(self, account: str) -> CoreAccount:
        self._reachable()
        found = SandboxDepositAccount.objects.filter(account=account).first()
        if found is None:
            raise CoreRefused(f"账号 {account} 不存在")
        return CoreAccount(
            account=found.account, holder_name=found.holder_name, status=found.status
        )

    def disburse(
        self, *, account: str, amount: Decimal, reference: str, memo: str = ""
    ) -> CoreResult:
        return self._post(
            account=account, amount=amount, reference=reference, memo=memo or "贷款发放"
        )

    def collect(
        self, *, account: str, amount: Decimal, reference: str, memo: str = ""
    ) -> CoreResult:
        return self._post(
            account=account, amount=-amount, reference=reference, memo=memo or "贷款还款"
        )

    def _post(self, *, account: str, amount: Decimal, reference: str, memo: str) -> CoreResult:
        self._reachable()
        positive_amount(abs(amount), field="amount")
        with transaction.atomic():
            found = (
                SandboxDepositAccount.objects.select_for_update().filter(account=account).first()
            )
            # Checked with the account locked: two calls with one reference at once post once.
            earlier = (
                SandboxDepositTransaction.objects.select_related("deposit_account")
                .filter(reference=reference)
                .first()
            )
            if earlier is not None:
                if earlier.deposit_account.account != account or earlier.amount != amount:
                    raise CoreRefused(f"参考号 {reference} 已用于另一笔交易")
                return _result(earlier, replayed=True)
            if found is None:
                raise CoreRefused(f"账号 {account} 不存在")
            if found.status != SandboxAccountStatus.OPEN:
                raise CoreRefused(f"账户{found.get_status_display()}，不能交易")
            if found.balance + amount < 0:
                raise CoreRefused(f"账户余额不足（余额 {found.balance} 元，需扣 {-amount} 元）")
            found.balance += amount
            found.save(update_fields=["balance"])
            txn = SandboxDepositTransaction.objects.create(
                deposit_account=found,
                reference=reference,
                amount=amount,
                balance_after=found.balance,
                memo=memo[:100],
            )
        return _result(txn, replayed=False)

    def balance(self, account: str) -> Decimal:
        self._reachable()
        found = SandboxDepositAccount.objects.filter(account=account).first()
        if found is None:
            raise CoreRefused(f"账号 {account} 不存在")
        return found.balance

    def transactions(self, account: str, since: datetime | None = None) -> list[CoreTransaction]:
        self._reachable()
        rows = SandboxDepositTransaction.objects.filter(deposit_account__account=account)
        if since is not None:
            rows = rows.filter(posted_at__gt=since)
        return [
            CoreTransaction(
                core_id=row.core_id,
                reference=row.reference,
                amount=row.amount,
                balance_after=row.balance_after,
                posted_at=row.posted_at,
                memo=row.memo,
            )
            for row in rows.order_by("id")
        ]
