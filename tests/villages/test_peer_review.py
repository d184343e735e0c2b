"""Back-to-back peer review: hidden votes, the aggregation rule, the household's colour."""

from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from org.models import Staff
from villages.models import Household, ListColour, PeerReviewResult
from villages.services import (
    aggregate_colour,
    peer_review_evaluator_add,
    peer_review_round_close,
    peer_review_round_open,
    peer_review_vote_cast,
)


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        ({"black": 2, "green": 3}, "black"),  # two blacks veto a majority
        ({"black": 1, "green": 4}, "green"),
        ({"green": 2, "white": 2, "grey": 1}, "green"),  # tie → the more cautious
        ({"grey": 2, "green": 2}, "grey"),
        ({"white": 3, "green": 2}, "white"),
    ],
)
def test_aggregation_rule(votes, expected):
    assert aggregate_colour(Counter(votes), black_veto_count=2) == expected


@pytest.fixture
def review(villages):
    village = villages["v1"]
    manager = Staff.objects.get(user__username="b1_am2")
    round = peer_review_round_open(village=village, title="2026年评议", opened_by=manager)
    evaluators = [
        peer_review_evaluator_add(
            round=round,
            name=f"评议员{i}",
            kind="elder",
            username=f"pr_test_{i}",
            password="Pass@2026x",
        )
        for i in range(1, 4)
    ]
    return {
        "round": round,
        "evaluators": evaluators,
        "households": villages["v1_households"],
        "manager": manager,
    }


def as_evaluator(evaluator):
    client = APIClient()
    client.force_authenticate(evaluator.user)
    return client


def test_evaluator_sees_only_own_votes(review):
    first, second, _ = review["evaluators"]
    household = review["households"][0]
    url = f"/api/v1/peer-review/rounds/{review['round'].pk}/votes/{household.pk}/"
    assert (
        as_evaluator(first)
        .put(url, {"colour": "black", "reason": "赌博"}, format="json")
        .status_code
        == 200
    )

    rows = (
        as_evaluator(second)
        .get(f"/api/v1/peer-review/rounds/{review['round'].pk}/households/")
        .json()
    )
    assert len(rows) == 3
    assert all(row["my_colour"] is None for row in rows)
    mine = (
        as_evaluator(first)
        .get(f"/api/v1/peer-review/rounds/{review['round'].pk}/households/")
        .json()
    )
    assert {row["household_id"]: row["my_colour"] for row in mine}[str(household.pk)] == "black"
    assert "id_number" not in str(mine)


def test_black_or_grey_vote_needs_a_reason(review):
    evaluator = review["evaluators"][0]
    url = f"/api/v1/peer-review/rounds/{review['round'].pk}/votes/{review['households'][0].pk}/"
    response = as_evaluator(evaluator).put(url, {"colour": "grey"}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["fields"]


def test_non_evaluator_and_other_village_are_404(review, villages, login_as):
    round_id = review["round"].pk
    assert (
        login_as("b1_am2").get(f"/api/v1/peer-review/rounds/{round_id}/households/").status_code
        == 404
    )
    foreign = villages["v2_households"][0]
    url = f"/api/v1/peer-review/rounds/{round_id}/votes/{foreign.pk}/"
    assert (
        as_evaluator(review["evaluators"][0])
        .put(url, {"colour": "green"}, format="json")
        .status_code
        == 404
    )


def test_close_aggregates_sets_colour_and_freezes_voting(review):
    a, b, c = review["evaluators"]
    h1, h2, h3 = review["households"]
    for evaluator, colour in [(a, "black"), (b, "black"), (c, "white")]:
        peer_review_vote_cast(
            evaluator=evaluator,
            household=h1,
            colour=colour,
            reason="逾期" if colour == "black" else "",
        )
    for evaluator, colour, amount in [
        (a, "green", 50000),
        (b, "white", 100000),
        (c, "green", 80000),
    ]:
        peer_review_vote_cast(
            evaluator=evaluator, household=h2, colour=colour, suggested_amount=Decimal(amount)
        )

    assert peer_review_round_close(round=review["round"], closed_by=review["manager"]) == 2

    h1.refresh_from_db()
    h2.refresh_from_db()
    h3.refresh_from_db()
    assert (h1.list_colour, h2.list_colour, h3.list_colour) == ("black", "green", "")
    result = PeerReviewResult.objects.get(household=h2)
    assert (result.green_votes, result.white_votes, result.suggested_amount) == (
        2,
        1,
        Decimal("80000.00"),
    )

    with pytest.raises(ValidationError):
        peer_review_vote_cast(evaluator=a, household=h3, colour=ListColour.GREEN)
    url = f"/api/v1/peer-review/rounds/{review['round'].pk}/votes/{h3.pk}/"
    response = as_evaluator(a).put(url, {"colour": "green"}, format="json")
    assert response.status_code == 400
    assert not Household.objects.filter(pk=h3.pk).exclude(list_colour="").exists()


def test_only_one_open_round_per_village(review):
    with pytest.raises(ValidationError) as error:
        peer_review_round_open(village=review["round"].village, title="重复", opened_by=None)
    assert "village" in error.value.message_dict
