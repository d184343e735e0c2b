"""The close of a day for a range of loans, as set-based SQL (no per-loan Python loop).

One function, ``loans_close_day``, serves both the nightly close of business over a million loans
(``lending.cob`` calls it per chunk of ids) and the inline catch-up of one loan before a
repayment posts (the same range with one id): the same statements, so the two cannot disagree.

The close of day ``d`` brings a loan to its state at the start of ``d + 1``, in this order:

1. **accrue** day ``d`` (the loan's ``accrued_through`` moves from ``d - 1`` to ``d``):
   interest = outstanding principal × rate ÷ 360 plus the carried sub-fen remainder, posted
   rounded half-up to the fen and the rest carried exactly (``Loan.accrual_carry``), so the
   posted total is always the exact total rounded half-up, not a sum of daily roundings; penalty = overdue principal × rate × (1 + markup)
   ÷ 360 and, where the product says so, compound interest = overdue interest × the same
   penalty rate, each rounded half-up to the fen per day. Interest runs from the start day and
   not on the repayment day (算头不算尾): a loan repaid on ``r`` is not outstanding at the
   close of ``r``.
2. **settle** (结息) instalments falling due on ``d + 1``: the interest accrued since the last
   settlement becomes the instalment's interest due (for every method: interest is owed by
   actual days, the calculator's amortising figures are the projection shown until then), and
   the instalment's principal becomes due.
3. **overdue**: an instalment unpaid at the close of its due date plus the grace days is
   overdue; days past due count from the oldest overdue due date; the loan's overdue
   principal and interest are recomputed from its instalments.
4. **classify** (五级分类) by days past due against ``LOAN_CLASSIFICATION_DAYS``; a class set by
   hand is a floor the automatic class never rises above.

Re-running a day writes nothing: accrual only touches loans whose ``accrued_through`` is
``d - 1``, settlement only unsettled instalments, and the other steps update a row only when a
value changes. Steps 2–4 only touch loans already closed through ``d`` (a loan brought ahead by
an inline catch-up is never moved back).

Journal: one entry per step, day and range (reference ``COB<step>-<d>-<first>-<last>``) whose
lines carry each loan's id, so balances per loan stay one indexed sum and the ledger's
balanced-entry trigger checks every statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import connection

from lending.ledger.models import Account, EntryKind

STEPS = ("accrue", "settle", "overdue", "classify")


@dataclass
class DayResult:
    accrued: int = 0
    settled: int = 0
    overdue: int = 0
    classified: int = 0

    def add(self, other: DayResult) -> None:
        for name in ("accrued", "settled", "overdue", "classified"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            "accrued": self.accrued,
            "settled": self.settled,
            "overdue": self.overdue,
            "classified": self.classified,
        }


_ACCRUE = f"""
WITH calc AS (
    SELECT id,
           CASE WHEN principal_outstanding > 0
                THEN principal_outstanding * rate + accrual_carry ELSE 0 END AS exact,
           round(principal_overdue * rate * (100 + penalty_markup_pct) / 3600000, 2) AS penalty,
           CASE WHEN compound_interest
                THEN round(interest_overdue * rate * (100 + penalty_markup_pct) / 3600000, 2)
                ELSE 0 END AS compound
      FROM lending_loan
     WHERE bank_id = %(bank)s AND id BETWEEN %(first)s AND %(last)s
       AND status = 'active' AND accrued_through = %(day)s::date - 1
     ORDER BY id
       FOR UPDATE
), upd AS (
    UPDATE lending_loan l
       SET interest_outstanding = l.interest_outstanding + round(c.exact / 36000, 2),
           accrual_carry = CASE WHEN l.principal_outstanding = 0 THEN l.accrual_carry
                                ELSE c.exact - round(c.exact / 36000, 2) * 36000 END,
           penalty_outstanding = l.penalty_outstanding + c.penalty + c.compound,
           accrued_through = %(day)s,
           version = l.version + 1
      FROM calc c
     WHERE l.id = c.id
 RETURNING l.id, round(c.exact / 36000, 2) AS interest, c.penalty, c.compound
), entry AS (
    INSERT INTO lending_journalentry (bank_id, loan_id, kind, value_date, posted_at, reference, memo)
    SELECT %(bank)s, NULL, {EntryKind.ACCRUAL.value}, %(day)s, now(), %(reference)s, '日终计提利息、罚息'
     WHERE EXISTS (SELECT 1 FROM upd WHERE interest <> 0 OR penalty <> 0 OR compound <> 0)
 RETURNING id
), lines AS (
    INSERT INTO lending_journalline (entry_id, account, amount, loan_id)
    SELECT e.id, x.account, x.amount, u.id
      FROM entry e CROSS JOIN upd u
     CROSS JOIN LATERAL (VALUES
        ({Account.INTEREST_RECEIVABLE.value}, u.interest),
        ({Account.INTEREST_INCOME.value}, -u.interest),
        ({Account.PENALTY_RECEIVABLE.value}, u.penalty + u.compound),
        ({Account.PENALTY_INCOME.value}, -(u.penalty + u.compound))
     ) AS x(account, amount)
     WHERE x.amount <> 0
)
SELECT count(*) FROM upd
"""

_SETTLE = """
WITH due AS (
    SELECT i.id AS instalment_id, l.id AS loan_id,
           l.interest_outstanding - l.interest_due AS interest,
           i.principal_due - i.principal_paid AS principal
      FROM lending_loan l
      JOIN lending_instalment i ON i.loan_id = l.id
     WHERE l.bank_id = %(bank)s AND l.id BETWEEN %(first)s AND %(last)s
       AND l.status = 'active' AND l.accrued_through = %(day)s
       AND i.due_date = %(day)s::date + 1 AND NOT i.interest_settled
), inst AS (
    UPDATE lending_instalment i
       SET interest_due = d.interest + i.interest_paid, interest_settled = true
      FROM due d
     WHERE i.id = d.instalment_id
)
UPDATE lending_loan l
   SET interest_due = l.interest_due + d.interest,
       principal_due = l.principal_due + d.principal,
       version = l.version + 1
  FROM due d
 WHERE l.id = d.loan_id
"""

# Instalments still owing something that fell due by the close of ``day``; the loan's due and
# overdue figures recomputed from them (only loans that have something due, or had).
_OVERDUE = """
WITH owing AS (
    SELECT l.id AS loan_id,
           coalesce(sum(i.principal_due - i.principal_paid)
                    FILTER (WHERE i.due_date + l.grace_days <= %(day)s), 0) AS principal_overdue,
           coalesce(sum(i.interest_due - i.interest_paid)
                    FILTER (WHERE i.due_date + l.grace_days <= %(day)s), 0) AS interest_overdue,
           min(i.due_date) FILTER (WHERE i.due_date + l.grace_days <= %(day)s) AS overdue_since
      FROM lending_loan l
      LEFT JOIN lending_instalment i
        ON i.loan_id = l.id AND i.due_date <= %(day)s AND i.interest_settled
       AND (i.principal_paid < i.principal_due OR i.interest_paid < i.interest_due)
     WHERE l.bank_id = %(bank)s AND l.id BETWEEN %(first)s AND %(last)s
       AND l.status = 'active' AND l.accrued_through = %(day)s
       AND (l.principal_due > 0 OR l.interest_due > 0 OR l.days_past_due > 0
            OR l.principal_overdue > 0 OR l.interest_overdue > 0)
     GROUP BY l.id
), computed AS (
    SELECT loan_id, principal_overdue, interest_overdue, overdue_since,
           CASE WHEN overdue_since IS NULL THEN 0
                ELSE %(day)s::date - overdue_since + 1 END AS days_past_due
      FROM owing
)
UPDATE lending_loan l
   SET principal_overdue = c.principal_overdue,
       interest_overdue = c.interest_overdue,
       overdue_since = c.overdue_since,
       days_past_due = c.days_past_due,
       version = l.version + 1
  FROM computed c
 WHERE l.id = c.loan_id
   AND (l.principal_overdue, l.interest_overdue, l.overdue_since, l.days_past_due)
       IS DISTINCT FROM (c.principal_overdue, c.interest_overdue, c.overdue_since,
                         c.days_past_due)
"""

_CLASSIFY = """
WITH computed AS (
    SELECT id,
           greatest(coalesce(loan_class_floor, 1),
                    CASE WHEN days_past_due > %(loss)s THEN 5
                         WHEN days_past_due > %(doubtful)s THEN 4
                         WHEN days_past_due > %(substandard)s THEN 3
                         WHEN days_past_due > 0 THEN 2
                         ELSE 1 END) AS loan_class
      FROM lending_loan
     WHERE bank_id = %(bank)s AND id BETWEEN %(first)s AND %(last)s
       AND status = 'active' AND accrued_through = %(day)s
)
UPDATE lending_loan l
   SET loan_class = c.loan_class
  FROM computed c
 WHERE l.id = c.id AND l.loan_class <> c.loan_class
"""


def classification_days() -> dict[str, int]:
    """Days past due beyond which a loan is substandard, doubtful, loss (configuration)."""
    substandard, doubtful, loss = settings.LOAN_CLASSIFICATION_DAYS
    return {"substandard": substandard, "doubtful": doubtful, "loss": loss}


def loans_close_day(
    *, bank_id: int, day: date, first_id: int, last_id: int, steps=STEPS, tag: str = ""
) -> DayResult:
    """Close ``day`` for the bank's active loans with ids in ``[first_id, last_id]``; runs in
    the caller's transaction (a chunk, or a repayment's inline catch-up), which must commit or
    roll back the whole day for the range. ``tag`` tells a replay's accruals from the first
    ones in the journal's references."""
    params = {"bank": bank_id, "day": day, "first": first_id, "last": last_id}
    result = DayResult()
    with connection.cursor() as cursor:
        if "accrue" in steps:
            reference = f"COBA-{day}-{first_id}-{last_id}{tag}"
            cursor.execute(_ACCRUE, {**params, "reference": reference})
            result.accrued = cursor.fetchone()[0]
        if "settle" in steps:
            cursor.execute(_SETTLE, params)
            result.settled = cursor.rowcount
        if "overdue" in steps:
            cursor.execute(_OVERDUE, params)
            result.overdue = cursor.rowcount
        if "classify" in steps:
            cursor.execute(_CLASSIFY, {**params, **classification_days()})
            result.classified = cursor.rowcount
    return result


def loan_catch_up(*, loan, through: date) -> DayResult:
    """Inline close of business: bring one loan (its row already locked by the caller) from its
    ``accrued_through`` to the close of ``through``, day by day."""
    result = DayResult()
    if loan.accrued_through is None:
        return result
    day = loan.accrued_through + timedelta(days=1)
    while day <= through:
        result.add(
            loans_close_day(bank_id=loan.bank_id, day=day, first_id=loan.pk, last_id=loan.pk)
        )
        day += timedelta(days=1)
    return result
