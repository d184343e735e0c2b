"""A bad environment stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Parsed but never connected to: settings import must fail before any connection is tried.
SAFE_DB = "postgres://postgres@127.0.0.1:5432/settings_probe"


def load_settings(**env):
    full_env = {**os.environ, "DATABASE_URL": SAFE_DB, **env}
    for name in (
        "APP_PROFILE",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DEBUG",
        "BUSINESS_TZ",
        "CELERY_BROKER_URL",
        "PII_ENCRYPTION_KEYS",
        "PII_HASH_KEY",
    ):
        if name not in env:
            full_env.pop(name, None)
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "ture"}, "DEBUG"),
        ({"DATABASE_URL": "mysql://root@localhost/credit"}, "DATABASE_URL"),
        ({"DATABASE_URL": "just-a-hostname"}, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "ftp://queue"}, "CELERY_BROKER_URL"),
        ({"BUSINESS_TZ": "Asia/Beijing"}, "BUSINESS_TZ"),
        ({"APP_PROFILE": "staging"}, "APP_PROFILE"),
        ({"APP_PROFILE": "production", "ALLOWED_HOSTS": "credit.example.cn"}, "SECRET_KEY"),
        ({"APP_PROFILE": "production", "SECRET_KEY": "x" * 60}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS"),
        ({"PII_ENCRYPTION_KEYS": "not-a-key"}, "PII_ENCRYPTION_KEYS"),
        ({"PII_ENCRYPTION_KEYS": "1:c2hvcnQ="}, "PII_ENCRYPTION_KEYS"),  # 5 bytes
        (
            {
                "APP_PROFILE": "production",
                "SECRET_KEY": "x" * 60,
                "ALLOWED_HOSTS": "credit.example.cn",
            },
            "PII_ENCRYPTION_KEYS",
        ),
    ],
)
def test_bad_value_fails_loudly_naming_the_variable(env, named):
    result = load_settings(**env)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert named in last_line


def test_good_values_load():
    result = load_settings(
        DEBUG="off", BUSINESS_TZ="Asia/Urumqi", CELERY_BROKER_URL="redis://127.0.0.1:6379/3"
    )
    assert result.returncode == 0, result.stderr


def test_production_profile_passes_check_deploy():
    env = {
        **os.environ,
        "APP_PROFILE": "production",
        "SECRET_KEY": "k3y-" + "v9Qm2Lr8Tz4Wx7Ny1Pb6Hs3Jd5Fg0Ka2Uc8Ve4Yi1Oq7" * 2,
        "ALLOWED_HOSTS": "credit.example.cn",
        "DATABASE_URL": SAFE_DB,
        "PII_ENCRYPTION_KEYS": "1:" + "a2V5" * 16,  # 48 bytes
        "PII_HASH_KEY": "aGFzaC1rZXktZm9yLXRoZS1zZXR0aW5ncy10ZXN0ISE=",
    }
    env.pop("DEBUG", None)

    def check(**extra):
        return subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    # The external data sources still answer from the sandbox: production says so.
    sandbox = check()
    assert sandbox.returncode != 0
    assert "risk.W101" in sandbox.stdout + sandbox.stderr
    assert "lending.W202" in sandbox.stdout + sandbox.stderr
    result = check(RISK_SANDBOX_PROVIDERS_ACCEPTED="true", CONTRACT_SANDBOX_ACCEPTED="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
