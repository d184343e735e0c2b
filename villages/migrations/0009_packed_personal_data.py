"""ID numbers and mobile numbers move to the packed form of ``common.pii`` (one AES block each,
so a whole column is encrypted and hashed in one call): every encrypted column of every model —
audit event tables included — is decrypted and written again, and its lookup hashes recomputed.
Values that are not canonical (a landline) come out as they were. Backwards, every value goes
back to AES-SIV and keyed BLAKE2b.

Login codes (``EvaluatorLoginCode``) keep only a hash of the phone they were sent to, not the
phone: a code sent before this migration no longer matches and the villager asks for a new one
(codes live for minutes)."""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

from common import pii
from common.fields import EncryptedTextField, KeyedHashField

BATCH = 5000


def pack(apps, schema_editor):
    _rewrite(apps, schema_editor.connection, pii.encrypt, pii.blind_index)


def unpack(apps, schema_editor):
    _rewrite(apps, schema_editor.connection, pii.encrypt_general, pii.blind_index_general)


def _tables(apps):
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        encrypted = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not encrypted:
            continue
        by_name = {f.name: f for f in encrypted}
        hashes = [
            (f.column, by_name[f.source].column, f.purpose)
            for f in model._meta.concrete_fields
            if isinstance(f, KeyedHashField) and f.source in by_name
        ]
        yield model, [(f.column, f.purpose) for f in encrypted], hashes


def _rewrite(apps, connection, encrypt, blind_index):
    tables = list(_tables(apps))
    names = [model._meta.db_table for model, _, _ in tables]
    with connection.cursor() as cursor:
        # A change of storage is no change of anybody's data: the audit triggers stand aside.
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND t.tgname LIKE 'pgtrigger_%%' AND c.relname = ANY(%s)",
            [names],
        )
        triggers = [
            name for table, trigger in cursor.fetchall() for name in (trigger, f"{table}:{trigger}")
        ]
        cursor.execute(
            "SELECT set_config('pgtrigger.ignore', %s, true)", ["{" + ",".join(triggers) + "}"]
        )
    for model, columns, hashes in tables:
        table = model._meta.db_table
        key = model._meta.pk.column
        cast = "::" + model._meta.pk.db_type(connection)
        selected = [column for column, _ in columns]
        targets = selected + [column for column, _, _ in hashes]
        last = None
        while True:
            with connection.cursor() as cursor:
                where = "" if last is None else f"WHERE {key} > %s"
                cursor.execute(
                    f"SELECT {key}, {', '.join(selected)} FROM {table} {where}"
                    f" ORDER BY {key} LIMIT {BATCH}",
                    [] if last is None else [last],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                updates = []
                for row in rows:
                    plain = {
                        column: pii.decrypt(value, purpose)
                        for (column, purpose), value in zip(columns, row[1:], strict=True)
                    }
                    values = [encrypt(plain[column], purpose) for column, purpose in columns]
                    values += [blind_index(plain[source], purpose) for _, source, purpose in hashes]
                    updates.append((row[0], *values))
                assignments = ", ".join(f"{c} = v.{c}" for c in targets)
                placeholders = ", ".join(
                    ["(" + ", ".join(["%s"] * (len(targets) + 1)) + ")"] * len(updates)
                )
                cursor.execute(
                    f"UPDATE {table} t SET {assignments} FROM (VALUES {placeholders})"
                    f" AS v(k, {', '.join(targets)}) WHERE t.{key} = v.k{cast}",
                    [value for update in updates for value in update],
                )
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")
        # Deferred foreign-key checks queued by the updates run now: the constraint added next
        # alters the table, which PostgreSQL refuses while trigger events are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0004_staff_must_change_password_login_lockout"),
        ("common", "0002_sandbox_sms_message"),
        ("villages", "0008_peer_review_evaluator_logins"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="member",
            name="member_id_number_encrypted",
        ),
        migrations.RunPython(pack, unpack, elidable=False),
        migrations.AddConstraint(
            model_name="member",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    django.db.models.lookups.Exact(
                        django.db.models.functions.text.Length("id_number"), 17
                    ),
                    django.db.models.lookups.Exact(
                        django.db.models.functions.text.Length("id_number_hash"), 16
                    ),
                ),
                name="member_id_number_encrypted",
            ),
        ),
    ]
