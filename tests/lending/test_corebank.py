"""The sandbox core: real balances and movements, idempotent by reference, refusals a teller
would read, and an outage that changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from lending.corebank.gateway import CoreRefused, CoreUnavailable, core_gateway
from lending.corebank.models import SandboxDepositTransaction
from lending.corebank.services import sandbox_account_open, sandbox_cash_deposit

D = Decimal


@pytest.fixture
def account(province):
    return sandbox_account_open(bank_id=province["bank1"].pk, holder_name="张三")


def test_disburse_and_collect_move_real_balances_once_per_reference(account):
    core = core_gateway()
    paid = core.disburse(account=account.account, amount=D("1000.00"), reference="L1-D")
    again = core.disburse(account=account.account, amount=D("1000.00"), reference="L1-D")
    assert not paid.replayed
    assert again.replayed
    assert again.core_id == paid.core_id
    assert core.balance(account.account) == D("1000.00")
    with pytest.raises(CoreRefused, match="已用于另一笔"):
        core.disburse(account=account.account, amount=D("999.00"), reference="L1-D")
    core.collect(account=account.account, amount=D("300.00"), reference="L1-R1")
    assert core.balance(account.account) == D("700.00")
    assert [t.amount for t in core.transactions(account.account)] == [D("1000.00"), D("-300.00")]
    since = core.transactions(account.account)[0].posted_at
    assert [t.reference for t in core.transactions(account.account, since=since)] == ["L1-R1"]


def test_short_balances_frozen_accounts_and_unknown_accounts_are_refused(account):
    core = core_gateway()
    sandbox_cash_deposit(account=account, amount="50.00")
    with pytest.raises(CoreRefused, match="余额不足"):
        core.collect(account=account.account, amount=D("50.01"), reference="X1")
    account.status = "frozen"
    account.save(update_fields=["status"])
    with pytest.raises(CoreRefused, match="冻结"):
        core.disburse(account=account.account, amount=D("1.00"), reference="X2")
    with pytest.raises(CoreRefused, match="不存在"):
        core.disburse(account="6229000000000000000", amount=D("1.00"), reference="X3")
    assert core.balance(account.account) == D("50.00")


def test_an_outage_answers_nothing_and_changes_nothing(account):
    with override_settings(SANDBOX_CORE_OUTAGE=True), pytest.raises(CoreUnavailable):
        core_gateway().disburse(account=account.account, amount=D("1.00"), reference="O1")
    assert not SandboxDepositTransaction.objects.filter(reference="O1").exists()
