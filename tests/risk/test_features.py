"""The feature catalogue, one household's row, the set-based frame and materialisation."""

from __future__ import annotations

import math

import pytest
from django.db.models import FloatField

from risk import features
from risk.features import (
    CATALOGUE,
    FEATURE_NAMES,
    features_frame,
    features_materialise,
    household_feature_row,
    register_repayment_history,
    segment_for_row,
)
from risk.models import HouseholdFeatures
from tests.risk.household_data import TODAY, peer_review, varied_households
from villages.models import Household, ListColour


@pytest.fixture
def households(villages):
    made = varied_households(villages["v1"])
    first, second, third = villages["v1_households"]
    b, g, w, k = ListColour.BLACK, ListColour.GREEN, ListColour.WHITE, ListColour.GREY
    peer_review(
        villages["v1"],
        closed_rounds=[
            {first: [w, w, w], made["business"]: [g, g, g]},
            {first: [b, b, g], second: [k, g, g]},  # the later closed round wins for `first`
        ],
        open_votes={first: [w, w, w], third: [b, b, b]},  # still open: ignored
    )
    return {**made, "first": first, "second": second, "third": third}


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return a == b


def test_catalogue_is_the_feature_table():
    columns = [
        field.name
        for field in HouseholdFeatures._meta.concrete_fields
        if isinstance(field, FloatField)
    ]
    assert list(FEATURE_NAMES) == columns
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    for feature in CATALOGUE:
        field = HouseholdFeatures._meta.get_field(feature.name)
        assert feature.label == field.verbose_name
        assert feature.type in {"numeric", "count", "ratio", "binary", "ordinal"}
        assert feature.source in {"members", "archive", "peer_review", "repayment"}
        assert feature.description


def test_row_of_a_fixture_household(villages):
    row = household_feature_row(villages["v1_households"][0], today=TODAY)
    assert set(row) == set(FEATURE_NAMES)
    assert row["head_age"] == 45
    assert (row["family_size"], row["labour_count"], row["dependants_ratio"]) == (3, 3, 0)
    assert row["head_education_level"] is None  # not recorded
    assert (row["land_mu"], row["net_income"], row["income_per_capita"]) == (12.5, 30000, 10000)
    assert (row["total_assets"], row["deposits"], row["debt_ratio"]) == (5000, 5000, 0)
    assert row["wage_income_share"] == 0
    assert (row["has_business"], row["has_social_security"]) == (0, 0)
    assert row["years_since_survey"] == round(50 / 365.25, 2)
    assert row["peer_colour_rank"] is None
    assert row["repaid_loans"] is None
    assert row["max_days_overdue"] is None


def test_edges_labour_segments_and_latest_records(households):
    business = household_feature_row(households["business"], today=TODAY)
    # head 46, spouse 44, the child who turns 16 today; not the 14-year-old or disabled parent
    assert (business["family_size"], business["labour_count"]) == (5, 3)
    assert business["dependants_ratio"] == pytest.approx(0.4)
    assert business["head_education_level"] == 5
    assert business["net_income"] == 100000
    assert business["wage_income_share"] == pytest.approx(20000 / 140000)
    assert business["debt_ratio"] == pytest.approx(0.2)
    assert business["peer_colour_rank"] == 2
    assert business["peer_black_votes"] == 0
    assert segment_for_row(business) == "individual_business"

    urban = household_feature_row(households["urban"], today=TODAY)
    assert urban["years_since_survey"] == 1.0
    assert segment_for_row(urban) == "urban_resident"

    bare = household_feature_row(households["bare"], today=TODAY)
    assert all(value is None for value in bare.values())
    assert segment_for_row(bare) == "farmer"

    zero = household_feature_row(households["zero_assets"], today=TODAY)
    assert zero["head_age"] == 59
    assert zero["labour_count"] == 0
    assert zero["debt_ratio"] is None
    assert zero["wage_income_share"] is None
    assert zero["dependants_ratio"] == 1

    resurveyed = household_feature_row(households["resurveyed"], today=TODAY)
    assert resurveyed["land_mu"] == 12.5
    assert resurveyed["livestock_heads"] == 30
    assert resurveyed["net_income"] == 25000
    assert segment_for_row(resurveyed) == "farmer"

    first = household_feature_row(households["first"], today=TODAY)
    assert (first["peer_colour_rank"], first["peer_black_votes"]) == (0, 2)
    assert first["peer_suggested_amount"] == 50000
    third = household_feature_row(households["third"], today=TODAY)
    assert third["peer_colour_rank"] is None  # only voted on in the open round


def test_frame_equals_rows(households, villages):
    wanted = Household.objects.filter(bank=villages["v1"].bank_id)
    frame = features_frame(wanted, today=TODAY)
    assert list(frame.columns) == ["bank_id", "segment", *FEATURE_NAMES]
    assert len(frame) == wanted.count() == 8
    assert list(frame.index) == sorted(frame.index)
    for household in wanted:
        row = household_feature_row(household, today=TODAY)
        framed = frame.loc[household.pk]
        assert framed["bank_id"] == household.bank_id
        assert framed["segment"] == segment_for_row(row)
        for name in FEATURE_NAMES:
            assert _same(row[name], framed[name]), (household, name, row[name], framed[name])
    by_ids = features_frame([h.pk for h in wanted], today=TODAY)
    assert by_ids.equals(frame)


def test_frame_query_count_does_not_grow_with_households(villages, django_assert_num_queries):
    few = Household.objects.filter(village=villages["v1"])
    with django_assert_num_queries(4):
        assert len(features_frame(few, today=TODAY)) == 3
    varied_households(villages["v1"])
    everyone = Household.objects.all()
    with django_assert_num_queries(4):
        assert len(features_frame(everyone, today=TODAY)) == 11
    ids = [household.pk for household in everyone]
    with django_assert_num_queries(4):
        assert len(features_frame(ids, today=TODAY)) == 11
    one = everyone.first()
    household_feature_row(one, today=TODAY)  # prepares the statement on this connection
    with django_assert_num_queries(1):  # the same three queries, side by side in one
        household_feature_row(one, today=TODAY)


def test_one_household_statement_is_prepared_once_per_connection(households, settings):
    from django.db import connection

    household = households["business"]
    prepared = household_feature_row(household, today=TODAY)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name = 'risk_one_household_features'"
        )
        assert cursor.fetchone()[0] == 1
    assert household_feature_row(household, today=TODAY) == prepared  # executed, not prepared again
    settings.RISK_PREPARED_FEATURE_QUERY = False
    assert household_feature_row(household, today=TODAY) == prepared


def test_empty_frame(db):
    frame = features_frame(Household.objects.none())
    assert frame.empty
    assert list(frame.columns) == ["bank_id", "segment", *FEATURE_NAMES]


def test_repayment_history_hook(villages):
    first, second, _ = villages["v1_households"]
    asked = []

    def provider(ids):
        asked.append(list(ids))
        return {first.pk: {"repaid_loans": 2, "max_days_overdue": 15}, second.pk: {}}

    register_repayment_history(provider)
    try:
        frame = features_frame(Household.objects.filter(village=villages["v1"]), today=TODAY)
        row = household_feature_row(first, today=TODAY)
    finally:
        register_repayment_history(None)
    assert (row["repaid_loans"], row["max_days_overdue"]) == (2, 15)
    assert frame.loc[first.pk, "max_days_overdue"] == 15
    assert math.isnan(frame.loc[second.pk, "repaid_loans"])
    assert sorted(asked[0]) == sorted(h.pk for h in villages["v1_households"])
    assert features._repayment_history_provider is None


def test_materialise_upserts_by_scope(households, villages):
    counts = features_materialise(village=villages["v1"], today=TODAY, batch_size=3)
    assert counts == {"households": 8, "created": 8, "updated": 0}
    assert not HouseholdFeatures.objects.filter(bank=villages["v2"].bank_id).exists()

    frame = features_frame(Household.objects.filter(village=villages["v1"]), today=TODAY)
    stored = {row.household_id: row for row in HouseholdFeatures.objects.all()}
    for household_id, expected in frame.iterrows():
        row = stored[household_id]
        assert row.bank_id == expected["bank_id"]
        assert row.segment == expected["segment"]
        for name in FEATURE_NAMES:
            assert _same(getattr(row, name), expected[name]), (household_id, name)

    first = villages["v1_households"][0]
    first.archives.update(income_crops=90000)
    counts = features_materialise(bank=villages["v1"].bank, today=TODAY)
    assert counts == {"households": 8, "created": 0, "updated": 8}
    assert HouseholdFeatures.objects.get(household=first).net_income == 90000
    assert features_materialise(today=TODAY)["created"] == 3  # the other bank's village
    assert HouseholdFeatures.objects.count() == 11
