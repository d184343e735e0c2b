"""Back-to-back peer review: open a round, seat villagers, cast hidden votes, close and aggregate.

Evaluators are villagers, not staff: each gets a login holding the peer-evaluator role only,
and signs in on a phone with a password set for them or a one-time code sent by SMS
(``evaluator_login_code_send`` / ``evaluator_login_code_verify``). A round closes by hand, when
every evaluator has voted on every household (``close_when_all_voted``), or after its last
voting day (``closes_on``, by the nightly ``peer_review_rounds_close_due``).
"""

from __future__ import annotations

import datetime
import secrets
import statistics
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from common.clock import business_today
from common.sms import sms_send
from org.models import Staff
from org.roles import Role, role_groups
from org.services import password_check
from villages.models import (
    EvaluatorLoginCode,
    Household,
    ListColour,
    PeerReviewEvaluator,
    PeerReviewResult,
    PeerReviewRound,
    PeerReviewVote,
    Village,
)
from villages.models.households import COLOUR_CAUTION_ORDER
from villages.validation import FieldError, clean_mobile

User = get_user_model()

# A code is six digits, lives ten minutes, survives five wrong tries, and a phone gets at most one
# a minute (each costs an SMS). Wrong codes also count toward the login lockout (django-axes),
# through villages.auth.EvaluatorLoginCodeBackend.
LOGIN_CODE_DIGITS = 6
LOGIN_CODE_TTL = datetime.timedelta(minutes=10)
LOGIN_CODE_MAX_FAILURES = 5
LOGIN_CODE_RESEND_AFTER = datetime.timedelta(seconds=60)


def _clean_phone(phone: str, *, required: bool = False) -> str:
    try:
        return clean_mobile(phone, required=required)
    except FieldError as exc:
        raise ValidationError({"phone": exc.message}) from None


def peer_review_round_open_check(
    *, village: Village, title: str, black_veto_count: int = 2, closes_on=None
) -> None:
    """The refusals of ``peer_review_round_open``, without writing (the admin form calls it)."""
    errors: dict[str, str] = {}
    if not (title or "").strip():
        errors["title"] = "请填写评议名称"
    if PeerReviewRound.objects.open().filter(village=village).exists():
        errors["village"] = f"{village.name}已有进行中的评议，请先结束它"
    if black_veto_count is None or black_veto_count < 1:
        errors["black_veto_count"] = "一票否决票数至少为1"
    if closes_on is not None and closes_on < business_today():
        errors["closes_on"] = f"截止日期不能早于今天({business_today():%Y-%m-%d})"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def peer_review_round_open(
    *,
    village: Village,
    title: str,
    opened_by: Staff | None,
    black_veto_count: int = 2,
    closes_on: datetime.date | None = None,
    close_when_all_voted: bool = True,
) -> PeerReviewRound:
    # The village row is locked so two clerks opening a round at once cannot both succeed.
    Village.objects.select_for_update().filter(pk=village.pk).first()
    peer_review_round_open_check(
        village=village, title=title, black_veto_count=black_veto_count, closes_on=closes_on
    )
    return PeerReviewRound.objects.create(
        village=village,
        bank_id=village.bank_id,
        title=title.strip(),
        opened_by=opened_by,
        black_veto_count=black_veto_count,
        closes_on=closes_on,
        close_when_all_voted=close_when_all_voted,
    )


def _evaluator_login(
    *, round: PeerReviewRound, name: str, phone: str, username: str | None
) -> tuple[object | None, str]:
    """The login to seat: an existing one of this bank's panels (same login name, or same phone
    when no name is given), else ``None`` and the name for a new one.

    A login is reused only within the bank: seating another bank's villager by their login name
    would let this bank's SMS codes sign in to that bank's rounds.
    """
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            return None, username
        if hasattr(user, "staff"):
            raise ValidationError({"username": "银行员工不能担任评议员"})
        if not PeerReviewEvaluator.objects.filter(user=user, round__bank_id=round.bank_id).exists():
            raise ValidationError({"username": f"登录名 {username} 已被使用"})
        return user, username
    if phone:
        earlier = (
            PeerReviewEvaluator.objects.filter(phone_hash=phone, round__bank_id=round.bank_id)
            .select_related("user")
            .order_by("-pk")
            .first()
        )
        if earlier is not None:
            return earlier.user, earlier.user.username
    number = PeerReviewEvaluator.objects.filter(round=round).count() + 1
    while User.objects.filter(username=f"pr_{round.pk}_{number}").exists():
        number += 1
    return None, f"pr_{round.pk}_{number}"


def peer_review_evaluator_add_check(
    *,
    round: PeerReviewRound,
    name: str,
    kind: str,
    phone: str = "",
    username: str | None = None,
    password: str | None = None,
) -> tuple[object | None, str, str]:
    """The refusals of ``peer_review_evaluator_add``, without writing (the admin form calls it).

    Returns the login to reuse (or ``None``), the login name and the cleaned phone.
    """
    if round.status != PeerReviewRound.Status.OPEN:
        raise ValidationError({"round": "评议已结束，不能再增加评议员"})
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "请填写评议员姓名"})
    if kind not in PeerReviewEvaluator.Kind.values:
        raise ValidationError({"kind": f"未知的评议员身份：{kind}"})
    phone = _clean_phone(phone)
    username = (username or "").strip() or None
    user, username = _evaluator_login(round=round, name=name, phone=phone, username=username)
    if user is not None and PeerReviewEvaluator.objects.filter(round=round, user=user).exists():
        raise ValidationError({"username": f"{name}已在本次评议的评议员名单中"})
    if password:
        password_check(password=password, user=user or User(username=username, first_name=name))
    return user, username, phone


@transaction.atomic
def peer_review_evaluator_add(
    *,
    round: PeerReviewRound,
    name: str,
    kind: str,
    phone: str = "",
    username: str | None = None,
    password: str | None = None,
) -> PeerReviewEvaluator:
    """Seat a villager on the panel with a login holding the peer-evaluator role only.

    The villager signs in with ``password`` (checked by Django's validators) or with a code sent
    to ``phone``; a villager who sat on an earlier panel of this bank keeps the same login (and a
    password given here replaces theirs). Without a login name one is made: ``pr_<round>_<n>``.
    """
    round = PeerReviewRound.objects.select_for_update().get(pk=round.pk)
    user, username, phone = peer_review_evaluator_add_check(
        round=round, name=name, kind=kind, phone=phone, username=username, password=password
    )
    if user is None:
        user = User(username=username, first_name=name.strip(), is_staff=False)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(*role_groups([Role.PEER_EVALUATOR]))
    return PeerReviewEvaluator.objects.create(
        round=round, user=user, name=name.strip(), kind=kind, phone=phone
    )


@transaction.atomic
def peer_review_evaluator_password_set(*, evaluator: PeerReviewEvaluator, password: str) -> None:
    """Set the password an evaluator signs in with (told to them in person by the bank)."""
    user = User.objects.select_for_update().get(pk=evaluator.user_id)
    password_check(password=password, user=user)
    user.set_password(password)
    user.save(update_fields=["password"])


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
    if round.closes_on is not None and business_today() > round.closes_on:
        raise ValidationError({"round": f"评议已于{round.closes_on:%Y年%m月%d日}截止，不能再投票"})
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
    if round.close_when_all_voted and _all_voted(round):
        _close_locked(round, closed_by=None, reason=PeerReviewRound.CloseReason.ALL_VOTED)
    return vote


def _all_voted(round: PeerReviewRound) -> bool:
    """Every evaluator has a vote on every household of the village."""
    evaluators = PeerReviewEvaluator.objects.filter(round=round).count()
    households = Household.objects.filter(village_id=round.village_id).count()
    if not evaluators or not households:
        return False
    return PeerReviewVote.objects.filter(round=round).count() >= evaluators * households


def aggregate_colour(counts: Counter, black_veto_count: int) -> str:
    """The round's rule: enough black votes veto; else the majority; ties → more cautious."""
    if counts[ListColour.BLACK] >= black_veto_count:
        return ListColour.BLACK
    top = max(counts.values())
    return next(colour for colour in COLOUR_CAUTION_ORDER if counts[colour] == top)


@transaction.atomic
def peer_review_round_close(
    *,
    round: PeerReviewRound,
    closed_by: Staff | None,
    reason: str = PeerReviewRound.CloseReason.MANUAL,
) -> int:
    """Close the round, store each household's result and set its current list colour.

    Returns the number of households with a result. Households nobody voted on get none and
    keep their previous colour.
    """
    round = PeerReviewRound.objects.select_for_update().get(pk=round.pk)
    if round.status != PeerReviewRound.Status.OPEN:
        raise ValidationError({"round": "评议已结束"})
    return _close_locked(round, closed_by=closed_by, reason=reason)


def _close_locked(round: PeerReviewRound, *, closed_by: Staff | None, reason: str) -> int:
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
    now = timezone.now()
    for colour, household_ids in by_colour.items():
        # updated_at moves too: a tablet syncing with ?updated_since= must see the new colour.
        Household.objects.filter(pk__in=household_ids).update(list_colour=colour, updated_at=now)

    round.status = PeerReviewRound.Status.CLOSED
    round.closed_by = closed_by
    round.closed_at = timezone.now()
    round.close_reason = reason
    round.save(update_fields=["status", "closed_by", "closed_at", "close_reason"])
    return len(results)


def peer_review_rounds_close_due(*, today: datetime.date | None = None) -> int:
    """Close every open round whose last voting day has passed (the nightly schedule).

    Each round closes in its own transaction, so one failure does not hold back the others.
    Returns how many rounds were closed.
    """
    today = today or business_today()
    closed = 0
    for round_id in PeerReviewRound.objects.past_deadline(today).values_list("pk", flat=True):
        with transaction.atomic():
            round = PeerReviewRound.objects.select_for_update().get(pk=round_id)
            if round.status != PeerReviewRound.Status.OPEN:
                continue
            _close_locked(round, closed_by=None, reason=PeerReviewRound.CloseReason.DEADLINE)
            closed += 1
    return closed


# --- Signing in with a one-time code -----------------------------------------------------------


def _code_digest(phone: str, code: str) -> str:
    return salted_hmac(
        "villages.evaluator_login_code", f"{phone}:{code}", algorithm="sha256"
    ).hexdigest()


def evaluator_login_code_send(*, phone: str) -> int:
    """Text a one-time sign-in code to ``phone`` if it is the phone of an evaluator of an open
    round. Returns how many logins got a code (the API does not tell the caller, so that a
    stranger cannot learn which numbers are evaluators').

    Earlier unused codes for the phone stop working; a phone gets at most one code a minute.
    """
    phone = _clean_phone(phone, required=True)
    now = timezone.now()
    with transaction.atomic():
        user_ids = sorted(
            set(
                PeerReviewEvaluator.objects.filter(
                    phone_hash=phone,
                    round__status=PeerReviewRound.Status.OPEN,
                    user__is_active=True,
                ).values_list("user_id", flat=True)
            )
        )
        if not user_ids:
            return 0
        recent = EvaluatorLoginCode.objects.filter(
            phone_hash=phone, created_at__gt=now - LOGIN_CODE_RESEND_AFTER
        )
        if recent.exists():
            raise ValidationError({"phone": "验证码已发送，请 1 分钟后再重新获取"})
        EvaluatorLoginCode.objects.filter(
            phone_hash=phone, used_at__isnull=True, expires_at__gt=now
        ).update(expires_at=now)
        for user_id in user_ids:
            code = "".join(secrets.choice("0123456789") for _ in range(LOGIN_CODE_DIGITS))
            record = EvaluatorLoginCode(
                user_id=user_id,
                code_hash=_code_digest(phone, code),
                expires_at=now + LOGIN_CODE_TTL,
            )
            record.phone_text = phone
            record.save()
            minutes = int(LOGIN_CODE_TTL.total_seconds() // 60)
            sms_send(
                phone=phone,
                text=f"【整村授信】您的评议登录验证码为{code}，{minutes}分钟内有效。"
                "请勿把验证码告诉他人，银行工作人员不会向您索取。",
                purpose="评议员登录验证码",
            )
    return len(user_ids)


def evaluator_login_code_verify(*, phone: str, code: str):
    """The login whose unused, unexpired code for ``phone`` is ``code`` (the code is then spent),
    or ``None``. A wrong code counts against every live code of the phone: after five, they are
    void. Called through the authentication backend, so failures also count toward the lockout.
    """
    try:
        phone = clean_mobile(phone, required=True)
    except FieldError:
        return None
    code = (code or "").strip()
    if not (code.isdigit() and len(code) == LOGIN_CODE_DIGITS):
        code = ""
    now = timezone.now()
    with transaction.atomic():
        live = list(
            EvaluatorLoginCode.objects.select_for_update()
            .filter(
                phone_hash=phone,
                used_at__isnull=True,
                expires_at__gt=now,
                failed_attempts__lt=LOGIN_CODE_MAX_FAILURES,
            )
            .select_related("user")
            .order_by("-created_at")
        )
        digest = _code_digest(phone, code) if code else ""
        for record in live:
            if digest and constant_time_compare(record.code_hash, digest):
                record.used_at = now
                record.save(update_fields=["used_at"])
                return record.user if record.user.is_active else None
        EvaluatorLoginCode.objects.filter(pk__in=[r.pk for r in live]).update(
            failed_attempts=F("failed_attempts") + 1
        )
    return None
