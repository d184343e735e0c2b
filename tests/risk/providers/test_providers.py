"""External data providers: the sandbox's deterministic mix, failures as named problems, the
cache and its time to live, one path for a subject and for a column, configuration by dotted
path, the system check and the call log's admin."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import numpy as np
import pytest
from django.core.checks import run_checks
from django.test import override_settings

from risk.providers.base import (
    ExternalDataProvider,
    ProviderUnavailable,
    Subject,
    provider_problem,
)
from risk.providers.models import ProviderCacheEntry, ProviderCall
from risk.providers.registry import clear
from risk.providers.sandbox import (
    SandboxAntifraudProvider,
    SandboxBorrowingProvider,
    SandboxCourtProvider,
    SandboxCreditReportProvider,
)
from risk.providers.services import external_data_fetch, external_data_fetch_columns
from villages.demo import make_id_number


@pytest.fixture(autouse=True)
def _fresh_registry():
    clear()
    yield
    clear()


def _ids(count: int, start: int = 0) -> list[str]:
    base = datetime.date(1960, 1, 1)
    return [
        make_id_number(
            "141002", base + datetime.timedelta(days=(n * 7) % 14000), n % 997, n % 2 == 0
        )
        for n in range(start, start + count)
    ]


def test_the_sandbox_mix_matches_the_linfen_ratios():
    ids = _ids(20_000)
    credit = SandboxCreditReportProvider().columns(ids)
    hard = (
        (credit["credit_current_overdue"] == 1)
        | (credit["credit_overdue_months_24m"] >= 3)
        | (credit["credit_bad_debt"] == 1)
        | (credit["credit_guarantor_compensation"] == 1)
        | (credit["credit_hard_inquiries_3m"] >= 6)
    )
    court = SandboxCourtProvider().columns(ids)
    borrowing = SandboxBorrowingProvider().columns(ids)
    fraud = SandboxAntifraudProvider().columns(ids)["antifraud_score"]
    assert 0.085 < hard.mean() < 0.115
    assert 0.006 < court["court_consumption_restricted"].mean() < 0.014
    assert 0.003 < court["dishonest_debtor"].mean() < 0.008
    assert 0.07 < borrowing["borrowing_intent"].mean() < 0.09
    assert 0.01 < (fraud >= 80).mean() < 0.03
    assert fraud.min() >= 0
    assert fraud.max() <= 99


def test_the_sandbox_answers_the_same_for_the_same_id_number():
    ids = _ids(50)
    provider = SandboxCreditReportProvider()
    first, again = provider.columns(ids), provider.columns(list(reversed(ids)))
    for name, column in first.items():
        assert column.tolist() == list(reversed(again[name].tolist()))
    one = provider.parse(provider.fetch(Subject(ids[3]), timeout=1))
    assert one == {name: column[3] for name, column in first.items()}


@pytest.mark.parametrize(
    ("kind", "code", "text"),
    [
        ("timeout", "credit_report_timeout", "征信查询超时"),
        ("unavailable", "credit_report_unavailable", "征信服务异常"),
        ("malformed", "credit_report_malformed", "征信返回数据无法解析"),
        ("empty", "credit_report_empty", "征信未返回数据"),
    ],
)
def test_a_failure_is_a_named_problem_logged_and_never_cached(province, kind, code, text):
    subject = _ids(1, start=500)[0]
    bank = province["bank1"]
    faults = {"credit_report": {"options": {"faults": {subject: kind}}}}
    with override_settings(RISK_EXTERNAL_PROVIDERS=faults):
        answer = external_data_fetch(
            bank_id=bank.pk,
            subject=Subject(subject),
            purpose="application",
            sources=["credit_report", "court"],
        )
    assert answer.problems == (("credit_report", code, text),)
    assert answer.features["credit_current_overdue"] is None
    assert answer.features["dishonest_debtor"] in (0.0, 1.0)
    call = ProviderCall.objects.get(source="credit_report")
    assert call.outcome == kind
    cached = ProviderCacheEntry.objects.get(bank=bank)
    assert cached.fetched[0] is None  # the failed source is not cached
    assert cached.fetched[1] is not None  # the court answer is


def test_the_cache_answers_within_the_ttl_and_calls_again_after(province):
    bank = province["bank1"]
    subject = Subject(_ids(1, start=900)[0])
    now = datetime.datetime(2026, 12, 1, 10, tzinfo=datetime.UTC)
    external_data_fetch(bank_id=bank.pk, subject=subject, purpose="application", now=now)
    assert ProviderCall.objects.count() == 5
    later = now + datetime.timedelta(hours=2)
    again = external_data_fetch(bank_id=bank.pk, subject=subject, purpose="application", now=later)
    assert ProviderCall.objects.count() == 5
    assert {origin for origin, _ in again.origins.values()} == {"cache"}
    # A day and more later the anti-fraud answer (ttl one day) is asked again; the rest not.
    next_day = now + datetime.timedelta(days=1, minutes=1)
    external_data_fetch(bank_id=bank.pk, subject=subject, purpose="application", now=next_day)
    assert ProviderCall.objects.count() == 6
    assert ProviderCall.objects.order_by("-id").first().source == "antifraud"
    # Another bank never reads the first bank's answers.
    external_data_fetch(
        bank_id=province["bank2"].pk, subject=subject, purpose="application", now=later
    )
    assert ProviderCall.objects.count() == 11


def test_a_subject_and_a_column_give_the_same_answers(province):
    bank = province["bank1"]
    ids = _ids(40, start=2000)
    faults = {"court": {"options": {"faults": {ids[3]: "timeout", ids[7]: "malformed"}}}}
    with override_settings(RISK_EXTERNAL_PROVIDERS=faults):
        columns = external_data_fetch_columns(bank_id=bank.pk, id_numbers=ids, purpose="campaign")
        assert ProviderCall.objects.filter(subjects=40).count() == 5
        # warm now: the same columns from the cache, except the two court failures asked again
        warm = external_data_fetch_columns(bank_id=bank.pk, id_numbers=ids, purpose="campaign")
        assert ProviderCall.objects.filter(source="court", subjects=2).count() == 1
        for source, problems in columns.problems.items():
            assert warm.problems[source].tolist() == problems.tolist()
        for name, values in columns.columns.items():
            np.testing.assert_array_equal(warm.columns[name], values)
        for i, number in enumerate(ids):
            one = external_data_fetch(
                bank_id=province["bank2"].pk, subject=Subject(number), purpose="application"
            )
            for name, value in one.features.items():
                expected = columns.columns[name][i]
                assert (value is None and np.isnan(expected)) or value == expected, (i, name)
            codes = {code for _, code, _ in one.problems}
            index = int(columns.problems["court"][i])
            expected_codes = {provider_problem(index)[0]} if index else set()
            assert codes == expected_codes


class _AlwaysDown(ExternalDataProvider):
    source, label = "credit_report", "测试用征信接口"

    def fetch(self, subject, *, timeout):
        raise ProviderUnavailable("503")

    def parse(self, raw: Mapping):
        return {}


def test_a_provider_is_plugged_by_configuration(province):
    path = f"{__name__}._AlwaysDown"
    with override_settings(
        RISK_EXTERNAL_PROVIDERS={"credit_report": {"class": path, "timeout_seconds": 1}}
    ):
        answer = external_data_fetch(
            bank_id=province["bank1"].pk,
            subject=Subject(_ids(1)[0]),
            purpose="application",
            sources=["credit_report"],
        )
        assert answer.problems[0][1] == "credit_report_unavailable"
        assert ProviderCall.objects.get().provider == path
        assert not [e for e in run_checks() if e.id.startswith("risk.E1")]


def test_the_system_check_names_a_bad_configuration():
    with override_settings(RISK_EXTERNAL_PROVIDERS={"court": {"class": "no.such.Provider"}}):
        errors = [e for e in run_checks() if e.id == "risk.E102"]
    assert errors
    assert "court" in errors[0].msg
    with override_settings(
        RISK_EXTERNAL_PROVIDERS={
            "court": {"class": "risk.providers.sandbox.SandboxCreditReportProvider"}
        }
    ):
        assert [e for e in run_checks() if e.id == "risk.E104"]


def test_the_call_log_shows_a_bank_only_its_own_calls(
    province, client, django_assert_max_num_queries
):
    from django.contrib.auth import get_user_model

    subject = Subject(_ids(1, start=3000)[0])
    external_data_fetch(bank_id=province["bank1"].pk, subject=subject, purpose="application")
    external_data_fetch(bank_id=province["bank2"].pk, subject=subject, purpose="application")
    client.force_login(get_user_model().objects.get(username="b1_risk"))
    with django_assert_max_num_queries(15):
        response = client.get("/admin/risk/providercall/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "外部数据查询记录" in page
    assert "人行征信" in page
    own = ProviderCall.objects.filter(bank=province["bank1"]).count()
    assert page.count("沙箱") == 0  # the provider's class path is on the detail page only
    assert response.context["cl"].result_count == own
    foreign = ProviderCall.objects.filter(bank=province["bank2"]).first()
    assert client.get(f"/admin/risk/providercall/{foreign.pk}/change/").status_code == 404
