"""The development secret key: random, made once per checkout, kept in ``var/secret_key``.

A fixed key in the source would sign every checkout's sessions and password-reset links with the
same secret; a key made at each start would log everyone out on every reload. The production
profile never calls this (``SECRET_KEY`` is required there) and its system check refuses a key
carrying :data:`DEVELOPMENT_KEY_PREFIX`, so a copied development key is caught.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEVELOPMENT_KEY_PREFIX = "development-insecure-"
# Keys that once shipped in the source or in Django's project template: never acceptable in
# production.
KNOWN_DEVELOPMENT_KEYS = frozenset({"development-only-secret-key-not-for-production-use-0123"})


def is_development_key(key: str) -> bool:
    return (
        key in KNOWN_DEVELOPMENT_KEYS
        or key.startswith(DEVELOPMENT_KEY_PREFIX)
        or key.startswith("django-insecure-")
    )


def development_secret_key(path: Path) -> str:
    """The key stored at ``path``, created (mode 0600) if absent.

    ``runserver`` starts two processes at once (the autoreloader and its child); the file is
    created exclusively and then linked into place, so the loser of a race reads the winner's key
    instead of overwriting it.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = DEVELOPMENT_KEY_PREFIX + secrets.token_urlsafe(48)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink()
    return path.read_text().strip()
