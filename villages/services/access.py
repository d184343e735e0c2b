"""Reveals of full ID numbers and phones: each one is recorded before anything is shown."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from villages.models import Household, Member, PersonalDataAccess

REVEAL_PERMISSION = "villages.reveal_identity"
# What the PAD's household detail is for when the tablet sends no reason of its own.
DEFAULT_API_REASON = "客户经理核对农户身份信息"


def may_reveal_identity(user) -> bool:
    """Whether ``user``'s roles include the identity permission (account managers, reviewers,
    approvers). Federation staff, administrators and risk officers see masks only."""
    return bool(user and user.is_authenticated and user.has_perm(REVEAL_PERMISSION))


@transaction.atomic
def personal_data_reveal(
    *,
    user,
    household: Household,
    members: list[Member] | tuple[Member, ...] = (),
    fields: str,
    reason: str,
    channel: str,
    path: str = "",
) -> PersonalDataAccess:
    """Record that ``user`` is shown ``fields`` of ``household`` (and ``members``) in full.

    Refused for a user without the identity permission, and without a reason."""
    if not may_reveal_identity(user):
        raise PermissionDenied("您的角色无权查看完整身份证号和手机号")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "请填写查看事由"})
    if len(reason) > 200:
        raise ValidationError({"reason": "查看事由不能超过200字"})
    return PersonalDataAccess.objects.create(
        bank_id=household.bank_id,
        user=user,
        household_id=household.pk,
        member_ids=[str(member.pk) for member in members],
        fields=fields,
        reason=reason,
        channel=channel,
        path=path[:200],
    )
