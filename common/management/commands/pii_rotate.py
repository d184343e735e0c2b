"""Re-encrypt personal data under the current key, and optionally re-hash it.

Key rotation, step by step (README, "Personal data"):

1. Put the new key first in ``PII_ENCRYPTION_KEYS`` and keep the old ones after it
   (``"2:<new>,1:<old>"``); restart. New writes use key 2; old rows still open with key 1.
2. ``manage.py pii_rotate``: every encrypted column of every model (audit event tables included)
   is rewritten under key 2, a batch at a time, each batch in its own transaction, so it can run
   while the bank works and be resumed after an interruption.
3. When it reports nothing left under key 1, drop key 1 from the setting.

The keyed hash cannot be rotated by adding a key (lookups need one hash per value): set the new
``PII_HASH_KEY`` in a maintenance window and run ``manage.py pii_rotate --rehash``, which
recomputes every hash from the decrypted value.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from common import pii
from common.audit import audit_context
from common.fields import EncryptedTextField, KeyedHashField

BATCH = 5000


def encrypted_models():
    """(model, encrypted fields, keyed-hash fields) for every model that stores personal data."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            hashes = [f for f in model._meta.concrete_fields if isinstance(f, KeyedHashField)]
            yield model, fields, hashes


def rotate_table(model, fields, hashes, *, rehash: bool) -> int:
    """Rewrite the rows of ``model`` that are under an old key (or all, with ``rehash``)."""
    ring = pii.keyring()
    table = connection.ops.quote_name(model._meta.db_table)
    key = model._meta.pk.column
    columns = [f.column for f in fields]
    stale = " OR ".join(f"(octet_length({c}) > 0 AND get_byte({c}, 0) <> %s)" for c in columns)
    rewritten, last = 0, None
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            where = "TRUE" if rehash else f"({stale})"
            params = [] if rehash else [ring.current] * len(columns)
            if last is not None:
                where += f" AND {key} > %s"
                params.append(last)
            cursor.execute(
                f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE {where}"
                f" ORDER BY {key} LIMIT {BATCH} FOR UPDATE",
                params,
            )
            rows = cursor.fetchall()
            if not rows:
                return rewritten
            last = rows[-1][0]
            for row in rows:
                plain = {
                    f.column: pii.decrypt(value, f.purpose)
                    for f, value in zip(fields, row[1:], strict=True)
                }
                values = [pii.encrypt(plain[f.column], f.purpose) for f in fields]
                targets = list(columns)
                if rehash:
                    for field in hashes:
                        source = model._meta.get_field(field.source)
                        values.append(pii.blind_index(plain[source.column], field.purpose))
                        targets.append(field.column)
                assignments = ", ".join(f"{c} = %s" for c in targets)
                cursor.execute(
                    f"UPDATE {table} SET {assignments} WHERE {key} = %s", [*values, row[0]]
                )
            rewritten += len(rows)


class Command(BaseCommand):
    help = "把加密的身份证号、手机号改用当前密钥重新加密；--rehash 同时按新哈希密钥重算哈希"

    def add_arguments(self, parser):
        parser.add_argument("--rehash", action="store_true", help="按当前 PII_HASH_KEY 重算哈希")

    def handle(self, *args, rehash: bool = False, **options):
        total = 0
        for model, fields, hashes in encrypted_models():
            # The rewrite shows in each row's history as the rotation's, not as a person's edit.
            with audit_context(command="pii_rotate"):
                count = rotate_table(model, fields, hashes, rehash=rehash)
            total += count
            self.stdout.write(
                f"{model._meta.verbose_name}（{model._meta.db_table}）：重写 {count} 行"
            )
        self.stdout.write(self.style.SUCCESS(f"完成：共重写 {total} 行"))
