"""Writes for institutions, staff and device tokens. Admin, API, commands and tests call these."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from knox.settings import knox_settings

from org.models import DeviceToken, Institution, LoginLockout, Staff
from org.roles import Role, role_groups

User = get_user_model()
logger = logging.getLogger(__name__)

# Which kinds may hang under which: the federation has banks; a bank has branches and centres.
_ALLOWED_PARENT = {
    Institution.Kind.BANK: {Institution.Kind.FEDERATION},
    Institution.Kind.BRANCH: {Institution.Kind.BANK},
    Institution.Kind.REVIEW_CENTRE: {Institution.Kind.BANK},
    Institution.Kind.APPROVAL_CENTRE: {Institution.Kind.BANK},
}


def institution_check_parent(kind: str, parent: Institution | None) -> None:
    if kind == Institution.Kind.FEDERATION:
        if parent is not None:
            raise ValidationError({"parent": "省联社是最上级机构，不能有上级机构"})
        return
    if parent is None:
        raise ValidationError({"parent": "请选择上级机构"})
    allowed = _ALLOWED_PARENT[Institution.Kind(kind)]
    if parent.kind not in allowed:
        names = "、".join(Institution.Kind(k).label for k in allowed)
        raise ValidationError(
            {
                "parent": f"{Institution.Kind(kind).label}的上级机构必须是{names}，不能是{parent.get_kind_display()}"
            }
        )


@transaction.atomic
def institution_create(
    *,
    code: str,
    name: str,
    kind: str,
    parent: Institution | None = None,
    address: str = "",
    phone: str = "",
) -> Institution:
    code = code.strip()
    if Institution.objects.filter(code=code).exists():
        raise ValidationError({"code": f"机构代码 {code} 已存在"})
    institution_check_parent(kind, parent)
    institution = Institution.objects.create(
        code=code,
        name=name.strip(),
        kind=kind,
        parent=parent,
        bank=parent.bank if parent is not None and kind != Institution.Kind.BANK else None,
        address=address,
        phone=phone,
    )
    if kind == Institution.Kind.BANK:
        # A bank is its own tenant; its id is known only after the insert.
        Institution.objects.filter(pk=institution.pk).update(bank=institution)
        institution.bank = institution
    return institution


@transaction.atomic
def institution_update(
    *, institution: Institution, name: str, address: str, phone: str, is_active: bool
) -> Institution:
    """Kind and parent are fixed after creation: moving a branch would move its loans' tenant."""
    institution = Institution.objects.select_for_update().get(pk=institution.pk)
    institution.name = name.strip()
    institution.address = address
    institution.phone = phone
    institution.is_active = is_active
    institution.save(update_fields=["name", "address", "phone", "is_active", "updated_at"])
    return institution


@transaction.atomic
def staff_create(
    *,
    username: str,
    password: str | None,
    full_name: str,
    institution: Institution,
    employee_no: str,
    phone: str = "",
    roles: list[Role] | tuple[Role, ...] = (),
    must_change_password: bool = False,
) -> Staff:
    """A staff member and their login. ``must_change_password`` is for a password an
    administrator chose (admin 员工 → 新增): its holder must replace it at first sign-in."""
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"登录名 {username} 已被使用"})
    if Staff.objects.filter(institution=institution, employee_no=employee_no).exists():
        raise ValidationError({"employee_no": f"工号 {employee_no} 在{institution.name}已存在"})
    staff_check_roles(roles, institution)
    user = User(username=username, is_staff=True, first_name=full_name)
    if password:
        password_check(password=password, user=user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.groups.set(role_groups(roles))
    return Staff.objects.create(
        user=user,
        full_name=full_name,
        institution=institution,
        bank=institution.bank,
        employee_no=employee_no,
        phone=phone,
        must_change_password=bool(password) and must_change_password,
    )


def password_check(*, password: str, user=None, field: str = "password") -> None:
    """Django's password validators (AUTH_PASSWORD_VALIDATORS), their messages under ``field``.

    Every path that sets a password calls this first, so a weak one is refused before anything
    is written. ``user`` may be unsaved: the similarity check needs only its names.
    """
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


@transaction.atomic
def user_password_change(*, user, new_password: str) -> None:
    """The holder replaces their own password; a forced change is then satisfied."""
    password_check(password=new_password, user=user, field="new_password2")
    if user.check_password(new_password):
        raise ValidationError({"new_password2": "新密码不能与原密码相同"})
    user.set_password(new_password)
    user.save(update_fields=["password"])
    Staff.objects.filter(user=user, must_change_password=True).update(
        must_change_password=False, updated_at=timezone.now()
    )


@transaction.atomic
def user_password_reset(*, user, new_password: str) -> None:
    """An administrator sets someone's password. The administrator now knows it, so its holder
    must change it at next sign-in, and the tablets signed in under the old one are signed out."""
    password_check(password=new_password, user=user, field="password1")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    Staff.objects.filter(user=user).update(must_change_password=True, updated_at=timezone.now())
    DeviceToken.objects.filter(user=user).delete()


def login_lockouts_reset(*, lockouts, reset_by) -> int:
    """Lift login locks (django-axes' failure counts) chosen by an administrator."""
    rows = list(lockouts.values_list("username", "ip_address"))
    deleted, _ = LoginLockout.objects.filter(pk__in=lockouts.values("pk")).delete()
    for username, ip_address in rows:
        logger.info("login lock lifted by %s: %s from %s", reset_by, username, ip_address)
    return deleted


def staff_check_roles(roles, institution: Institution) -> None:
    is_federation = institution.kind == Institution.Kind.FEDERATION
    for role in roles:
        if (role == Role.FEDERATION_ADMIN) != is_federation:
            if is_federation:
                raise ValidationError({"roles": f"省联社员工不能担任{role.label}"})
            raise ValidationError({"roles": "只有省联社员工可以担任省联社管理员"})


@transaction.atomic
def staff_update(
    *,
    staff: Staff,
    full_name: str,
    institution: Institution,
    phone: str,
    is_active: bool,
    roles: list[Role] | None = None,
) -> Staff:
    staff = Staff.objects.select_for_update(of=("self",)).select_related("user").get(pk=staff.pk)
    if institution.bank_id != staff.bank_id:
        raise ValidationError({"institution": "员工只能在本法人行社内调动"})
    staff.full_name = full_name
    staff.institution = institution
    staff.phone = phone
    staff.is_active = is_active
    staff.save(update_fields=["full_name", "institution", "phone", "is_active", "updated_at"])
    staff.user.is_active = is_active
    staff.user.save(update_fields=["is_active"])
    if roles is not None:
        staff_check_roles(roles, institution)
        staff.user.groups.set(role_groups(roles))
    if not is_active:
        # A staff member who leaves loses every tablet session at once.
        DeviceToken.objects.filter(user=staff.user).delete()
    return staff


@transaction.atomic
def device_token_issue(*, user, device_id: str, device_name: str = "") -> tuple[DeviceToken, str]:
    """Log a tablet in: one token per (user, device); a new login replaces the old token."""
    DeviceToken.objects.filter(user=user, device_id=device_id).delete()
    instance, token = DeviceToken.objects.create(
        user=user,
        expiry=min(knox_settings.TOKEN_TTL, settings.DEVICE_TOKEN_MAX_AGE),
        device_id=device_id,
        device_name=device_name,
    )
    Staff.objects.filter(user=user).update(last_seen_at=timezone.now())
    return instance, token


def device_tokens_revoke_all(*, user) -> int:
    deleted, _ = DeviceToken.objects.filter(user=user).delete()
    return deleted


def device_tokens_purge_expired() -> int:
    """Delete tablet tokens past their expiry (nightly: the API no longer scans a user's other
    tokens on every request, see ``org.auth``); the number deleted."""
    deleted, _ = DeviceToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted
