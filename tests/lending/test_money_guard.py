"""No code path changes a loan's money columns without holding the loan: the writes live in the
servicing services only, and every function that writes them locks the loan row itself or is
called only from functions that do (the close of business's SQL locks its rows ``FOR UPDATE``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

MONEY = (
    "principal_outstanding",
    "interest_outstanding",
    "penalty_outstanding",
    "principal_due",
    "interest_due",
    "principal_overdue",
    "interest_overdue",
    "suspense_balance",
    "accrual_carry",
    "written_off",
    "recovered",
)
APPS = ("common", "org", "villages", "products", "risk", "lending", "config")
# Where a loan's money may be written: the services of servicing and the day's close.
ALLOWED = {
    "lending/loans/services/_disbursement.py",
    "lending/loans/services/_repayments.py",
    "lending/loans/services/_replay.py",
    "lending/loans/services/_writeoff.py",
    "lending/loans/accrual.py",
}
LOCKS = ("_lock_for_posting(", "_locked(", "select_for_update(")
ASSIGNED = re.compile(rf"\.({'|'.join(MONEY)})\s*[-+]?=(?!=)")
SQL_SET = re.compile(rf"\b({'|'.join(MONEY)})\s*=\s*(l\.|c\.|d\.|CASE|round|0|%)", re.I)


def _sources():
    root = Path(settings.BASE_DIR)
    for app in APPS:
        for path in (root / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path.relative_to(root).as_posix(), path.read_text()


def test_only_the_servicing_services_write_a_loans_money():
    writers = {
        name
        for name, text in _sources()
        if ASSIGNED.search(text) or ("UPDATE lending_loan" in text and SQL_SET.search(text))
    }
    assert writers, "the pattern finds nothing: it no longer matches the code"
    assert writers <= ALLOWED, sorted(writers - ALLOWED)


def _functions(text: str) -> dict[str, str]:
    tree = ast.parse(text)
    return {
        node.name: ast.get_source_segment(text, node)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
    }


def test_every_write_of_a_loans_money_holds_the_loan():
    functions: dict[str, str] = {}
    for name, text in _sources():
        if name in ALLOWED:
            functions.update(_functions(text))
    writers = {name for name, body in functions.items() if ASSIGNED.search(body)}
    assert writers

    def holds(name: str, path: tuple[str, ...]) -> bool:
        """``name`` locks the loan itself, or every function calling it does (transitively)."""
        if any(lock in functions[name] for lock in LOCKS):
            return True
        callers = [
            other for other, body in functions.items() if f"{name}(" in body and other != name
        ]
        assert callers, f"{' ← '.join(path)} writes a loan's money; no caller holds the loan"
        return all(holds(caller, (*path, caller)) for caller in callers if caller not in path)

    for writer in writers:
        assert holds(writer, (writer,)), f"{writer} writes a loan's money without its lock"
    accrual = dict(_sources())["lending/loans/accrual.py"]
    assert "FOR UPDATE" in accrual  # the day's close locks the rows it accrues
