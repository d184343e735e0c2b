"""The import's fast ID check accepts exactly what the house function accepts."""

from __future__ import annotations

import datetime
import random

from stdnum.cn import ric

from villages.imports.cells import IdNumbers
from villages.validation import FieldError, clean_id_number

TODAY = datetime.date(2026, 12, 1)


def _with_check(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


def _cases() -> list:
    rng = random.Random(7)
    cases = []
    for _ in range(3000):
        place = rng.choice(["141002", "142601", "110101", "999999", "000000", "441900"])
        year = rng.choice([1899, 1900, 1950, 1980, 2000, 2026, 2027])
        month, day = rng.randint(0, 13), rng.choice([0, 1, 15, 28, 29, 30, 31, 32])
        body = f"{place}{year:04d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
        good = _with_check(body)
        cases.append(good)
        cases.append(body + rng.choice("0123456789X"))  # mostly a wrong check digit
        cases.append(good.lower())
    cases += [
        _with_check("14100219800101001"),
        "１４１００２１９８００１０１００１X",  # full-width digits
        " 14100219800101001X",
        "1.41002E+17",
        "14100219800101001",
        141002198001010010,
        "",
        "14100219800101A01X",
        _with_check("14100220261201001"),  # born today
        _with_check("14100220261202001"),  # born tomorrow
    ]
    return cases


def _one_by_one(value):
    try:
        return clean_id_number(str(value), today=TODAY)
    except FieldError as error:
        return error.message


def test_column_check_equals_the_house_function():
    cases = _cases()
    column = IdNumbers(TODAY)
    cleaned = []
    for value in cases:
        try:
            cleaned.append(column.clean(value))
        except FieldError as error:
            cleaned.append(error.message)
    expected = [_one_by_one(value) for value in cases]
    assert cleaned == [e[0] if isinstance(e, tuple) else e for e in expected]
    for value, wanted in zip(cases, expected, strict=True):
        if isinstance(wanted, tuple):
            assert column.info[wanted[0]] == (wanted[1], wanted[2]), value
    assert sum(isinstance(e, tuple) for e in expected) > 500  # the sample holds both kinds
    assert sum(isinstance(e, str) for e in expected) > 500


def test_whole_column_check_accepts_only_what_the_house_function_accepts():
    cases = _cases()
    expected = {value: _one_by_one(value) for value in cases if isinstance(value, str)}
    plain = []  # what the column check takes on its own (others go one by one)
    for value, result in expected.items():
        column = IdNumbers(TODAY)
        accepted = column.clean_column((value,))
        if accepted is not None:
            assert accepted == [value], value
            assert isinstance(result, tuple), value
            assert column.info[value] == (result[1], result[2]), value
            plain.append(value)
    assert len(plain) > 500
    column = IdNumbers(TODAY)
    assert column.clean_column(tuple(plain)) == plain
    assert {value: column.info[value] for value in plain} == {
        value: expected[value][1:] for value in plain
    }
    invalid = [value for value, result in expected.items() if isinstance(result, str)]
    for bad in invalid[:200]:
        assert IdNumbers(TODAY).clean_column((*plain[:50], bad)) is None, bad
