from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact

from common import pii
from common.audit import audited
from common.fields import EncryptedTextField, KeyedHashField, KeyedHashModel
from org.models import Institution, Staff
from org.tenancy import TenantQuerySet
from villages.models.divisions import Village


class ListColour(models.TextChoices):
    """Result of back-to-back peer review, most cautious first."""

    BLACK = "black", "黑名单"
    GREY = "grey", "灰名单"
    GREEN = "green", "绿名单"
    WHITE = "white", "白名单"


# Most cautious first: ties in a peer review resolve to the earlier colour.
COLOUR_CAUTION_ORDER = [ListColour.BLACK, ListColour.GREY, ListColour.GREEN, ListColour.WHITE]


class HouseholdQuerySet(TenantQuerySet):
    def with_head(self) -> HouseholdQuerySet:
        return self.select_related("village", "head")

    def updated_since(self, moment) -> HouseholdQuerySet:
        return self.filter(updated_at__gt=moment)


@audited(exclude=["updated_at", "phone_hash"])
class Household(KeyedHashModel):
    """The credit subject (以户为单位的授信主体). Ids are UUIDs so a PAD can create one offline."""

    tenant_bank_field = "bank"
    tenant_village_field = "village"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name="行政村",
        db_index=False,  # household_village_updated leads with it
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
    )
    head = models.OneToOneField(
        "villages.Member",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="户主",
    )
    group_name = models.CharField("村民小组", max_length=50, blank=True)
    address = models.CharField("住址", max_length=200, blank=True)
    phone = EncryptedTextField("联系电话", purpose=pii.PHONE, max_length=20)
    phone_hash = KeyedHashField("联系电话(哈希)", source="phone", purpose=pii.PHONE)
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    list_colour = models.CharField("评议名单", max_length=8, choices=ListColour.choices, blank=True)
    # Filled by the risk layer (rating) and the lending layer (pre-approved line).
    credit_grade = models.CharField("信用评级", max_length=8, blank=True)
    pre_approved_limit = models.DecimalField(
        "预授信额度", max_digits=18, decimal_places=2, null=True, blank=True
    )
    created_by = models.ForeignKey(
        Staff,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="建档人",
    )
    created_at = models.DateTimeField("建档时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True, db_index=True)

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        verbose_name = "农户"
        verbose_name_plural = "农户"
        ordering = ["village", "group_name", "address"]
        # Every index is paid for by each row a village import writes: none that another one
        # already leads with, and the colour filter's without the LIKE twin ``db_index`` adds.
        indexes = [
            models.Index(fields=["village", "updated_at"], name="household_village_updated"),
            models.Index(fields=["list_colour"], name="household_list_colour"),
        ]

    def __str__(self) -> str:
        return f"{self.head.name}户" if self.head_id and self.head else f"农户 {str(self.id)[:8]}"


class MemberQuerySet(TenantQuerySet):
    def with_id_number(self, id_number: str) -> MemberQuerySet:
        return self.filter(id_number_hash=pii.blind_index(id_number, pii.ID_NUMBER))


@audited(exclude=["updated_at", "id_number_hash", "phone_hash"])
class Member(KeyedHashModel):
    """A household member with an ID card (GB 11643). One ID number, one member, per bank."""

    class Sex(models.TextChoices):
        MALE = "M", "男"
        FEMALE = "F", "女"

    class Relation(models.TextChoices):
        HEAD = "head", "户主"
        SPOUSE = "spouse", "配偶"
        CHILD = "child", "子女"
        PARENT = "parent", "父母"
        SIBLING = "sibling", "兄弟姐妹"
        GRANDCHILD = "grandchild", "孙子女"
        CHILD_IN_LAW = "child_in_law", "儿媳/女婿"
        OTHER = "other", "其他"

    class Education(models.TextChoices):
        NONE = "none", "未上学"
        PRIMARY = "primary", "小学"
        JUNIOR = "junior", "初中"
        SENIOR = "senior", "高中/中专"
        COLLEGE = "college", "大专"
        BACHELOR = "bachelor", "本科及以上"

    class Health(models.TextChoices):
        GOOD = "good", "健康"
        FAIR = "fair", "一般"
        POOR = "poor", "较差"
        DISABLED = "disabled", "残疾"

    tenant_bank_field = "bank"
    tenant_village_field = "household__village"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    household = models.ForeignKey(
        Household,
        on_delete=models.CASCADE,
        related_name="members",
        verbose_name="农户",
        db_index=False,  # member_household_relation leads with it
    )
    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
        db_index=False,  # member_id_number_unique_per_bank leads with it
    )
    name = models.CharField("姓名", max_length=50)
    # Stored encrypted; found through the keyed hash (common.pii). The format is checked by
    # the services and the import before anything is written.
    id_number = EncryptedTextField("身份证号", purpose=pii.ID_NUMBER, max_length=18, blank=False)
    id_number_hash = KeyedHashField(
        "身份证号(哈希)", source="id_number", purpose=pii.ID_NUMBER, db_index=False
    )
    sex = models.CharField("性别", max_length=1, choices=Sex.choices, editable=False)
    birth_date = models.DateField("出生日期", editable=False)
    relation = models.CharField("与户主关系", max_length=16, choices=Relation.choices)
    education = models.CharField("文化程度", max_length=16, choices=Education.choices, blank=True)
    occupation = models.CharField("职业", max_length=50, blank=True)
    health = models.CharField("健康状况", max_length=16, choices=Health.choices, blank=True)
    phone = EncryptedTextField("手机号", purpose=pii.PHONE, max_length=20)
    phone_hash = KeyedHashField("手机号(哈希)", source="phone", purpose=pii.PHONE)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = "家庭成员"
        verbose_name_plural = "家庭成员"
        ordering = ["household", "relation", "birth_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["bank", "id_number_hash"], name="member_id_number_unique_per_bank"
            ),
            # A valid ID number encrypts to 17 bytes (key version, one AES block: ``common.pii``)
            # and hashes to 16: a plain number written around the services is refused.
            models.CheckConstraint(
                condition=models.Q(
                    Exact(Length("id_number"), pii.PACKED_BYTES),
                    Exact(Length("id_number_hash"), 16),
                ),
                name="member_id_number_encrypted",
            ),
        ]
        indexes = [
            models.Index(fields=["household", "relation"], name="member_household_relation"),
            # The decision engine's "phone shared across households" count for one applicant:
            # an index hit, not a scan of the bank's members. Members without a phone (an empty
            # hash) are left out, which keeps the index to the rows it can answer for.
            models.Index(
                fields=["bank", "phone_hash"],
                name="member_phone_per_bank",
                condition=~models.Q(phone_hash=b""),
            ),
        ]
        permissions = [("reveal_identity", "可查看完整身份证号和手机号(每次查看留痕)")]

    def __str__(self) -> str:
        return self.name

    def age_on(self, day) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))
