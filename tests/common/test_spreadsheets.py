"""Exported cells: text a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io

import pytest

from common.spreadsheets import spreadsheet_cell, spreadsheet_row


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x","y")', "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=1", "\r=1"],
)
def test_formula_like_text_is_prefixed_with_an_apostrophe(text):
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["王小二", "3-2号", "-5", "+3.25", "1e5", 12, -3.5, None, ""])
def test_plain_text_and_numbers_are_left_alone(value):
    assert spreadsheet_cell(value) == value


def test_a_written_csv_reads_back_as_text():
    buffer = io.StringIO()
    csv.writer(buffer).writerow(spreadsheet_row(["王小二", '=HYPERLINK("http://x","y")', -5]))

    row = next(csv.reader(io.StringIO(buffer.getvalue())))

    assert row == ["王小二", '\'=HYPERLINK("http://x","y")', "-5"]
