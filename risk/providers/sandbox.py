"""Sandbox providers (沙箱): answer like the real sources, deterministically from the ID number, so
demos and tests are reproducible. Not for production (the system check warns).

Each answer is drawn from uniform numbers computed from the ID number (splitmix64 over the
number's digits and a per-source salt, on arrays, so one subject and a million give the same
values), in a realistic mix close to the Linfen rejection ratios:

- credit report (人行征信): about 10 % hard hits with the seeded admission rules — 3 % current
  overdue, 4 % three or more overdue months in 24, 1.5 % bad debt or guarantor compensation,
  2 % six or more loan-approval inquiries in 3 months;
- court (法院数据): 1 % consumption restriction, 0.5 % dishonest judgment debtors;
- borrowing (借贷意向): 8 % internet borrowing intent, 3 % five or more internet lenders in 90 days;
- anti-fraud: scores 0–59 for most, 4 % 60–79 (refer), 2 % 80–99 (reject);
- tax and social security: annual tax, months of social security and provident fund.

Responses are JSON documents shaped like a bank-facing service's (nested, camelCase), and
``parse`` reads them strictly, so a broken document fails as a real one would. Options:
``faults`` (``{id_number: "timeout" | "unavailable" | "malformed" | "empty"}``) makes named
subjects fail that way, deterministically; ``latency_ms`` sleeps before answering.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from risk.external_features import ANTIFRAUD, BORROWING, COURT, CREDIT_REPORT, TAX_SOCIAL
from risk.providers.base import (
    EMPTY,
    MALFORMED,
    TIMEOUT,
    UNAVAILABLE,
    ExternalDataProvider,
    ProviderEmpty,
    ProviderMalformed,
    ProviderTimeout,
    ProviderUnavailable,
    Subject,
)

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SALTS = {
    CREDIT_REPORT: 0x1C0FFEE1,
    COURT: 0x2C0FFEE2,
    BORROWING: 0x3C0FFEE3,
    ANTIFRAUD: 0x4C0FFEE4,
    TAX_SOCIAL: 0x5C0FFEE5,
}
_ERRORS = {
    TIMEOUT: ProviderTimeout,
    UNAVAILABLE: ProviderUnavailable,
    MALFORMED: ProviderMalformed,
    EMPTY: ProviderEmpty,
}


def _numbers(id_numbers: Sequence[str]) -> np.ndarray:
    """Each ID number as an integer (17 digits × 11 + the check character), on arrays when
    every number is 18 ASCII characters (the stored form), one by one otherwise."""
    n = len(id_numbers)
    raw = "".join(id_numbers).encode("ascii", "replace")
    if n and len(raw) == 18 * n:
        digits = np.frombuffer(raw, dtype=np.uint8).reshape(n, 18).astype(np.int64) - 48
        body = digits[:, :17]
        if ((body >= 0) & (body <= 9)).all():
            powers = 10 ** np.arange(16, -1, -1, dtype=np.uint64)
            numbers = (body.astype(np.uint64) * powers).sum(axis=1, dtype=np.uint64)
            last = digits[:, 17]
            last = np.where(last == ord("X") - 48, 10, np.clip(last, 0, 9)).astype(np.uint64)
            with np.errstate(over="ignore"):
                return numbers * np.uint64(11) + last
    out = np.empty(n, dtype=np.uint64)
    for i, text in enumerate(id_numbers):
        body = int(text[:17]) if text[:17].isdigit() else abs(hash(text))
        last = text[17:18]
        check = 10 if last == "X" else int(last) if last.isdigit() else 0
        out[i] = (body * 11 + check) % (1 << 64)
    return out


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = (x + _GOLDEN) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


def draws(id_numbers: Sequence[str], source: str, k: int) -> np.ndarray:
    """(n, k) uniform numbers in [0, 1), a pure function of the ID number and the source."""
    x = _numbers(id_numbers) ^ np.uint64(_SALTS[source])
    out = np.empty((len(id_numbers), k))
    for j in range(k):
        x = _splitmix(x)
        out[:, j] = (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return out


def _pick(u: np.ndarray, cuts: Sequence[float], values: Sequence[np.ndarray]) -> np.ndarray:
    """``values[0]`` where ``u < cuts[0]``, ``values[1]`` where below ``cuts[1]``, …, else the
    last value."""
    return np.select([u < c for c in cuts], values[:-1], values[-1])


class _Sandbox(ExternalDataProvider):
    sandbox = True

    def _faults(self) -> Mapping[str, str]:
        return self.options.get("faults") or {}

    def _wait(self, timeout: float) -> None:
        latency = float(self.options.get("latency_ms") or 0) / 1000
        if latency:
            if latency > timeout:
                time.sleep(timeout)
                raise ProviderTimeout(f"{self.label}：超过 {timeout} 秒未应答")
            time.sleep(latency)

    def columns(self, id_numbers: Sequence[str]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def document(self, values: Mapping[str, float], id_number: str) -> dict:
        raise NotImplementedError

    def fetch(self, subject: Subject, *, timeout: float) -> Mapping:
        self._wait(timeout)
        fault = self._faults().get(subject.id_number)
        if fault in (TIMEOUT, UNAVAILABLE):
            raise _ERRORS[fault](f"{self.label}：{fault}")
        if fault == EMPTY:
            return {}
        values = {name: float(col[0]) for name, col in self.columns([subject.id_number]).items()}
        document = self.document(values, subject.id_number)
        if fault == MALFORMED:
            document = {"code": "0000", "data": "<html>网关错误</html>"}
        return document

    def answer_many(self, id_numbers: Sequence[str]):
        columns = self.columns(id_numbers)
        kinds = np.full(len(id_numbers), "", dtype=object)
        faults = self._faults()
        if faults:
            for i, number in enumerate(id_numbers):
                if number in faults:
                    kinds[i] = faults[number]
        failed = kinds != ""
        if failed.any():
            for name in columns:
                columns[name] = np.where(failed, np.nan, columns[name])
        return columns, kinds


def _flag(value) -> float:
    if not isinstance(value, bool):
        raise ProviderMalformed("应为布尔值")
    return 1.0 if value else 0.0


def _count(value) -> float:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProviderMalformed("应为非负整数")
    return float(value)


def _amount(value) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise ProviderMalformed("应为金额") from None
    if number != number or number < 0:
        raise ProviderMalformed("应为非负金额")
    return number


def _section(raw: Mapping, key: str) -> Mapping:
    if not raw:
        raise ProviderEmpty("没有数据")
    section = raw.get(key) if isinstance(raw, Mapping) else None
    if not isinstance(section, Mapping):
        raise ProviderMalformed(f"缺少 {key}")
    return section


class SandboxCreditReportProvider(_Sandbox):
    source, label = CREDIT_REPORT, "沙箱人行征信"

    def columns(self, id_numbers):
        u = draws(id_numbers, CREDIT_REPORT, 8)
        zero = np.zeros(len(id_numbers))
        return {
            "credit_current_overdue": (u[:, 0] < 0.03).astype(float),
            "credit_overdue_months_24m": _pick(
                u[:, 1], [0.04, 0.15], [3 + np.floor(u[:, 2] * 6), 1 + np.floor(u[:, 2] * 2), zero]
            ),
            "credit_bad_debt": (u[:, 3] < 0.01).astype(float),
            "credit_guarantor_compensation": ((u[:, 3] >= 0.01) & (u[:, 3] < 0.015)).astype(float),
            "credit_hard_inquiries_3m": _pick(
                u[:, 4],
                [0.02, 0.07],
                [6 + np.floor(u[:, 5] * 4), 4 + np.floor(u[:, 5] * 2), np.floor(u[:, 5] * 4)],
            ),
            "credit_outstanding_debt": np.where(
                u[:, 6] < 0.4, 0.0, np.round(np.exp(8.5 + 2.5 * u[:, 7]), 2)
            ),
            "credit_lenders": _pick(
                u[:, 6], [0.4, 0.97], [zero, 1 + np.floor(u[:, 7] * 3), 5 + np.floor(u[:, 7] * 2)]
            ),
        }

    def document(self, v, id_number):
        return {
            "reportNo": f"SBX-CR-{id_number[-6:]}",
            "queryReason": "贷款审批",
            "summary": {
                "currentOverdue": bool(v["credit_current_overdue"]),
                "overdueMonths24": int(v["credit_overdue_months_24m"]),
                "badDebt": bool(v["credit_bad_debt"]),
                "guarantorCompensation": bool(v["credit_guarantor_compensation"]),
                "hardInquiries3m": int(v["credit_hard_inquiries_3m"]),
                "outstandingBalance": f"{v['credit_outstanding_debt']:.2f}",
                "lenderCount": int(v["credit_lenders"]),
            },
        }

    def parse(self, raw):
        s = _section(raw, "summary")
        try:
            return {
                "credit_current_overdue": _flag(s["currentOverdue"]),
                "credit_overdue_months_24m": _count(s["overdueMonths24"]),
                "credit_bad_debt": _flag(s["badDebt"]),
                "credit_guarantor_compensation": _flag(s["guarantorCompensation"]),
                "credit_hard_inquiries_3m": _count(s["hardInquiries3m"]),
                "credit_outstanding_debt": _amount(s["outstandingBalance"]),
                "credit_lenders": _count(s["lenderCount"]),
            }
        except KeyError as missing:
            raise ProviderMalformed(f"缺少字段 {missing}") from None


class SandboxCourtProvider(_Sandbox):
    source, label = COURT, "沙箱法院数据"

    def columns(self, id_numbers):
        u = draws(id_numbers, COURT, 2)
        return {
            "court_consumption_restricted": (u[:, 0] < 0.01).astype(float),
            "dishonest_debtor": (u[:, 1] < 0.005).astype(float),
        }

    def document(self, v, id_number):
        return {
            "caseQuery": {
                "consumptionRestricted": bool(v["court_consumption_restricted"]),
                "dishonestDebtor": bool(v["dishonest_debtor"]),
                "cases": [],
            }
        }

    def parse(self, raw):
        s = _section(raw, "caseQuery")
        try:
            return {
                "court_consumption_restricted": _flag(s["consumptionRestricted"]),
                "dishonest_debtor": _flag(s["dishonestDebtor"]),
            }
        except KeyError as missing:
            raise ProviderMalformed(f"缺少字段 {missing}") from None


class SandboxBorrowingProvider(_Sandbox):
    source, label = BORROWING, "沙箱借贷意向"

    def columns(self, id_numbers):
        u = draws(id_numbers, BORROWING, 3)
        return {
            "internet_lenders_90d": _pick(
                u[:, 1],
                [0.03, 0.10],
                [5 + np.floor(u[:, 2] * 4), 3 + np.floor(u[:, 2] * 2), np.floor(u[:, 2] * 3)],
            ),
            "borrowing_intent": (u[:, 0] < 0.08).astype(float),
        }

    def document(self, v, id_number):
        return {
            "result": {
                "applyOrgCount90d": int(v["internet_lenders_90d"]),
                "loanIntent": "HIGH" if v["borrowing_intent"] else "NONE",
            }
        }

    def parse(self, raw):
        s = _section(raw, "result")
        try:
            intent = s["loanIntent"]
            if intent not in ("HIGH", "NONE"):
                raise ProviderMalformed("借贷意向取值无法识别")
            return {
                "internet_lenders_90d": _count(s["applyOrgCount90d"]),
                "borrowing_intent": 1.0 if intent == "HIGH" else 0.0,
            }
        except KeyError as missing:
            raise ProviderMalformed(f"缺少字段 {missing}") from None


class SandboxAntifraudProvider(_Sandbox):
    source, label = ANTIFRAUD, "沙箱外部反欺诈"

    def columns(self, id_numbers):
        u = draws(id_numbers, ANTIFRAUD, 3)
        return {
            "antifraud_score": _pick(
                u[:, 1],
                [0.02, 0.06],
                [80 + np.floor(u[:, 2] * 20), 60 + np.floor(u[:, 2] * 20), np.floor(u[:, 0] * 60)],
            )
        }

    def document(self, v, id_number):
        return {"risk": {"score": int(v["antifraud_score"]), "version": "sandbox-1"}}

    def parse(self, raw):
        s = _section(raw, "risk")
        try:
            score = _count(s["score"])
        except KeyError:
            raise ProviderMalformed("缺少字段 score") from None
        if score > 100:
            raise ProviderMalformed("反欺诈评分超出0至100")
        return {"antifraud_score": score}


class SandboxTaxSocialProvider(_Sandbox):
    source, label = TAX_SOCIAL, "沙箱税务社保公积金"

    def columns(self, id_numbers):
        u = draws(id_numbers, TAX_SOCIAL, 5)
        return {
            "tax_paid_annual": np.where(u[:, 0] < 0.7, 0.0, np.floor(500 + u[:, 1] * 20000)),
            "social_security_months": np.floor(u[:, 2] * 120),
            "provident_fund_months": np.where(u[:, 3] < 0.15, np.floor(u[:, 4] * 200), 0.0),
        }

    def document(self, v, id_number):
        return {
            "tax": {"paidLast12m": f"{v['tax_paid_annual']:.2f}"},
            "socialSecurity": {"continuousMonths": int(v["social_security_months"])},
            "housingFund": {"continuousMonths": int(v["provident_fund_months"])},
        }

    def parse(self, raw):
        tax = _section(raw, "tax")
        try:
            return {
                "tax_paid_annual": _amount(tax["paidLast12m"]),
                "social_security_months": _count(
                    _section(raw, "socialSecurity")["continuousMonths"]
                ),
                "provident_fund_months": _count(_section(raw, "housingFund")["continuousMonths"]),
            }
        except KeyError as missing:
            raise ProviderMalformed(f"缺少字段 {missing}") from None


SANDBOX_PROVIDERS = {
    CREDIT_REPORT: "risk.providers.sandbox.SandboxCreditReportProvider",
    COURT: "risk.providers.sandbox.SandboxCourtProvider",
    BORROWING: "risk.providers.sandbox.SandboxBorrowingProvider",
    ANTIFRAUD: "risk.providers.sandbox.SandboxAntifraudProvider",
    TAX_SOCIAL: "risk.providers.sandbox.SandboxTaxSocialProvider",
}
