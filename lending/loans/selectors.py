"""Reads of loans."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from lending.ledger.models import Account

# The balances a loan keeps for speed against the sums of its journal lines (debit positive;
# suspense is a credit, so the loan's suspense balance is minus its account's sum).
_OUT_OF_BALANCE = f"""
WITH journal AS (
    SELECT loan_id,
           sum(amount) FILTER (WHERE account = {Account.LOAN_PRINCIPAL.value}) AS principal,
           sum(amount) FILTER (WHERE account = {Account.INTEREST_RECEIVABLE.value}) AS interest,
           sum(amount) FILTER (WHERE account = {Account.PENALTY_RECEIVABLE.value}) AS penalty,
           -sum(amount) FILTER (WHERE account = {Account.SUSPENSE.value}) AS suspense
      FROM lending_journalline
     WHERE loan_id IS NOT NULL AND (%(every)s OR loan_id = ANY(%(ids)s))
     GROUP BY loan_id
)
SELECT l.id
  FROM lending_loan l
  LEFT JOIN journal j ON j.loan_id = l.id
 WHERE (%(every)s OR l.id = ANY(%(ids)s))
   AND (l.principal_outstanding, l.interest_outstanding, l.penalty_outstanding,
        l.suspense_balance)
       IS DISTINCT FROM (coalesce(j.principal, 0), coalesce(j.interest, 0),
                         coalesce(j.penalty, 0), coalesce(j.suspense, 0))
 ORDER BY l.id
"""


def loans_out_of_balance(*, loan_ids: Iterable[int] | None = None) -> list[int]:
    """Ids of loans whose kept balances (principal, interest, penalty, suspense) differ from
    their journal: empty when the books and the loans agree. All loans when no ids are given."""
    ids = list(loan_ids) if loan_ids is not None else []
    with connection.cursor() as cursor:
        cursor.execute(_OUT_OF_BALANCE, {"every": loan_ids is None, "ids": ids})
        return [row[0] for row in cursor.fetchall()]
