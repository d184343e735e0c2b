"""Divisions, villages and account-manager assignments."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from org.models import Institution, Staff
from org.roles import Role
from villages.models import Division, Village, VillageAssignment


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


def village_create_check(*, division: Division, branch: Institution) -> None:
    """Raise ``ValidationError`` unless ``branch`` may take on ``division`` as a village. Writes
    nothing: the admin form calls it so a refusal shows on the form."""
    if division.level != Division.Level.VILLAGE:
        raise ValidationError({"division": "请选择村级区划"})
    if branch.kind != Institution.Kind.BRANCH:
        raise ValidationError({"branch": "行政村只能由支行管辖"})
    if Village.objects.filter(bank_id=branch.bank_id, division=division).exists():
        raise ValidationError({"division": f"{division.name}已由本行社管辖"})


@transaction.atomic
def village_create(*, division: Division, branch: Institution, name: str = "") -> Village:
    village_create_check(division=division, branch=branch)
    return Village.objects.create(
        division=division, name=name or division.name, branch=branch, bank_id=branch.bank_id
    )


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
