"""Writes of the risk lists: maker-checker for people, direct entries for rules.

- **Manual entries and removals** go through two people: ``risk_list_entry_propose`` writes a
  pending entry (待复核) that matches nothing until someone else holding the approve permission
  activates it (``risk_list_entry_approve``) or turns it down (``risk_list_entry_reject``).
  Removal is the same: ``risk_list_entry_removal_propose`` marks an active entry, which keeps
  applying until another person approves (``risk_list_entry_removal_approve``) or refuses
  (``risk_list_entry_removal_reject``) the removal.
- **Automatic entries** come from rules and skip the checker, but name their source, the rule and
  the record that made them (``risk_list_entry_add_automatic``); the nightly peer-review sync is
  one such rule, written set-based (``risk_list_entries_sync_from_peer_review``).

Who may act on which entry: federation staff maintain federation entries (no owner, applying to
every bank), a bank's staff their bank's entries only, superusers anything (as for products).
Every state change writes a ``RiskListEntryChange`` row in the same transaction.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from common import pii
from common.clock import business_today
from org.models import Institution, Staff
from org.tenancy import scope_for
from risk.lists.models import (
    AUTOMATIC_SOURCES,
    LIVE_STATUSES,
    ListLevel,
    ListSource,
    RiskListEntry,
    RiskListEntryChange,
)
from villages.models import Household, ListColour, Member, PeerReviewResult, PeerReviewRound
from villages.validation import FieldError, clean_id_number, clean_mobile, normalise_text

PROPOSE_PERMISSION = "risk.propose_risklistentry"
APPROVE_PERMISSION = "risk.approve_risklistentry"
Change = RiskListEntryChange.Action
Status = RiskListEntry.Status

# Peer review → list level; green and white put nobody on a list.
PEER_REVIEW_LEVELS = {
    ListColour.BLACK: ListLevel.BLACKLIST_RESTRICT,
    ListColour.GREY: ListLevel.GREYLIST,
}
PEER_REVIEW_RULES = {ListColour.BLACK: "peer_review_black", ListColour.GREY: "peer_review_grey"}
DEFAULT_PEER_REVIEW_VALID_MONTHS = 12
MAX_DEVICE_ID = 128
_UNSET = object()


def peer_review_valid_months() -> int:
    """How long a peer-review entry applies from the day its round closed (setting
    ``RISK_LIST_PEER_REVIEW_VALID_MONTHS``, default 12: one year)."""
    return int(
        getattr(settings, "RISK_LIST_PEER_REVIEW_VALID_MONTHS", DEFAULT_PEER_REVIEW_VALID_MONTHS)
    )


# --- who may do what ---------------------------------------------------------------------------


def staff_of(user) -> Staff | None:
    return getattr(user, "staff", None) if user is not None and hasattr(user, "staff") else None


def can_act_on(user, owner_id: int | None, *, perm: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.has_perm(perm):
        return False
    scope = scope_for(user)
    if scope.sees_nothing:
        return False
    if scope.all_banks:  # federation staff: the federation's own lists
        return owner_id is None
    return owner_id is not None and owner_id == scope.bank_id


def _check_can_act(user, owner_id: int | None, *, perm: str, doing: str) -> None:
    if not can_act_on(user, owner_id, perm=perm):
        if owner_id is None:
            raise PermissionDenied(f"只有省联社的风险管理人员可以{doing}省联社名单")
        raise PermissionDenied(f"只有本行社有权限的风险管理人员可以{doing}本行社名单")


def _default_owner(user) -> Institution | None:
    scope = scope_for(user)
    if scope.all_banks or scope.bank_id is None:
        return None
    return Institution.objects.get(pk=scope.bank_id)


def _log(entry: RiskListEntry, action: str, before: str, actor: Staff | None, reason="") -> None:
    RiskListEntryChange.objects.create(
        entry=entry,
        action=action,
        from_status=before,
        to_status=entry.status,
        actor=actor,
        reason=(reason or "")[:300],
        at=timezone.now(),
    )


def _lock(entry: RiskListEntry) -> RiskListEntry:
    return RiskListEntry.objects.select_for_update().get(pk=entry.pk)


# --- checking input ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanEntry:
    id_number: str
    phone: str
    device_id: str
    level: str
    reason: str
    valid_from: datetime.date
    valid_until: datetime.date | None


def _clean_entry(
    *,
    id_number: str,
    level: str,
    reason: str,
    phone: str = "",
    device_id: str = "",
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
) -> CleanEntry:
    """Every field checked at once, so a form shows each refusal beside its field."""
    errors: dict[str, str] = {}
    today = business_today()
    try:
        id_number, _, _ = clean_id_number(id_number, today=today)
    except FieldError as exc:
        errors["id_number"] = str(exc)
    try:
        phone = clean_mobile(phone)
    except FieldError as exc:
        errors["phone"] = str(exc)
    device_id = normalise_text(device_id)
    if len(device_id) > MAX_DEVICE_ID:
        errors["device_id"] = f"设备标识最长{MAX_DEVICE_ID}个字符"
    if level not in ListLevel.values:
        errors["level"] = f"未知的名单级别：{level}"
    reason = normalise_text(reason)
    if not reason:
        errors["reason"] = "请填写列入原因"
    elif len(reason) > 300:
        errors["reason"] = "列入原因最长300个字"
    valid_from = valid_from or today
    if valid_until is not None and valid_until < valid_from:
        errors["valid_until"] = "失效日期不能早于生效日期"
    if errors:
        raise ValidationError(errors)
    return CleanEntry(id_number, phone, device_id, level, reason, valid_from, valid_until)


def _live_duplicate(*, owner_id, id_number: str, level: str, source: str) -> RiskListEntry | None:
    return (
        RiskListEntry.objects.filter(
            owner_id=owner_id,
            id_number_hash=id_number,  # the hash field hashes the plain text for the lookup
            level=level,
            source=source,
            source_ref="",
            status__in=LIVE_STATUSES,
        )
        .order_by("pk")
        .first()
    )


def risk_list_entry_propose_check(
    *,
    by,
    owner=_UNSET,
    id_number: str,
    level: str,
    reason: str,
    phone: str = "",
    device_id: str = "",
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
    source: str = ListSource.MANUAL,
) -> tuple[Institution | None, CleanEntry]:
    """Write-free: what ``risk_list_entry_propose`` refuses, for the admin form's ``clean()``.
    Returns the owner and the cleaned values."""
    owner = _default_owner(by) if owner is _UNSET else owner
    owner_id = owner.pk if owner is not None else None
    _check_can_act(by, owner_id, perm=PROPOSE_PERMISSION, doing="提议录入")
    if staff_of(by) is None:
        raise ValidationError({"created_by": "名单录入须由有员工身份的账号提议(双人复核留痕)"})
    if source not in ListSource.values:
        raise ValidationError({"source": f"未知的名单来源：{source}"})
    clean = _clean_entry(
        id_number=id_number,
        level=level,
        reason=reason,
        phone=phone,
        device_id=device_id,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    existing = _live_duplicate(
        owner_id=owner_id, id_number=clean.id_number, level=clean.level, source=source
    )
    if existing is not None:
        raise ValidationError(
            {
                "id_number": f"该身份证号已有{existing.get_status_display()}的同级"
                f"{existing.get_source_display()}名单(编号 {existing.pk})，无需重复录入"
            }
        )
    return owner, clean


@transaction.atomic
def risk_list_entry_propose(
    *,
    by,
    owner=_UNSET,
    id_number: str,
    level: str,
    reason: str,
    phone: str = "",
    device_id: str = "",
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
    source: str = ListSource.MANUAL,
) -> RiskListEntry:
    """A pending entry (待复核) that applies only once another person approves it. ``owner``
    defaults to the proposer's bank (the federation for federation staff); entries typed in by
    hand from a court notice or an overdue report may name that ``source``."""
    owner, clean = risk_list_entry_propose_check(
        by=by,
        owner=owner,
        id_number=id_number,
        level=level,
        reason=reason,
        phone=phone,
        device_id=device_id,
        valid_from=valid_from,
        valid_until=valid_until,
        source=source,
    )
    maker = staff_of(by)
    entry = RiskListEntry.objects.create(
        owner=owner,
        id_number=clean.id_number,
        phone=clean.phone,
        device_id=clean.device_id,
        level=clean.level,
        source=source,
        reason=clean.reason,
        valid_from=clean.valid_from,
        valid_until=clean.valid_until,
        status=Status.PENDING,
        created_by=maker,
    )
    _log(entry, Change.PROPOSE, "", maker, clean.reason)
    return entry


def _checker(entry: RiskListEntry, by, *, maker_id: int | None, doing: str) -> Staff:
    _check_can_act(by, entry.owner_id, perm=APPROVE_PERMISSION, doing=doing)
    checker = staff_of(by)
    if checker is None:
        raise ValidationError({"approved_by": "复核须由有员工身份的账号操作(双人复核留痕)"})
    if maker_id is not None and checker.pk == maker_id:
        raise ValidationError({"approved_by": "不能复核自己提议的名单变更，须由另一位人员复核"})
    return checker


@transaction.atomic
def risk_list_entry_approve(*, entry: RiskListEntry, by, reason: str = "") -> RiskListEntry:
    """Pending → active, by someone other than the proposer."""
    entry = _lock(entry)
    checker = _checker(entry, by, maker_id=entry.created_by_id, doing="复核")
    if entry.status != Status.PENDING:
        raise ValidationError(
            {"status": f"只有待复核的名单可以复核，当前为{entry.get_status_display()}"}
        )
    before = entry.status
    entry.approve()
    entry.approved_by = checker
    entry.approved_at = timezone.now()
    entry.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    _log(entry, Change.APPROVE, before, checker, reason)
    return entry


@transaction.atomic
def risk_list_entry_reject(*, entry: RiskListEntry, by, reason: str) -> RiskListEntry:
    """Pending → rejected, by someone other than the proposer, with the reason."""
    entry = _lock(entry)
    checker = _checker(entry, by, maker_id=entry.created_by_id, doing="复核")
    if entry.status != Status.PENDING:
        raise ValidationError(
            {"status": f"只有待复核的名单可以驳回，当前为{entry.get_status_display()}"}
        )
    reason = normalise_text(reason)
    if not reason:
        raise ValidationError({"reason": "请填写驳回意见"})
    before = entry.status
    entry.reject()
    entry.approved_by = checker
    entry.approved_at = timezone.now()
    entry.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    _log(entry, Change.REJECT, before, checker, reason)
    return entry


@transaction.atomic
def risk_list_entry_removal_propose(*, entry: RiskListEntry, by, reason: str) -> RiskListEntry:
    """Ask for an active entry (manual or automatic) to be removed; it keeps applying until
    another person approves the removal."""
    entry = _lock(entry)
    _check_can_act(by, entry.owner_id, perm=PROPOSE_PERMISSION, doing="提议移除")
    maker = staff_of(by)
    if maker is None:
        raise ValidationError({"removal_proposed_by": "移除须由有员工身份的账号提议(双人复核留痕)"})
    if entry.status != Status.ACTIVE:
        raise ValidationError(
            {"status": f"只有生效的名单可以提议移除，当前为{entry.get_status_display()}"}
        )
    if entry.removal_proposed_by_id is not None:
        raise ValidationError({"removal_proposed_by": "该名单已有待复核的移除提议"})
    reason = normalise_text(reason)
    if not reason:
        raise ValidationError({"removal_reason": "请填写移除原因"})
    entry.removal_proposed_by = maker
    entry.removal_proposed_at = timezone.now()
    entry.removal_reason = reason[:300]
    entry.save(
        update_fields=[
            "removal_proposed_by",
            "removal_proposed_at",
            "removal_reason",
            "updated_at",
        ]
    )
    _log(entry, Change.REMOVAL_PROPOSE, entry.status, maker, reason)
    return entry


def _removal_pending(entry: RiskListEntry) -> None:
    if entry.status != Status.ACTIVE or entry.removal_proposed_by_id is None:
        raise ValidationError({"removal_proposed_by": "该名单没有待复核的移除提议"})


@transaction.atomic
def risk_list_entry_removal_approve(*, entry: RiskListEntry, by, reason: str = "") -> RiskListEntry:
    """Active → removed, by someone other than the person who proposed the removal."""
    entry = _lock(entry)
    checker = _checker(entry, by, maker_id=entry.removal_proposed_by_id, doing="复核移除")
    _removal_pending(entry)
    before = entry.status
    entry.remove()
    entry.removed_by = checker
    entry.removed_at = timezone.now()
    entry.save(update_fields=["status", "removed_by", "removed_at", "updated_at"])
    _log(entry, Change.REMOVAL_APPROVE, before, checker, reason or entry.removal_reason)
    return entry


@transaction.atomic
def risk_list_entry_removal_reject(*, entry: RiskListEntry, by, reason: str) -> RiskListEntry:
    """Turn a removal proposal down: the entry stays active, the proposal is cleared."""
    entry = _lock(entry)
    checker = _checker(entry, by, maker_id=entry.removal_proposed_by_id, doing="复核移除")
    _removal_pending(entry)
    reason = normalise_text(reason)
    if not reason:
        raise ValidationError({"reason": "请填写驳回意见"})
    entry.removal_proposed_by = None
    entry.removal_proposed_at = None
    entry.removal_reason = ""
    entry.save(
        update_fields=[
            "removal_proposed_by",
            "removal_proposed_at",
            "removal_reason",
            "updated_at",
        ]
    )
    _log(entry, Change.REMOVAL_REJECT, entry.status, checker, reason)
    return entry


# --- automatic entries -------------------------------------------------------------------------


@transaction.atomic
def risk_list_entry_add_automatic(
    *,
    source: str,
    rule: str,
    id_number: str,
    level: str,
    reason: str,
    owner: Institution | None = None,
    source_ref: str = "",
    phone: str = "",
    device_id: str = "",
    household: Household | None = None,
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
) -> tuple[RiskListEntry, bool]:
    """An entry a rule writes (court data, overdue history, anti-fraud hit, post-loan warning):
    active at once, no checker, recorded with its source and ``rule``. Returns ``(entry,
    created)``.

    Idempotent: with ``source_ref`` (the record that triggered it: a case number, a warning id)
    the same record never makes a second entry for the subject, even after a person removed the
    first; without it, a live entry of the same owner, subject, level and source is returned
    as it is."""
    if source not in AUTOMATIC_SOURCES:
        raise ValidationError({"source": f"{source} 不是自动名单来源，人工录入须经双人复核"})
    rule = normalise_text(rule)
    if not rule:
        raise ValidationError({"rule": "自动名单须写明生成规则"})
    source_ref = normalise_text(source_ref)[:100]
    clean = _clean_entry(
        id_number=id_number,
        level=level,
        reason=reason,
        phone=phone,
        device_id=device_id,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    owner_id = owner.pk if owner is not None else None
    # Serialise writers of the same subject so two runs cannot both miss the other's insert
    # (keyed by the hash: the number itself never goes into a statement's text or a lock name).
    subject = pii.blind_index(clean.id_number, pii.ID_NUMBER).hex()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"risk_list:{subject}"])
    same = RiskListEntry.objects.filter(
        owner_id=owner_id, source=source, id_number_hash=clean.id_number
    )
    if source_ref:
        existing = same.filter(source_ref=source_ref).order_by("pk").first()
    else:
        existing = (
            same.filter(source_ref="", level=clean.level, status__in=LIVE_STATUSES)
            .order_by("pk")
            .first()
        )
    if existing is not None:
        return existing, False
    entry = RiskListEntry.objects.create(
        owner=owner,
        id_number=clean.id_number,
        phone=clean.phone,
        device_id=clean.device_id,
        level=clean.level,
        source=source,
        reason=clean.reason,
        rule=rule[:100],
        source_ref=source_ref,
        household=household,
        valid_from=clean.valid_from,
        valid_until=clean.valid_until,
        status=Status.ACTIVE,
        approved_at=timezone.now(),
    )
    _log(entry, Change.AUTO_ADD, "", None, f"规则 {rule}：{clean.reason}")
    return entry, True


@dataclass(frozen=True)
class PeerReviewSyncResult:
    added: int
    ended: int
    skipped_without_head: int


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@transaction.atomic
def risk_list_entries_sync_from_peer_review(
    *, bank: Institution | None = None, today: datetime.date | None = None
) -> PeerReviewSyncResult:
    """Bring the peer-review entries in line with each household's latest closed round, for one
    bank or (``bank=None``) every bank, set-based.

    - latest result black → blacklist-restrict, grey → greylist, on the head of household's ID
      number, owned by the round's bank, valid from the day the round closed for
      ``RISK_LIST_PEER_REVIEW_VALID_MONTHS`` (one year); a result whose year has already run out
      makes no entry;
    - the entry names the result (``source_ref``) it came from, so re-running adds nothing, and an
      entry a person removed is not brought back by the same result;
    - a later round that rates the household differently ends the entry (status 已移除, the
      reason and a change row saying why, no actor): green or white ends it, a new black or grey
      result ends it and makes the entry of the new result. Ending rather than back-dating
      ``valid_until`` keeps what applied on which day readable from the entry itself;
    - a household without a head (no ID number to list) is skipped and counted.
    """
    today = today or business_today()
    months = peer_review_valid_months()
    bank_filter = "AND rnd.bank_id = %(bank)s" if bank is not None else ""
    params = {
        "bank": bank.pk if bank is not None else None,
        "tz": settings.BUSINESS_TZ,
        "months": months,
        "today": today,
        "black": ListColour.BLACK.value,
        "grey": ListColour.GREY.value,
        "restrict": ListLevel.BLACKLIST_RESTRICT.value,
        "greylist": ListLevel.GREYLIST.value,
        "black_rule": PEER_REVIEW_RULES[ListColour.BLACK],
        "grey_rule": PEER_REVIEW_RULES[ListColour.GREY],
        "source": ListSource.PEER_REVIEW.value,
        "active": Status.ACTIVE.value,
        "removed": Status.REMOVED.value,
        "closed": PeerReviewRound.Status.CLOSED.value,
        "auto_add": Change.AUTO_ADD.value,
        "auto_end": Change.AUTO_END.value,
        "green_white": "评议结论转为绿名单或白名单，自动解除",
        "superseded": "被新一轮背靠背评议结论取代，自动解除",
    }
    entries = _table(RiskListEntry)
    changes = _table(RiskListEntryChange)
    with connection.cursor() as cursor:
        # One sync at a time: the nightly run and an admin click must not both insert.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('risk_list_peer_review_sync'))")
        cursor.execute("DROP TABLE IF EXISTS risk_list_pr_latest")
        cursor.execute(
            f"""
            CREATE TEMP TABLE risk_list_pr_latest ON COMMIT DROP AS
            SELECT DISTINCT ON (res.household_id)
                   res.household_id, res.id AS result_id, res.colour, rnd.bank_id, rnd.title,
                   (rnd.closed_at AT TIME ZONE %(tz)s)::date AS closed_on
            FROM {_table(PeerReviewResult)} res
            JOIN {_table(PeerReviewRound)} rnd ON rnd.id = res.round_id
            WHERE rnd.status = %(closed)s AND rnd.closed_at IS NOT NULL {bank_filter}
            ORDER BY res.household_id, rnd.closed_at DESC, rnd.id DESC
            """,
            params,
        )
        cursor.execute(
            f"""
            WITH ended AS (
                UPDATE {entries} e
                SET status = %(removed)s, removed_at = now(), updated_at = now(),
                    removal_reason = CASE WHEN l.colour IN (%(black)s, %(grey)s)
                                          THEN %(superseded)s ELSE %(green_white)s END
                FROM risk_list_pr_latest l
                WHERE e.source = %(source)s AND e.status = %(active)s
                  AND e.household_id = l.household_id AND e.source_ref <> l.result_id::text
                RETURNING e.id, e.removal_reason
            )
            INSERT INTO {changes} (entry_id, action, from_status, to_status, actor_id, reason, at)
            SELECT id, %(auto_end)s, %(active)s, %(removed)s, NULL, removal_reason, now()
            FROM ended
            """,
            params,
        )
        ended = cursor.rowcount
        cursor.execute(
            f"""
            SELECT count(*) FROM risk_list_pr_latest l
            JOIN {_table(Household)} h ON h.id = l.household_id
            WHERE l.colour IN (%(black)s, %(grey)s) AND h.head_id IS NULL
              AND (l.closed_on + make_interval(months => %(months)s))::date - 1 >= %(today)s
            """,
            params,
        )
        (skipped,) = cursor.fetchone()
        cursor.execute(
            f"""
            WITH wanted AS (
                SELECT l.*, m.id_number, m.id_number_hash,
                       CASE l.colour WHEN %(black)s THEN %(restrict)s ELSE %(greylist)s END
                           AS level,
                       CASE l.colour WHEN %(black)s THEN %(black_rule)s ELSE %(grey_rule)s END
                           AS rule,
                       (l.closed_on + make_interval(months => %(months)s))::date - 1
                           AS valid_until
                FROM risk_list_pr_latest l
                JOIN {_table(Household)} h ON h.id = l.household_id
                JOIN {_table(Member)} m ON m.id = h.head_id
                WHERE l.colour IN (%(black)s, %(grey)s)
            ), added AS (
                INSERT INTO {entries} (
                    owner_id, id_number, id_number_hash, phone, phone_hash, device_id, level,
                    source, reason, rule, source_ref, household_id, valid_from, valid_until,
                    status, created_at, approved_at, removal_reason, updated_at
                )
                SELECT w.bank_id, w.id_number, w.id_number_hash, ''::bytea, ''::bytea, '',
                       w.level, %(source)s,
                       left('背靠背评议“' || w.title || '”结论为'
                            || CASE w.colour WHEN %(black)s THEN '黑名单' ELSE '灰名单' END, 300),
                       w.rule, w.result_id::text, w.household_id, w.closed_on, w.valid_until,
                       %(active)s, now(), now(), '', now()
                FROM wanted w
                WHERE w.valid_until >= %(today)s
                  AND NOT EXISTS (
                      SELECT 1 FROM {entries} e
                      WHERE e.owner_id = w.bank_id AND e.source = %(source)s
                        AND e.source_ref = w.result_id::text
                  )
                ON CONFLICT DO NOTHING
                RETURNING id, rule, reason
            )
            INSERT INTO {changes} (entry_id, action, from_status, to_status, actor_id, reason, at)
            SELECT id, %(auto_add)s, '', %(active)s, NULL,
                   left('规则 ' || rule || '：' || reason, 300), now()
            FROM added
            """,
            params,
        )
        added = cursor.rowcount
    return PeerReviewSyncResult(added=added, ended=ended, skipped_without_head=skipped)
