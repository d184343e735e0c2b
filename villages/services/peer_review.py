"""Back-to-back peer review: open a round, cast hidden votes, close and aggregate."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from org.models import Staff
from org.roles import Role, role_groups
from org.services import password_check
from villages.models import (
    Household,
    ListColour,
    PeerReviewEvaluator,
    PeerReviewResult,
    PeerReviewRound,
    PeerReviewVote,
    Village,
)
from villages.models.households import COLOUR_CAUTION_ORDER

User = get_user_model()


@transaction.atomic
def peer_review_round_open(
    *, village: Village, title: str, opened_by: Staff | None, black_veto_count: int = 2
) -> PeerReviewRound:
    if PeerReviewRound.objects.filter(village=village, status=PeerReviewRound.Status.OPEN).exists():
        raise ValidationError({"village": f"{village.name}已有进行中的评议"})
    if black_veto_count < 1:
        raise ValidationError({"black_veto_count": "一票否决票数至少为1"})
    return PeerReviewRound.objects.create(
        village=village,
        bank_id=village.bank_id,
        title=title,
        opened_by=opened_by,
        black_veto_count=black_veto_count,
    )


@transaction.atomic
def peer_review_evaluator_add(
    *, round: PeerReviewRound, name: str, kind: str, username: str, password: str | None
) -> PeerReviewEvaluator:
    """Add a villager to the panel, with a login (reused if the villager sat on a panel before)."""
    if round.status != PeerReviewRound.Status.OPEN:
        raise ValidationError({"round": "评议已结束，不能再增加评议员"})
    if kind not in PeerReviewEvaluator.Kind.values:
        raise ValidationError({"kind": f"未知的评议员身份：{kind}"})
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, first_name=name)
        if password:
            password_check(password=password, user=user)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif hasattr(user, "staff"):
        raise ValidationError({"username": "银行员工不能担任评议员"})
    user.groups.add(*role_groups([Role.PEER_EVALUATOR]))
    if PeerReviewEvaluator.objects.filter(round=round, user=user).exists():
        raise ValidationError({"username": f"{name}已在本次评议的评议员名单中"})
    return PeerReviewEvaluator.objects.create(round=round, user=user, name=name, kind=kind)


@transaction.atomic
def peer_review_vote_cast(
    *,
    evaluator: PeerReviewEvaluator,
    household: Household,
    colour: str,
    reason: str = "",
    suggested_amount: Decimal | None = None,
) -> PeerReviewVote:
    """Cast or change a vote while the round is open. The round row is locked so a vote cannot
    slip in while the round is being closed."""
    round = PeerReviewRound.objects.select_for_update().get(pk=evaluator.round_id)
    if round.status != PeerReviewRound.Status.OPEN:
        raise ValidationError({"round": "评议已结束，不能再投票"})
    if household.village_id != round.village_id:
        raise ValidationError({"household": "该农户不属于本次评议的行政村"})
    if colour not in ListColour.values:
        raise ValidationError({"colour": f"未知的评议结果：{colour}"})
    if colour in (ListColour.BLACK, ListColour.GREY) and not reason.strip():
        raise ValidationError({"reason": "评为黑名单或灰名单须说明理由"})
    if suggested_amount is not None and suggested_amount < 0:
        raise ValidationError({"suggested_amount": "建议额度不能为负数"})
    vote, _ = PeerReviewVote.objects.update_or_create(
        evaluator=evaluator,
        household=household,
        defaults={
            "round": round,
            "colour": colour,
            "reason": reason.strip(),
            "suggested_amount": suggested_amount,
        },
    )
    return vote


def aggregate_colour(counts: Counter, black_veto_count: int) -> str:
    """The round's rule: enough black votes veto; else the majority; ties → more cautious."""
    if counts[ListColour.BLACK] >= black_veto_count:
        return ListColour.BLACK
    top = max(counts.values())
    return next(colour for colour in COLOUR_CAUTION_ORDER if counts[colour] == top)


@transaction.atomic
def peer_review_round_close(*, round: PeerReviewRound, closed_by: Staff | None) -> int:
    """Close the round, store each household's result and set its current list colour.

    Returns the number of households with a result. Households nobody voted on get none and
    keep their previous colour.
    """
    round = PeerReviewRound.objects.select_for_update().get(pk=round.pk)
    if round.status != PeerReviewRound.Status.OPEN:
        raise ValidationError({"round": "评议已结束"})
    counts: dict = defaultdict(Counter)
    amounts: dict = defaultdict(list)
    for household_id, colour, amount in PeerReviewVote.objects.filter(round=round).values_list(
        "household_id", "colour", "suggested_amount"
    ):
        counts[household_id][colour] += 1
        if amount is not None:
            amounts[household_id].append(amount)

    results = []
    for household_id, tally in counts.items():
        median = None
        if amounts[household_id]:
            median = Decimal(statistics.median(amounts[household_id])).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            )
        results.append(
            PeerReviewResult(
                round=round,
                household_id=household_id,
                colour=aggregate_colour(tally, round.black_veto_count),
                black_votes=tally[ListColour.BLACK],
                grey_votes=tally[ListColour.GREY],
                green_votes=tally[ListColour.GREEN],
                white_votes=tally[ListColour.WHITE],
                suggested_amount=median,
            )
        )
    PeerReviewResult.objects.bulk_create(results)
    by_colour: dict = defaultdict(list)
    for result in results:
        by_colour[result.colour].append(result.household_id)
    for colour, household_ids in by_colour.items():
        Household.objects.filter(pk__in=household_ids).update(list_colour=colour)

    round.status = PeerReviewRound.Status.CLOSED
    round.closed_by = closed_by
    round.closed_at = timezone.now()
    round.save(update_fields=["status", "closed_by", "closed_at"])
    return len(results)
