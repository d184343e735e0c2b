"""What the platform asks of a core-banking system, and the one place that picks the system.

Four calls, each idempotent by the caller's ``reference`` (a retry with the same reference gets
the first answer and moves no money again; the same reference with another amount is refused):

- ``disburse(account, amount, reference)``: credit the borrower's deposit account (放款入账);
- ``collect(account, amount, reference)``: debit it (扣款), refused when the balance is short;
- ``balance(account)``;
- ``transactions(account, since)``: the account's movements after a moment (the real-time feed
  post-loan monitoring reads).

Calls go out after the platform's own transaction has committed and never while it holds a
row lock (a core can take seconds): the loan records that a call is due, the call is made, and
its answer is posted in a new transaction. A call that raises ``CoreUnavailable`` changed
nothing in the core as far as the caller knows and is retried with the same reference;
``CoreRefused`` is a final answer (frozen account, short balance) with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_GATEWAY = "lending.corebank.sandbox.SandboxCoreBank"


class CoreUnavailable(Exception):
    """The core did not answer (timeout, connection): retry with the same reference."""


class CoreRefused(Exception):
    """The core answered no; ``reason`` is for the staff and the borrower."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CoreResult:
    reference: str
    core_id: str  # the core's own transaction number (流水号)
    account: str
    amount: Decimal
    balance_after: Decimal
    posted_at: datetime
    replayed: bool = False


@dataclass(frozen=True)
class CoreTransaction:
    core_id: str
    reference: str
    amount: Decimal  # credit positive, debit negative
    balance_after: Decimal
    posted_at: datetime
    memo: str


@dataclass(frozen=True)
class CoreAccount:
    account: str
    holder_name: str
    status: str  # "open", "frozen", "closed"


class CoreBankingGateway:
    def account(self, account: str) -> CoreAccount:
        raise NotImplementedError

    def disburse(
        self, *, account: str, amount: Decimal, reference: str, memo: str = ""
    ) -> CoreResult:
        raise NotImplementedError

    def collect(
        self, *, account: str, amount: Decimal, reference: str, memo: str = ""
    ) -> CoreResult:
        raise NotImplementedError

    def balance(self, account: str) -> Decimal:
        raise NotImplementedError

    def transactions(self, account: str, since: datetime | None = None) -> list[CoreTransaction]:
        raise NotImplementedError


@cache
def _gateway_class(path: str) -> type[CoreBankingGateway]:
    return import_string(path)


def core_gateway() -> CoreBankingGateway:
    return _gateway_class(getattr(settings, "CORE_BANKING_GATEWAY", DEFAULT_GATEWAY))()
