"""Authentication for the API and permission lookups, each read in as few queries as a busy
tablet fleet needs: every API request authenticates and checks a permission or two.

- :class:`DeviceTokenAuthentication` is knox's token check with the user's staff record read in
  the same query (the tenancy scope needs it on every request) and without knox's scan of all
  the user's other tokens on every request; expired tokens are deleted nightly instead
  (``device_tokens_purge_expired``, schedule 清理过期设备令牌). A token past its expiry is
  still refused and deleted when presented.
- :class:`PermissionBackend` is Django's ``ModelBackend`` reading a user's own and group
  permissions in one query instead of two (still once per request: a revoked permission takes
  effect on the next request, no cache outlives it).
"""

from __future__ import annotations

import binascii
from hmac import compare_digest

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions

from org.models import DeviceToken


def require_permission(actor, permission: str, doing: str) -> None:
    """What every service checks before a transition: staff need the permission; ``None`` is
    the system (nightly jobs, the strategy) or a borrower's own self-service channel, checked by
    the API instead."""
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(f"没有{doing}的权限")


class DeviceTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        message = "令牌无效 (invalid token)"
        token = token.decode("utf-8")
        candidates = DeviceToken.objects.filter(
            token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH]
        ).select_related("user", "user__staff")
        for auth_token in candidates:
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username, source="auth_token")
                continue
            try:
                digest = hash_token(token)
            except (TypeError, binascii.Error) as error:
                raise exceptions.AuthenticationFailed(message) from error
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(message)


class PermissionBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                permissions = Permission.objects.all()
            else:
                own = Permission.user_set.through.objects.filter(user_id=user_obj.pk)
                groups = user_obj.groups.through.objects.filter(user_id=user_obj.pk)
                grouped = Permission.group_set.through.objects.filter(
                    group_id__in=groups.values("group_id")
                )
                permissions = Permission.objects.filter(
                    Q(pk__in=own.values("permission_id"))
                    | Q(pk__in=grouped.values("permission_id"))
                ).order_by()
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in permissions.values_list(
                    "content_type__app_label", "codename"
                )
            }
        return user_obj._perm_cache


class DeviceTokenScheme(KnoxTokenScheme):
    """The API schema describes the device token as knox's (``Authorization: Token …``)."""

    target_class = DeviceTokenAuthentication
