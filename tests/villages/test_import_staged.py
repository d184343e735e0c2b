"""Staged rows are written as csv.writer would write them, whichever way they are joined."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from villages.imports.services import csv_text


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
