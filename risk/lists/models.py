"""Risk lists (风险名单): people the bank refuses, restricts or reviews by hand, keyed by ID number.

An entry names its subject by ID number (and optionally a mobile and a device id), a level, the
source that put it there and the dates it applies. Federation entries (``owner`` empty, as with
products) apply to every bank; a bank's entries to that bank only.

Subjects are personal data, so the ID number and the mobile are stored as ``Member`` stores
them: ciphertext plus a keyed hash (``common.pii``); lookups and joins use the hash, so a lookup
by ID number is an index hit. The device id is the identifier the app sends for a tablet or
phone (the ``device_id`` of a sign-in), not a number issued to a person; it is kept in plain text
so staff can compare it with a device, and indexed for equality.

Validity is by business date, both ends inclusive: an entry applies from ``valid_from`` through
``valid_until`` (open-ended when empty). Expiry needs no status change: an expired entry simply
stops matching.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django_fsm import FSMField, transition

from common import pii
from common.audit import audited
from common.fields import EncryptedTextField, KeyedHashField, KeyedHashModel
from common.masking import mask_id_number
from org.models import Institution, Staff
from org.tenancy import scope_for
from villages.models import Household


class ListLevel(models.TextChoices):
    """Most severe first."""

    BLACKLIST_PROHIBIT = "prohibit", "黑名单-禁止级"
    BLACKLIST_RESTRICT = "restrict", "黑名单-限制级"
    GREYLIST = "grey", "灰名单"


# Larger is more severe; the batch lookup computes the same numbers in SQL (``LEVEL_SEVERITY_SQL``).
LEVEL_SEVERITY = {
    ListLevel.BLACKLIST_PROHIBIT: 3,
    ListLevel.BLACKLIST_RESTRICT: 2,
    ListLevel.GREYLIST: 1,
}
LEVEL_BY_SEVERITY = {severity: level for level, severity in LEVEL_SEVERITY.items()}


class ListSource(models.TextChoices):
    MANUAL = "manual", "人工录入"
    PEER_REVIEW = "peer_review", "背靠背评议"
    COURT = "court", "法院数据"
    OVERDUE = "overdue", "行内逾期"
    ANTI_FRAUD = "anti_fraud", "反欺诈命中"
    POST_LOAN = "post_loan", "贷后预警"


# Sources whose entries rules write directly (no maker-checker); manual entries go through it.
AUTOMATIC_SOURCES = frozenset(
    {
        ListSource.PEER_REVIEW,
        ListSource.COURT,
        ListSource.OVERDUE,
        ListSource.ANTI_FRAUD,
        ListSource.POST_LOAN,
    }
)
LIVE_STATUSES = ("pending", "active")


class RiskListEntryQuerySet(models.QuerySet):
    def visible_to(self, user) -> RiskListEntryQuerySet:
        """Federation entries apply to every bank, so every bank's staff see them beside their
        own; another bank's entries are never shown. Federation staff see every entry."""
        scope = scope_for(user)
        if scope.sees_nothing:
            return self.none()
        if scope.all_banks:
            return self
        return self.filter(models.Q(owner__isnull=True) | models.Q(owner_id=scope.bank_id))

    def for_user(self, user) -> RiskListEntryQuerySet:
        return self.visible_to(user)

    def applying_to_bank(self, bank_id: int) -> RiskListEntryQuerySet:
        return self.filter(models.Q(owner__isnull=True) | models.Q(owner_id=bank_id))

    def in_force_on(self, on_date) -> RiskListEntryQuerySet:
        """Active and valid on ``on_date`` (both ends inclusive)."""
        return self.filter(status=RiskListEntry.Status.ACTIVE, valid_from__lte=on_date).filter(
            models.Q(valid_until__isnull=True) | models.Q(valid_until__gte=on_date)
        )


@audited(exclude=["updated_at", "id_number_hash", "phone_hash"])
class RiskListEntry(KeyedHashModel):
    class Status(models.TextChoices):
        PENDING = "pending", "待复核"
        ACTIVE = "active", "生效"
        REMOVED = "removed", "已移除"
        REJECTED = "rejected", "已驳回"

    tenant_bank_field = "owner"

    owner = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="归属机构(空=省联社)",
        help_text="为空表示省联社名单，适用于全省所有行社；否则只适用于该行社",
        limit_choices_to={"kind": "bank"},
    )
    id_number = EncryptedTextField("身份证号", purpose=pii.ID_NUMBER, max_length=18, blank=False)
    id_number_hash = KeyedHashField(
        "身份证号(哈希)",
        source="id_number",
        purpose=pii.ID_NUMBER,
        db_index=False,  # risk_list_id_number below
    )
    phone = EncryptedTextField("手机号", purpose=pii.PHONE, max_length=20)
    phone_hash = KeyedHashField("手机号(哈希)", source="phone", purpose=pii.PHONE)
    device_id = models.CharField("设备标识", max_length=128, blank=True)
    level = models.CharField("名单级别", max_length=12, choices=ListLevel.choices)
    source = models.CharField("来源", max_length=12, choices=ListSource.choices)
    reason = models.CharField("列入原因", max_length=300)
    # For automatic entries: the rule that made the entry and the record it read (a peer-review
    # result id, a court case number…); the same record never makes a second entry.
    rule = models.CharField("生成规则", max_length=100, blank=True)
    source_ref = models.CharField("来源记录编号", max_length=100, blank=True)
    household = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="关联农户",
        db_index=False,  # risk_list_household below (automatic entries only)
    )
    valid_from = models.DateField("生效日期")
    valid_until = models.DateField(
        "失效日期", null=True, blank=True, help_text="含当日；留空为长期"
    )
    status = FSMField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="录入人",
        help_text="自动名单为空，见生成规则",
    )
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    approved_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="复核人",
    )
    approved_at = models.DateTimeField("复核时间", null=True, blank=True)
    removal_proposed_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="移除提议人",
    )
    removal_proposed_at = models.DateTimeField("移除提议时间", null=True, blank=True)
    removal_reason = models.CharField("移除原因", max_length=300, blank=True)
    removed_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="移除复核人",
    )
    removed_at = models.DateTimeField("移除时间", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = RiskListEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "风险名单"
        verbose_name_plural = "风险名单"
        ordering = ["-created_at", "-id"]
        permissions = [
            ("propose_risklistentry", "可提议风险名单录入和移除"),
            ("approve_risklistentry", "可复核风险名单录入和移除"),
        ]
        constraints = [
            # A valid ID number encrypts to 17 bytes and hashes to 16 (``common.pii``): a plain
            # number written around the services is refused.
            models.CheckConstraint(
                condition=models.Q(
                    Exact(Length("id_number"), pii.PACKED_BYTES),
                    Exact(Length("id_number_hash"), 16),
                ),
                name="risk_list_id_number_encrypted",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="risk_list_valid_range",
            ),
            models.CheckConstraint(
                condition=models.Q(source="manual") | ~models.Q(rule=""),
                name="risk_list_automatic_names_rule",
            ),
            # One live entry per subject, level and source per owner: a second proposal of the
            # same thing is refused, a rule re-run finds the entry it made.
            models.UniqueConstraint(
                fields=["owner", "id_number_hash", "level", "source"],
                condition=models.Q(status__in=LIVE_STATUSES, source_ref=""),
                name="risk_list_live_once",
                nulls_distinct=False,
            ),
            # A source record (a peer-review result, a court case) makes one entry per subject,
            # ever: an entry a person removed is not brought back by the next run.
            models.UniqueConstraint(
                fields=["owner", "source", "source_ref", "id_number_hash"],
                condition=~models.Q(source_ref=""),
                name="risk_list_source_record_once",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            models.Index(fields=["id_number_hash"], name="risk_list_id_number"),
            # Partial: most entries have no phone or device. The row lookup repeats the
            # predicate (``phone_hash <> ''``) so even its prepared, generic plan can use them.
            models.Index(
                fields=["phone_hash"], name="risk_list_phone", condition=~models.Q(phone_hash=b"")
            ),
            models.Index(
                fields=["device_id"], name="risk_list_device", condition=~models.Q(device_id="")
            ),
            models.Index(
                fields=["household"],
                name="risk_list_household",
                condition=models.Q(household__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{mask_id_number(self.id_number)} {self.get_level_display()}"

    @property
    def severity(self) -> int:
        return LEVEL_SEVERITY[self.level]

    @property
    def is_automatic(self) -> bool:
        return self.source in AUTOMATIC_SOURCES

    # Transitions are called by risk.lists.services only, with the row locked.
    @transition(field=status, source=Status.PENDING, target=Status.ACTIVE)
    def approve(self) -> None:
        pass

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self) -> None:
        pass

    @transition(field=status, source=Status.ACTIVE, target=Status.REMOVED)
    def remove(self) -> None:
        pass


class RiskListEntryChange(models.Model):
    """Who changed an entry from which status to which, when and why: the business-readable log
    (pghistory keeps the raw row history as well). Automatic changes have no actor; the action
    and reason name the rule."""

    class Action(models.TextChoices):
        PROPOSE = "propose", "提议列入"
        APPROVE = "approve", "复核通过"
        REJECT = "reject", "复核驳回"
        REMOVAL_PROPOSE = "removal_propose", "提议移除"
        REMOVAL_APPROVE = "removal_approve", "移除复核通过"
        REMOVAL_REJECT = "removal_reject", "移除复核驳回"
        AUTO_ADD = "auto_add", "规则自动列入"
        AUTO_END = "auto_end", "规则自动解除"

    tenant_bank_field = "entry__owner"

    entry = models.ForeignKey(
        RiskListEntry, on_delete=models.CASCADE, related_name="changes", verbose_name="风险名单"
    )
    action = models.CharField("操作", max_length=20, choices=Action.choices)
    from_status = models.CharField(
        "原状态", max_length=10, choices=RiskListEntry.Status.choices, blank=True
    )
    to_status = models.CharField("新状态", max_length=10, choices=RiskListEntry.Status.choices)
    actor = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
    )
    reason = models.CharField("原因/意见", max_length=300, blank=True)
    at = models.DateTimeField("时间")

    class Meta:
        verbose_name = "风险名单变更"
        verbose_name_plural = "风险名单变更"
        ordering = ["entry", "at", "id"]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.get_action_display()}"
