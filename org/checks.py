"""System checks for the production profile: no DEBUG, no development key, no demo logins.

They run on every ``manage.py`` command that runs checks (``check``, ``migrate``, ``runserver``)
and stop it with an Error when ``settings.PRODUCTION`` is true; in development they are silent.
The demo-login check reads the database, so like Django's own database checks it runs only when
databases are given: ``migrate`` and ``check --database default``.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import Error, register
from django.db import DatabaseError

from config.secret_key import is_development_key

# seed_demo's logins (org.demo, products.demo, risk.demo, villages.demo): the federation's, each
# demo bank's by role, and the peer-review villagers. Their password is published in the README.
DEMO_USERNAME = re.compile(
    r"^(fed_(admin|checker|modeller)"
    r"|b\d+_(admin|risk|central|approver|am\d+|reviewer\d+)"
    r"|pr_\d{3}_\d+)$"
)


@register()
def production_settings_check(app_configs=None, **kwargs) -> list[Error]:
    if not settings.PRODUCTION:
        return []
    errors = []
    if settings.DEBUG:
        errors.append(
            Error(
                "生产环境不能开启 DEBUG (DEBUG is on in the production profile)",
                hint="Unset DEBUG or set DEBUG=off.",
                id="org.E001",
            )
        )
    if is_development_key(settings.SECRET_KEY):
        errors.append(
            Error(
                "生产环境使用了开发用密钥 (SECRET_KEY is a development key)",
                hint="Set SECRET_KEY to a long random value of its own, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(64))'.",
                id="org.E002",
            )
        )
    return errors


@register()
def production_demo_logins_check(app_configs=None, databases=None, **kwargs) -> list[Error]:
    if not settings.PRODUCTION or not databases:
        return []
    try:
        usernames = [
            name
            for name in get_user_model()
            .objects.filter(username__regex=DEMO_USERNAME.pattern)
            .values_list("username", flat=True)
            if DEMO_USERNAME.match(name)
        ]
    except DatabaseError:
        # Before the first migrate there is no user table, hence no demo login either.
        return []
    if not usernames:
        return []
    return [
        Error(
            f"生产数据库中存在 {len(usernames)} 个演示账号 "
            f"({len(usernames)} demo logins in the production database): "
            f"{', '.join(sorted(usernames)[:10])}{' …' if len(usernames) > 10 else ''}",
            hint="Their password is published in the README. Delete these logins "
            "(admin → 用户) or, if they are real people, rename them.",
            id="org.E003",
        )
    ]
