"""Keys of personal data: rotation re-encrypts every stored value (audit trail included) and
lookups keep working; rows written before encryption are encrypted by the migration."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from common import pii
from villages.models import Household, Member


def _first_bytes(table: str, column: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT get_byte({column}, 0) FROM {table} WHERE octet_length({column}) > 0"
        )
        return {row[0] for row in cursor.fetchall()}


def test_rotation_moves_every_value_to_the_new_key(villages, settings):
    member = villages["v1_households"][0].head
    old = settings.PII_ENCRYPTION_KEYS
    new_key = base64.b64encode(os.urandom(64)).decode()
    with override_settings(PII_ENCRYPTION_KEYS=f"9:{new_key},{old}"):
        call_command("pii_rotate", verbosity=0)
        assert _first_bytes("villages_member", "id_number") == {9}
        assert _first_bytes("villages_household", "phone") == {9}
        assert _first_bytes("villages_memberevent", "id_number") == {9}
        assert Member.objects.with_id_number(member.id_number).get().pk == member.pk
        # with the old key gone, everything still opens
        with override_settings(PII_ENCRYPTION_KEYS=f"9:{new_key}"):
            reread = Member.objects.get(pk=member.pk)
            assert reread.id_number == member.id_number
    pii.keyring.cache_clear()


def test_rehash_follows_a_new_hash_key(villages):
    member = villages["v1_households"][0].head
    household = villages["v1_households"][0]
    new_hash_key = base64.b64encode(os.urandom(32)).decode()
    with override_settings(PII_HASH_KEY=new_hash_key):
        assert not Member.objects.with_id_number(member.id_number).exists()  # stale hashes
        call_command("pii_rotate", "--rehash", verbosity=0)
        assert Member.objects.with_id_number(member.id_number).get().pk == member.pk
        assert Household.objects.filter(phone_hash=household.phone).count() == 6  # both banks
    pii.keyring.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_migration_encrypts_rows_written_in_plain_text():
    executor = MigrationExecutor(connection)
    before = [("villages", "0005_campaign_dates_message")]
    after = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    Institution = old_apps.get_model("org", "Institution")
    Division = old_apps.get_model("villages", "Division")
    Village = old_apps.get_model("villages", "Village")
    OldHousehold = old_apps.get_model("villages", "Household")
    OldMember = old_apps.get_model("villages", "Member")
    federation = Institution.objects.create(code="F", name="省联社", kind="federation")
    bank = Institution.objects.create(code="B", name="行", kind="bank", parent=federation)
    division = Division.objects.create(code="141002101201", name="北杜村", level=5)
    village = Village.objects.create(division=division, bank=bank, branch=bank, name="北杜村")
    household = OldHousehold.objects.create(village=village, bank=bank, phone="13912345678")
    OldMember.objects.create(
        household=household,
        bank=bank,
        name="张三",
        id_number="14100219800101203X",
        sex="M",
        birth_date="1980-01-01",
        relation="head",
        phone="13700001111",
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM villages_member")
        stored = b"".join(bytes(value) for value in cursor.fetchone())
    assert b"14100219800101203X" not in stored
    assert b"13700001111" not in stored
    member = Member.objects.with_id_number("14100219800101203X").get()
    assert (member.name, member.phone) == ("张三", "13700001111")
    assert Household.objects.get(phone_hash="13912345678").phone == "13912345678"
