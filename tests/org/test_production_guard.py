"""The production profile refuses what only development may have: DEBUG, a development secret
key, demo logins, the demo seeder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command

from config.secret_key import development_secret_key

ROOT = Path(__file__).resolve().parents[2]
REAL_KEY = "k3y-" + "v9Qm2Lr8Tz4Wx7Ny1Pb6Hs3Jd5Fg0Ka2Uc8Ve4Yi1Oq7" * 2


def project_errors(**kwargs) -> set[str]:
    return {e.id for e in run_checks(**kwargs) if e.id and e.id.startswith("org.")}


@pytest.fixture
def production(settings):
    settings.PRODUCTION = True
    settings.DEBUG = False
    settings.SECRET_KEY = REAL_KEY
    return settings


def test_clean_production_settings_pass(production, db):
    assert project_errors(databases=["default"]) == set()


def test_debug_in_production_is_an_error(production):
    production.DEBUG = True
    assert project_errors() == {"org.E001"}


@pytest.mark.parametrize(
    "key",
    [
        "development-only-secret-key-not-for-production-use-0123",
        "development-insecure-" + "x" * 60,
        "django-insecure-" + "y" * 60,
    ],
)
def test_a_development_secret_key_in_production_is_an_error(production, key):
    production.SECRET_KEY = key
    assert project_errors() == {"org.E002"}


def test_demo_logins_in_production_are_an_error(production, province):
    errors = [e for e in run_checks(databases=["default"]) if e.id == "org.E003"]
    assert len(errors) == 1
    assert "b1_admin" in errors[0].msg
    assert "生产数据库中存在 25 个演示账号" in errors[0].msg  # seed_org: 1 + 2 × 12


def test_checks_are_silent_in_development(settings, province):
    settings.PRODUCTION = False
    settings.DEBUG = True
    assert project_errors(databases=["default"]) == set()


def test_seed_demo_refuses_in_production(production, db):
    with pytest.raises(CommandError, match="生产环境不能运行 seed_demo"):
        call_command("seed_demo", verbosity=0)
    assert not get_user_model().objects.exists()


def test_development_secret_key_is_random_kept_and_private(tmp_path):
    path = tmp_path / "var" / "secret_key"
    first = development_secret_key(path)
    again = development_secret_key(path)
    other = development_secret_key(tmp_path / "elsewhere" / "secret_key")

    assert first == again
    assert first != other
    assert len(first) > 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_development_settings_never_use_the_old_fixed_key():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "APP_PROFILE")}
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/settings_probe"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; import config.settings as s;print(s.SECRET_KEY)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("development-insecure-")
    assert key == (ROOT / "var" / "secret_key").read_text().strip()


def test_make_run_binds_to_localhost_only():
    makefile = (ROOT / "Makefile").read_text()
    assert "runserver 127.0.0.1:$(PORT)" in makefile
    assert "0.0.0.0" not in makefile
