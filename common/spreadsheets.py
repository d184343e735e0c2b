"""Cells for spreadsheets a person will open: text Excel would run is written as text.

Spreadsheet ("CSV" or formula) injection, OWASP: a cell whose text begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is read by Excel, WPS and LibreOffice as a formula —
``=HYPERLINK("http://…","点此")`` becomes a live link in the reader's copy, ``=cmd|…`` worse.
openpyxl itself stores a string beginning with ``=`` as a formula. Every export (xlsx or csv)
passes its cells through ``spreadsheet_row``/``spreadsheet_cell``, which prefix such text with
an apostrophe, as OWASP recommends: the reader sees the text, nothing runs. Text that is a plain
number (``-5``, ``+3.2``) is left alone: it runs nothing, and a prefix would only garble it.

The village import refuses such text in its free-text columns in the first place
(``villages.imports.cells``); this is the other half, for whatever is already stored or comes
from elsewhere (a scorecard's bin labels come from training data).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_cell(value):
    """``value`` as it should be written to a cell: formula-like text prefixed with ``'``."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def spreadsheet_row(values: Iterable) -> list:
    return [spreadsheet_cell(value) for value in values]
