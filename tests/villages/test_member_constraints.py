"""The database refuses an ID number of the wrong shape, whatever wrote it."""

from __future__ import annotations

import re

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from villages.models import Member

SHAPE = re.compile(r"[0-9]{17}[0-9X]")
CANDIDATES = [
    "11010119800101001X",
    "110101198001010011",
    "11010119800101001x",  # lower-case x
    "1101011980010100X1",  # X before the end
    "X10101198001010011",
    "11010119800101001",  # 17 characters
    "1101011980010100111",  # 19: the column is 18 wide
    "",
    "X",
    "１１０１０１１９８００１０１００１X",  # full-width digits
    "11010119800101 01X",
    "1101011980010100XX",
]


def _set_id_number(member: Member, id_number: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Member._meta.db_table} SET id_number = %s WHERE id = %s",
            [id_number, member.pk],
        )
        transaction.set_rollback(True)


@pytest.mark.parametrize("id_number", CANDIDATES)
def test_constraint_accepts_exactly_the_shape(villages, id_number):
    member = Member.objects.filter(household__bank__code="SXRCU-YD").first()
    if SHAPE.fullmatch(id_number):
        _set_id_number(member, id_number)
    elif len(id_number) > 18:
        with pytest.raises(DataError):  # the column is 18 wide
            _set_id_number(member, id_number)
    else:
        with pytest.raises(IntegrityError, match="member_id_number_format"):
            _set_id_number(member, id_number)
