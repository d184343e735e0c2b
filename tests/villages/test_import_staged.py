"""Staged rows are written as csv.writer would write them, whichever way they are joined."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from villages.imports.staging import csv_text


def _writer(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "rows",
    [
        [("2", "110101198001010011", "张三", "", "13800138000")] * 3,
        [("2", "张,三"), ("3", "李四")],
        [("2", '老"王"'), ("3", "李四")],
        [("2", "第一行\n第二行"), ("3", "李四")],
        [("2", 12.5, datetime.date(2026, 3, 15), "t")],
        [(2, "row number as a number")],
        [],
    ],
)
def test_same_text_as_csv_writer(rows):
    text = csv_text(rows)
    assert text == _writer(rows)
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        [str(v) for v in row] for row in rows
    ]


@pytest.mark.django_db
def test_a_binary_copy_reads_back_as_the_same_numbers_and_bytes():
    import numpy as np
    from django.db import connection

    from common import pii
    from villages.imports.binary_copy import binary_copy, bytea, int4

    phones = ["13912345678", "", "0357-2123456", "13800000000"]
    crypto = pii.ColumnCrypto(pii.PHONE)
    hashes, present = crypto.hash_blocks(phones)
    copied = binary_copy(
        [
            int4([2, 3, 70000, -1]),
            bytea(*crypto.ciphertext_blocks(phones)),  # 17 bytes, empty, AES-SIV, 17 bytes
            bytea(hashes, present * pii.HASH_BYTES),
            bytea(np.frombuffer(b"abcdefgh", dtype=np.uint8).reshape(4, 2)),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE copied (n integer, phone bytea, phone_hash bytea, pair bytea)"
        )
        cursor.copy_expert("COPY copied FROM STDIN WITH (FORMAT binary)", io.BytesIO(copied))
        cursor.execute("SELECT n, phone, phone_hash, pair FROM copied")
        rows = [(n, bytes(a), bytes(b), bytes(c)) for n, a, b, c in cursor.fetchall()]
        cursor.execute("DROP TABLE copied")
    assert rows == [
        (n, pii.encrypt(phone, pii.PHONE), pii.blind_index(phone, pii.PHONE), pair)
        for n, phone, pair in zip(
            [2, 3, 70000, -1], phones, [b"ab", b"cd", b"ef", b"gh"], strict=True
        )
    ]
