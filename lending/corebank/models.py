"""The sandbox core's own books: deposit accounts and their movements (核心账户(沙箱)).

These tables stand in for the bank's core system and are written only by ``SandboxCoreBank``
(and the sandbox services that open accounts and take cash deposits), never by the loan
services: a disbursement lands here the way it would land in a real core, through the gateway.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from common.masking import mask_account
from org.models import Institution
from org.tenancy import TenantQuerySet


class SandboxAccountStatus(models.TextChoices):
    OPEN = "open", "正常"
    FROZEN = "frozen", "冻结"
    CLOSED = "closed", "销户"


class SandboxDepositAccount(models.Model):
    tenant_bank_field = "bank"

    bank = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name="法人行社"
    )
    account = models.CharField("账号", max_length=32, unique=True)
    holder_name = models.CharField("户名", max_length=50)
    member_id = models.UUIDField("农户成员", null=True, blank=True, db_index=True)
    balance = models.DecimalField("余额", max_digits=18, decimal_places=2, default=Decimal("0"))
    status = models.CharField(
        "状态", max_length=8, choices=SandboxAccountStatus.choices, default="open"
    )
    opened_at = models.DateTimeField("开户时间", auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "核心账户(沙箱)"
        verbose_name_plural = "核心账户(沙箱)"
        ordering = ["account"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="sandbox_account_no_overdraft"
            )
        ]

    def __str__(self) -> str:
        return f"{self.holder_name} {mask_account(self.account)}"


class SandboxDepositTransaction(models.Model):
    id = models.BigAutoField(primary_key=True)
    deposit_account = models.ForeignKey(
        SandboxDepositAccount,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name="账户",
    )
    reference = models.CharField("业务参考号", max_length=120, unique=True)
    amount = models.DecimalField("发生额(收正付负)", max_digits=18, decimal_places=2)
    balance_after = models.DecimalField("余额", max_digits=18, decimal_places=2)
    posted_at = models.DateTimeField("交易时间", auto_now_add=True)
    memo = models.CharField("摘要", max_length=100, blank=True)

    class Meta:
        verbose_name = "核心账户流水(沙箱)"
        verbose_name_plural = "核心账户流水(沙箱)"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["deposit_account", "posted_at"], name="sandbox_txn_account_time")
        ]

    def __str__(self) -> str:
        return f"{self.memo} {self.amount}"

    @property
    def core_id(self) -> str:
        return f"SBX{self.pk:012d}"
