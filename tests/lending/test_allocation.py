"""The split of a payment over what is owed: whatever the order, amounts and instalments, the
parts sum exactly to the payment and no bucket is paid beyond what it holds."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from lending.loans.allocation import OwedInstalment, allocate
from products.schedule import AllocationOrder

D = Decimal
fen = st.integers(min_value=0, max_value=5_000_000).map(lambda cents: D(cents) / 100)


@settings(max_examples=500, deadline=None)
@given(
    amount=fen,
    order=st.sampled_from(AllocationOrder.values),
    penalty=fen,
    owed=st.lists(st.tuples(fen, fen), max_size=8),
)
def test_the_parts_always_sum_to_the_payment(amount, order, penalty, owed):
    instalments = [
        OwedInstalment(number=n, interest=i, principal=p) for n, (i, p) in enumerate(owed, 1)
    ]
    split = allocate(amount=amount, order=order, penalty=penalty, instalments=instalments)
    assert split.applied + split.left == amount
    assert split.penalty <= penalty
    for instalment in instalments:
        assert split.interest.get(instalment.number, D(0)) <= instalment.interest
        assert split.principal.get(instalment.number, D(0)) <= instalment.principal
    total_owed = penalty + sum((i.interest + i.principal for i in instalments), D(0))
    # Something is left over only when everything owed is paid.
    assert split.left == max(amount - total_owed, D(0))


def _owed():
    return [
        OwedInstalment(number=1, interest=D("10.00"), principal=D("100.00")),
        OwedInstalment(number=2, interest=D("9.00"), principal=D("100.00")),
    ]


def test_the_default_pays_penalty_then_interest_of_every_instalment_then_principal():
    split = allocate(
        amount=D("30.00"),
        order="penalty_interest_principal",
        penalty=D("5.00"),
        instalments=_owed(),
    )
    assert (split.penalty, split.interest, split.principal) == (
        D("5.00"),
        {1: D("10.00"), 2: D("9.00")},
        {1: D("6.00")},
    )


def test_by_instalment_clears_the_oldest_instalment_first():
    split = allocate(
        amount=D("120.00"), order="by_instalment", penalty=D("5.00"), instalments=_owed()
    )
    assert (split.penalty, split.interest, split.principal) == (
        D("5.00"),
        {1: D("10.00"), 2: D("5.00")},
        {1: D("100.00")},
    )


def test_principal_first_leaves_the_penalty_for_last():
    split = allocate(
        amount=D("210.00"),
        order="principal_interest_penalty",
        penalty=D("5.00"),
        instalments=_owed(),
    )
    assert (split.principal, split.interest, split.penalty) == (
        {1: D("100.00"), 2: D("100.00")},
        {1: D("10.00")},
        D("0.00"),
    )
