"""How a repayment is split over what the loan owes (还款冲销), as pure functions.

What is owed comes in three components: penalty (罚息, including compound interest) owed by
the loan as a whole, and interest and principal owed by instalment. ``allocate`` pays them in
the loan's ``AllocationOrder`` (a product setting, pinned on the loan), oldest instalment first
within a component, and never pays more of a bucket than it holds. What is left over is
returned, for the caller to refuse, apply to principal (a prepayment) or hold in suspense.

A property test proves that the parts always sum exactly to the payment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from products.schedule import AllocationOrder

ZERO = Decimal("0.00")
PENALTY = "penalty"
INTEREST = "interest"
PRINCIPAL = "principal"


@dataclass(frozen=True)
class OwedInstalment:
    number: int
    interest: Decimal
    principal: Decimal


@dataclass
class Allocation:
    penalty: Decimal = ZERO
    # instalment number → amount, for interest and for principal
    interest: dict[int, Decimal] = field(default_factory=dict)
    principal: dict[int, Decimal] = field(default_factory=dict)
    left: Decimal = ZERO

    @property
    def interest_total(self) -> Decimal:
        return sum(self.interest.values(), ZERO)

    @property
    def principal_total(self) -> Decimal:
        return sum(self.principal.values(), ZERO)

    @property
    def applied(self) -> Decimal:
        return self.penalty + self.interest_total + self.principal_total


def _buckets(
    order: str, penalty: Decimal, instalments: list[OwedInstalment]
) -> list[tuple[str, int | None, Decimal]]:
    oldest_first = sorted(instalments, key=lambda i: i.number)
    interest = [(INTEREST, i.number, i.interest) for i in oldest_first]
    principal = [(PRINCIPAL, i.number, i.principal) for i in oldest_first]
    penalty_bucket = [(PENALTY, None, penalty)]
    if order == AllocationOrder.BY_INSTALMENT:
        by_instalment = []
        for i in oldest_first:
            by_instalment += [(INTEREST, i.number, i.interest), (PRINCIPAL, i.number, i.principal)]
        return penalty_bucket + by_instalment
    if order == AllocationOrder.INTEREST_PRINCIPAL_PENALTY:
        return interest + principal + penalty_bucket
    if order == AllocationOrder.PRINCIPAL_INTEREST_PENALTY:
        return principal + interest + penalty_bucket
    if order == AllocationOrder.PENALTY_INTEREST_PRINCIPAL:
        return penalty_bucket + interest + principal
    raise ValueError(f"unknown allocation order {order!r}")


def allocate(
    *, amount: Decimal, order: str, penalty: Decimal, instalments: list[OwedInstalment]
) -> Allocation:
    """Split ``amount`` over the owed buckets in ``order``; whatever no bucket takes is
    ``left``. ``applied + left == amount`` always."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    result = Allocation()
    remaining = amount
    for component, number, owed in _buckets(order, penalty, instalments):
        if remaining <= 0:
            break
        paid = min(remaining, max(owed, ZERO))
        if not paid:
            continue
        remaining -= paid
        if component == PENALTY:
            result.penalty += paid
        else:
            target = result.interest if component == INTEREST else result.principal
            target[number] = target.get(number, ZERO) + paid
    result.left = remaining
    return result
