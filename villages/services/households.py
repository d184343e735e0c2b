"""Households, members and economic archives, one record at a time (PAD, admin).

Every record carries a client-generated UUID: a PAD that lost its connection sends the same
record again, and the second send finds the row and changes nothing (or applies the newer
values). Whole villages arrive through ``villages.imports`` instead, which writes set-based.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.clock import business_today
from org.models import Staff
from villages.models import EconomicArchive, Household, Member, Village
from villages.validation import (
    EARLIEST_SURVEY,
    MAX_LAND_MU,
    MIN_HEAD_AGE,
    FieldError,
    age_on,
    clean_decimal,
    clean_id_number,
    clean_mobile,
)


def _set_changed(instance, values: dict[str, Any]) -> list[str]:
    """Assign ``values``; return the names that actually changed (so a resend writes nothing)."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def _field(name: str, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except FieldError as exc:
        raise ValidationError({name: exc.message}) from exc


def _household_touch(*household_ids) -> None:
    """Move the households' ``updated_at``: a PAD syncs a household with its members and
    archives by ``households/?updated_since=``, so a new or corrected member or archive is a
    change of the household (a second tablet would never see it otherwise). A member moved to
    another household changes both."""
    Household.objects.filter(pk__in=set(household_ids)).update(updated_at=timezone.now())


@transaction.atomic
def household_upsert(
    *,
    household_id: uuid.UUID,
    village: Village,
    actor: Staff | None,
    group_name: str = "",
    address: str = "",
    phone: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> tuple[Household, bool]:
    values = {
        "group_name": group_name.strip(),
        "address": address.strip(),
        "phone": _field("phone", clean_mobile, phone),
        "latitude": latitude,
        "longitude": longitude,
    }
    household = Household.objects.select_for_update().filter(pk=household_id).first()
    if household is None:
        household = Household.objects.create(
            id=household_id, village=village, bank_id=village.bank_id, created_by=actor, **values
        )
        return household, True
    if household.bank_id != village.bank_id:
        raise ValidationError({"id": "该农户编号已被占用"})
    changed = _set_changed(household, {"village_id": village.pk, **values})
    if changed:
        household.save(update_fields=[*changed, "updated_at"])
    return household, False


@transaction.atomic
def member_upsert(
    *,
    member_id: uuid.UUID,
    household: Household,
    name: str,
    id_number: str,
    relation: str,
    education: str = "",
    occupation: str = "",
    health: str = "",
    phone: str = "",
) -> tuple[Member, bool]:
    today = business_today()
    number, sex, birth_date = _field("id_number", clean_id_number, id_number, today=today)
    if not name.strip():
        raise ValidationError({"name": "姓名不能为空"})
    if relation not in Member.Relation.values:
        raise ValidationError({"relation": f"未知的与户主关系：{relation}"})
    is_head = relation == Member.Relation.HEAD
    if is_head and age_on(birth_date, today) < MIN_HEAD_AGE:
        raise ValidationError({"id_number": f"户主须年满{MIN_HEAD_AGE}周岁"})

    taken = (
        Member.objects.filter(bank_id=household.bank_id)
        .with_id_number(number)
        .exclude(pk=member_id)
        .exists()
    )
    if taken:
        # Only that it is taken: the other member may live in a village this user cannot see.
        raise ValidationError({"id_number": "该身份证号已登记在本行社其他成员名下"})
    if is_head:
        other_head = Member.objects.filter(household=household, relation=Member.Relation.HEAD)
        if other_head.exclude(pk=member_id).exists():
            raise ValidationError({"relation": "该户已有户主"})

    values = {
        "household_id": household.pk,
        "name": name.strip(),
        "id_number": number,
        "sex": sex,
        "birth_date": birth_date,
        "relation": relation,
        "education": education,
        "occupation": occupation.strip(),
        "health": health,
        "phone": _field("phone", clean_mobile, phone),
    }
    member = Member.objects.select_for_update().filter(pk=member_id).first()
    created = member is None
    changed = []
    if created:
        member = Member.objects.create(id=member_id, bank_id=household.bank_id, **values)
        _household_touch(household.pk)
    else:
        if member.bank_id != household.bank_id:
            raise ValidationError({"id": "该成员编号已被占用"})
        previous_household_id = member.household_id
        changed = _set_changed(member, values)
        if changed:
            member.save(update_fields=[*changed, "updated_at"])
            _household_touch(household.pk, previous_household_id)
    # A head who is corrected to another relation, or moves to another household, no longer
    # heads the old one: it is left without a head until one is named, never pointing at someone
    # who is not its head. ``updated_at`` moves so PADs syncing with ``updated_since`` see it.
    # Only a change of relation or household can do that, so other saves skip the statement.
    if {"relation", "household_id"} & set(changed):
        stale = Household.objects.filter(head_id=member.pk)
        if is_head:
            stale = stale.exclude(pk=household.pk)
        stale.update(head=None, updated_at=timezone.now())
    if is_head and household.head_id != member.pk:
        Household.objects.filter(pk=household.pk).update(head=member)
        household.head = member
    elif not is_head and household.head_id == member.pk:
        household.head = None
    return member, created


# Archive figures and their limits; labels come from the model's verbose names.
ARCHIVE_AREA_FIELDS = ("land_contracted_mu", "land_leased_mu", "housing_area_m2")
ARCHIVE_MONEY_FIELDS = (
    "livestock_value",
    "machinery_value",
    "housing_value",
    "vehicle_value",
    "deposits",
    "income_crops",
    "income_livestock",
    "income_wages",
    "income_business",
    "income_subsidies",
    "income_other",
    "annual_expenses",
    "debt_total",
    "subsidies_annual",
    "business_revenue",
)
ARCHIVE_OTHER_FIELDS = (
    "crops",
    "livestock",
    "machinery",
    "debts",
    "livestock_heads",
    "housing_structure",
    "has_social_security",
    "has_rural_medical_insurance",
    "has_business",
    "business_industry",
    "business_premises",
    "business_employees",
)


def archive_clean_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """Validate archive figures; raise one ValidationError naming every bad field."""
    meta = EconomicArchive._meta
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    unknown = (
        set(figures)
        - set(ARCHIVE_AREA_FIELDS)
        - set(ARCHIVE_MONEY_FIELDS)
        - set(ARCHIVE_OTHER_FIELDS)
    )
    for name in sorted(unknown):
        errors[name] = "未知的档案字段"
    for name in ARCHIVE_AREA_FIELDS + ARCHIVE_MONEY_FIELDS:
        if name not in figures:
            continue
        label = str(meta.get_field(name).verbose_name)
        maximum = MAX_LAND_MU if name.startswith("land_") else Decimal("100000000")
        try:
            cleaned[name] = clean_decimal(figures[name], label=label, maximum=maximum)
        except FieldError as exc:
            errors[name] = exc.message
    for name in ARCHIVE_OTHER_FIELDS:
        if name in figures:
            cleaned[name] = figures[name]
    if cleaned.get("housing_structure", "") not in ("", *EconomicArchive.HousingStructure.values):
        errors["housing_structure"] = "未知的房屋结构"
    if cleaned.get("business_industry", "") not in ("", *EconomicArchive.Industry.values):
        errors["business_industry"] = "未知的经营行业"
    if cleaned.get("has_business") and not cleaned.get("business_industry"):
        errors["business_industry"] = "个体工商户须填写经营行业"
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def archive_upsert(
    *,
    archive_id: uuid.UUID,
    household: Household,
    survey_date: datetime.date,
    figures: dict[str, Any],
    surveyed_by: Staff | None,
) -> tuple[EconomicArchive, bool]:
    if survey_date > business_today():
        raise ValidationError({"survey_date": "调查日期不能晚于今天"})
    # The same floor as the spreadsheet import: an older date is a typo (0026 for 2026).
    if survey_date < EARLIEST_SURVEY:
        raise ValidationError(
            {"survey_date": f"调查日期{survey_date.isoformat()}早于{EARLIEST_SURVEY}，不合理"}
        )
    cleaned = archive_clean_figures(figures)
    archive = EconomicArchive.objects.select_for_update().filter(pk=archive_id).first()
    if archive is not None and archive.household_id != household.pk:
        raise ValidationError({"id": "该档案编号属于另一户"})
    # One archive per household and survey date, for a new archive and for one whose date is
    # corrected onto another archive's (otherwise the unique constraint answers with a 500).
    clash = EconomicArchive.objects.filter(household=household, survey_date=survey_date)
    if clash.exclude(pk=archive_id).exists():
        raise ValidationError({"survey_date": f"该户 {survey_date:%Y-%m-%d} 的档案已存在"})
    if archive is None:
        archive = EconomicArchive.objects.create(
            id=archive_id,
            household=household,
            bank_id=household.bank_id,
            survey_date=survey_date,
            surveyed_by=surveyed_by,
            **cleaned,
        )
        _household_touch(household.pk)
        return archive, True
    changed = _set_changed(archive, {"survey_date": survey_date, **cleaned})
    if changed:
        archive.save(update_fields=[*changed, "updated_at"])
        _household_touch(household.pk)
    return archive, False
