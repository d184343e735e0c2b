"""LPR: seeded history, "the LPR on a date", recording new publications."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from common.clock import business_today
from products.models import LoanPrimeRate
from products.selectors import lpr_on
from products.services import lpr_import_rows, lpr_record

D = Decimal


@pytest.mark.parametrize(
    ("on", "one_year", "five_year"),
    [
        (date(2019, 8, 20), "4.25", "4.85"),  # first publication
        (date(2020, 1, 1), "4.15", "4.80"),  # between publications: the earlier one
        (date(2022, 5, 19), "3.70", "4.60"),
        (date(2022, 5, 20), "3.70", "4.45"),  # only the 5Y moved that day
        (date(2024, 10, 21), "3.10", "3.60"),
        (date(2025, 12, 31), "3.00", "3.50"),
    ],
)
@pytest.mark.django_db
def test_lpr_on_a_date_from_the_seeded_history(on, one_year, five_year):
    quote = lpr_on(on)
    assert (quote.lpr_1y, quote.lpr_5y_plus) == (D(one_year), D(five_year))


@pytest.mark.django_db
def test_history_matches_the_published_file():
    assert LoanPrimeRate.objects.count() == 15


@pytest.mark.django_db
def test_lookup_before_the_first_publication_is_a_clear_error():
    with pytest.raises(ValidationError) as exc:
        lpr_on(date(2019, 8, 19))
    assert "2019-08-20" in exc.value.message_dict["on_date"][0]


@pytest.mark.django_db
def test_recording_is_idempotent_and_refuses_conflicting_figures():
    lpr_record(effective_date=date(2025, 5, 20), lpr_1y=D("3.00"), lpr_5y_plus=D("3.50"))
    assert LoanPrimeRate.objects.count() == 15
    with pytest.raises(ValidationError) as exc:
        lpr_record(effective_date=date(2025, 5, 20), lpr_1y=D("3.10"), lpr_5y_plus=D("3.50"))
    assert "effective_date" in exc.value.message_dict
    assert lpr_on(date(2025, 5, 20)).lpr_1y == D("3.00")


@pytest.mark.django_db
def test_recording_rejects_future_dates_and_rates_as_fractions():
    with pytest.raises(ValidationError) as exc:
        lpr_record(
            effective_date=business_today() + timedelta(days=1),
            lpr_1y=D("0.03"),
            lpr_5y_plus=D("300"),
        )
    assert {"effective_date", "lpr_5y_plus"} <= set(exc.value.message_dict)


@pytest.mark.django_db
def test_import_is_all_or_nothing():
    rows = [
        {"effective_date": "2025-06-20", "lpr_1y": "2.90", "lpr_5y_plus": "3.40"},
        {"effective_date": "2025-07-2x", "lpr_1y": "2.90", "lpr_5y_plus": "3.40"},
    ]
    with pytest.raises(ValidationError, match="第3行"):
        lpr_import_rows(rows=rows)
    assert not LoanPrimeRate.objects.filter(effective_date=date(2025, 6, 20)).exists()


@pytest.mark.django_db
def test_load_lpr_command_reloads_the_shared_file_without_changes(tmp_path):
    csv_file = tmp_path / "lpr.csv"
    csv_file.write_text(
        "effective_date,lpr_1y,lpr_5y_plus\n2019-08-20,4.25,4.85\n2025-05-20,3.00,3.50\n"
    )
    out = io.StringIO()
    call_command("load_lpr", str(csv_file), stdout=out)
    assert "0 new" in out.getvalue()
    csv_file.write_text("effective_date,lpr_1y,lpr_5y_plus\n2019-08-20,4.30,4.85\n")
    with pytest.raises(CommandError):
        call_command("load_lpr", str(csv_file), stdout=out)
