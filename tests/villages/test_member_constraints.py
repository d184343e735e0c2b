"""The database refuses an ID number written in the clear around the services."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from villages.models import Member


@pytest.mark.parametrize("column", ["id_number", "id_number_hash"])
def test_plain_id_number_written_with_sql_is_refused(villages, column):
    member = Member.objects.filter(household__bank__code="SXRCU-YD").first()
    with (
        pytest.raises(IntegrityError, match="member_id_number_encrypted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE villages_member SET {column} = convert_to(%s, 'UTF8') WHERE id = %s",
            ["11010119800101001X", member.pk],
        )


def test_rows_hold_no_plain_id_number_or_phone(villages):
    household = villages["v1_households"][0]
    member = household.head
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, id_number_hash FROM villages_member WHERE id = %s", [member.pk]
        )
        stored_member = b"".join(bytes(value) for value in cursor.fetchone())
        cursor.execute(
            "SELECT phone, phone_hash FROM villages_household WHERE id = %s", [household.pk]
        )
        stored_household = b"".join(bytes(value) for value in cursor.fetchone())
        cursor.execute("SELECT id_number::text FROM villages_memberevent")
        events = " ".join(row[0] for row in cursor.fetchall())
    assert len(member.id_number) == 18
    assert member.id_number.encode() not in stored_member
    assert household.phone.startswith("1")
    assert household.phone.encode() not in stored_household
    assert member.id_number.encode().hex() not in events  # the audit trail is encrypted too
    assert Member.objects.with_id_number(member.id_number).get() == member
