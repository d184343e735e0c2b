"""Divisions, villages and account-manager assignments."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from org.models import Institution, Staff
from org.roles import Role
from villages.counties import county_code, county_codes_served, county_names
from villages.divisions_data import DivisionDataError, DivisionRow
from villages.models import Division, Village, VillageAssignment

_DIVISION_LOAD_LOCK = 7302  # pg_advisory_xact_lock(namespace): "loading divisions"


@transaction.atomic
def division_create(
    *, code: str, name: str, level: int, parent: Division | None = None
) -> Division:
    code = code.strip()
    errors = Division.code_errors(code, level, parent)
    if errors:
        raise ValidationError({"code": errors})
    if Division.objects.filter(code=code).exists():
        raise ValidationError({"code": f"区划代码 {code} 已存在"})
    return Division.objects.create(code=code, name=name.strip(), level=level, parent=parent)


@transaction.atomic
def division_update(*, division: Division, name: str) -> Division:
    """Rename a division. Its code, level and parent are the statistics bureau's and stay."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "请填写名称"})
    if name != division.name:
        division.name = name
        division.save(update_fields=["name"])
    return division


@dataclass(frozen=True)
class DivisionLoadResult:
    staged: int
    created: int
    updated: int


@transaction.atomic
def divisions_load(
    *, rows: Iterable[DivisionRow], progress: Callable[[str], None] | None = None
) -> DivisionLoadResult:
    """Make the division table hold ``rows`` (parents before children), set-based.

    COPY into a temporary table, then per level one INSERT of the codes not yet there (parents
    resolved by a join, so each level's parents were written by the statement before) and one
    UPDATE of the rows whose name, level or parent differ. A second run with the same rows
    writes nothing. Divisions absent from ``rows`` stay: villages refer to them, and a code the
    bureau retires keeps its history.

    ``Division`` is not ``@audited``: it is the bureau's reference data and the pinned package
    version records where every row came from, so there are no audit events to write.
    """
    say = progress or (lambda message: None)
    buffer = io.StringIO()
    staged = 0
    for row in rows:
        # Names hold no control characters (divisions_data); a backslash is COPY's escape.
        name = row.name.replace("\\", "\\\\")
        parent = row.parent_code or r"\N"
        buffer.write(f"{row.code}\t{name}\t{row.level}\t{parent}\n")
        staged += 1
    buffer.seek(0)
    table = connection.ops.quote_name(Division._meta.db_table)
    with connection.cursor() as cursor:
        # Two loads at once would race to insert the same codes.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DIVISION_LOAD_LOCK])
        cursor.execute("DROP TABLE IF EXISTS pg_temp.division_load")
        cursor.execute(
            "CREATE TEMP TABLE division_load (code text PRIMARY KEY, name text NOT NULL,"
            " level smallint NOT NULL, parent_code text) ON COMMIT DROP"
        )
        say(f"暂存 {staged:,} 个区划")
        cursor.copy_expert("COPY division_load (code, name, level, parent_code) FROM STDIN", buffer)
        cursor.execute("ANALYZE division_load")
        cursor.execute(
            f"SELECT s.code, s.parent_code FROM division_load s WHERE s.parent_code IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM division_load p WHERE p.code = s.parent_code)"
            f" AND NOT EXISTS (SELECT 1 FROM {table} p WHERE p.code = s.parent_code)"
            f" ORDER BY s.code LIMIT 5"
        )
        orphans = cursor.fetchall()
        if orphans:
            raise DivisionDataError(
                "以下区划的上级区划不存在："
                + "、".join(f"{code}（上级 {parent}）" for code, parent in orphans)
            )
        created = updated = 0
        for level in Division.Level:
            cursor.execute(
                f"INSERT INTO {table} (code, name, level, parent_id)"
                f" SELECT s.code, s.name, s.level, p.id FROM division_load s"
                f" LEFT JOIN {table} p ON p.code = s.parent_code"
                f" WHERE s.level = %s AND NOT EXISTS (SELECT 1 FROM {table} d WHERE d.code = s.code)"
                f" ORDER BY s.code",
                [level.value],
            )
            created += cursor.rowcount
            cursor.execute(
                f"UPDATE {table} d SET name = s.name, level = s.level, parent_id = p.id"
                f" FROM division_load s LEFT JOIN {table} p ON p.code = s.parent_code"
                f" WHERE s.level = %s AND d.code = s.code"
                f" AND (d.name, d.level, d.parent_id) IS DISTINCT FROM (s.name, s.level, p.id)",
                [level.value],
            )
            updated += cursor.rowcount
            say(f"{level.label}级：累计新增 {created:,}，更新 {updated:,}")
        cursor.execute("DROP TABLE pg_temp.division_load")
    return DivisionLoadResult(staged=staged, created=created, updated=updated)


def village_create_check(
    *, division: Division, branch: Institution, within_served_counties: bool = False
) -> None:
    """Raise ``ValidationError`` unless ``branch`` may take on ``division`` as a village. Writes
    nothing: the admin form calls it so a refusal shows on the form.

    A village belongs to one bank. With ``within_served_counties`` (a bank's own staff taking
    on a village) it must also lie in a county where the bank already serves villages
    (``villages.counties``); operations and the demo pass without it.
    """
    if division.level != Division.Level.VILLAGE:
        raise ValidationError({"division": "请选择村级区划"})
    if branch.kind != Institution.Kind.BRANCH:
        raise ValidationError({"branch": "行政村只能由支行管辖"})
    holders = Village.objects.filter(division=division).values_list("bank_id", flat=True)
    if branch.bank_id in holders:
        raise ValidationError({"division": f"{division.name}已由本行社管辖"})
    if holders:
        # Not which bank: that is the other bank's business.
        raise ValidationError({"division": f"{division.name}已由其他法人行社管辖"})
    if within_served_counties:
        served = county_codes_served(branch.bank_id)
        if not served:
            raise ValidationError(
                {
                    "division": "本行社尚无管辖的行政村，无法确定所在县(区)；首个行政村请联系运维人员添加"
                }
            )
        if county_code(division) not in served:
            names = "、".join(county_names(served).values())
            raise ValidationError(
                {"division": f"{division.name}不在本行社所在的县(区)（{names}），不能接管"}
            )


@transaction.atomic
def village_create(
    *,
    division: Division,
    branch: Institution,
    name: str = "",
    within_served_counties: bool = False,
) -> Village:
    # The division's row lock makes two banks taking on the same village one after the other.
    Division.objects.select_for_update().filter(pk=division.pk).exists()
    village_create_check(
        division=division, branch=branch, within_served_counties=within_served_counties
    )
    return Village.objects.create(
        division=division, name=name.strip() or division.name, branch=branch, bank_id=branch.bank_id
    )


@transaction.atomic
def village_update(*, village: Village, name: str, is_credit_village: bool) -> Village:
    """Rename a village or mark it a credit village (信用村). Its division, branch and bank are
    fixed once taken on."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "请填写村名"})
    village.name, village.is_credit_village = name, is_credit_village
    village.save(update_fields=["name", "is_credit_village", "updated_at"])
    return village


def village_assignment_check(*, village: Village, account_manager: Staff) -> None:
    """Raise ``ValidationError`` unless ``account_manager`` may serve ``village``. Writes nothing:
    the admin form calls it so a refusal shows on the form instead of after a save."""
    if account_manager.bank_id != village.bank_id:
        raise ValidationError({"account_manager": "只能指派本行社的客户经理"})
    if not account_manager.user.groups.filter(name=Role.ACCOUNT_MANAGER.label).exists():
        raise ValidationError({"account_manager": f"{account_manager.full_name}不是客户经理"})


@transaction.atomic
def village_assign(
    *, village: Village, account_manager: Staff, assigned_by: Staff | None = None
) -> VillageAssignment:
    """Make ``account_manager`` serve ``village``; assigning twice is a no-op."""
    village_assignment_check(village=village, account_manager=account_manager)
    current = VillageAssignment.objects.current().filter(
        village=village, account_manager=account_manager
    )
    existing = current.first()
    if existing is not None:
        return existing
    return VillageAssignment.objects.create(
        village=village,
        account_manager=account_manager,
        started_at=timezone.now(),
        assigned_by=assigned_by,
    )


@transaction.atomic
def village_unassign(*, village: Village, account_manager: Staff) -> int:
    """End the current assignment; the row stays as history."""
    return (
        VillageAssignment.objects.current()
        .filter(village=village, account_manager=account_manager)
        .update(ended_at=timezone.now())
    )
