"""Back-tests (回测) on seeded history: decisions made through the services, a candidate that
differs, and the report's counts against a hand count of the stored decisions; the active version
back-tested over its own decisions changes nothing; the admin's pages and export."""

from __future__ import annotations

import datetime
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from common.clock import business_today
from risk.decisions.backtest import backtest_create, backtest_run
from risk.decisions.models import Decision, StrategyVersion
from risk.decisions.report_models import Backtest, BacktestChange
from risk.decisions.services import (
    decision_make,
    decision_what_if,
    strategy_defaults_ensure,
    strategy_version_derive,
    strategy_version_update,
)
from tests.risk.decisions.test_decide import LOCAL_FLOW, local_flow  # noqa: F401
from tests.risk.decisions.test_outcomes import WELL_OFF, _household

# (share of the well-off figures, requested amount): with the test champion these give grade A
# approved and referred (asked above its limit), AA approved (also as a pre-approval without an
# amount), AAA approved and referred (above the product's automatic approval).
PROFILES = [
    (Decimal("0.08"), Decimal("10000")),
    (Decimal("0.1"), Decimal("10000")),
    (Decimal("0.1"), Decimal("20000")),
    (Decimal("0.13"), Decimal("10000")),
    (Decimal("0.16"), None),
    (Decimal("0.25"), Decimal("10000")),
    (Decimal("1"), Decimal("80000")),
]


def _figures(share: Decimal) -> dict:
    return {key: str(int(Decimal(value) * share)) for key, value in WELL_OFF.items()}


def _prohibit(world, household):
    from risk.lists.models import RiskListEntry

    RiskListEntry.objects.create(
        owner=world["province"]["bank1"],
        id_number=household.head.id_number,
        level="prohibit",
        source="court",
        reason="测试",
        rule="COURT_SYNC",
        status="active",
        valid_from=business_today() - datetime.timedelta(days=10),
    )


@pytest.fixture
def history(world, local_flow):  # noqa: F811
    """Today's decisions of both banks: the world's six households (grade C, rejected), seven
    of known grades and amounts, one on a prohibit list; and a what-if, which no back-test
    reads."""
    product = world["product"]
    made = [
        decision_make(household=household, product=product)
        for household in [*world["v1_households"], *world["v2_households"]]
    ]
    for sequence, (share, amount) in enumerate(PROFILES, start=900):
        household = _household(world, figures=_figures(share), sequence=sequence)
        made.append(decision_make(household=household, product=product, requested_amount=amount))
    listed = _household(world, figures=_figures(Decimal("0.16")), sequence=950)
    _prohibit(world, listed)
    made.append(decision_make(household=listed, product=product, requested_amount=10000))
    what_if = decision_what_if(
        household=listed, product=product, actor=world["staff"]["b1_am2"].user
    )
    stored = list(Decision.objects.filter(pk__in=[d.pk for d in made]).order_by("pk"))
    outcomes = {d.outcome for d in stored}
    assert outcomes == {"approve", "refer", "reject"}, outcomes
    assert {d.grade for d in stored if d.outcome != "reject"} >= {"A", "AA", "AAA"}
    assert any(d.primary_reason == "LIST_PROHIBIT" for d in stored)
    return {"decisions": stored, "what_if": what_if, "flow": local_flow}


def _candidate(world, local_flow, *, reject_grades=("C",), refer_grades=()):  # noqa: F811
    fed = world["staff"]["fed_admin"].user
    draft = StrategyVersion.objects.filter(
        model=local_flow.model, status="draft"
    ).first() or strategy_version_derive(strategy=local_flow.model, actor=fed)
    definition = {
        **LOCAL_FLOW,
        "nodes": [
            {**node, "reject_grades": list(reject_grades), "refer_grades": list(refer_grades)}
            if node["kind"] == "scorecard"
            else node
            for node in LOCAL_FLOW["nodes"]
        ],
    }
    return strategy_version_update(version=draft, actor=fed, definition=definition)


def _run(candidate, *, bank=None, period=None, product=None, chunk_size=100_000) -> Backtest:
    today = business_today()
    start, end = period or (today, today)
    backtest = backtest_create(
        actor=None,
        candidate=candidate,
        period_from=start,
        period_to=end,
        bank=bank,
        product=product,
        enqueue=False,
    )
    return backtest_run(backtest_id=backtest.pk, chunk_size=chunk_size)


def _mean(values, places: str) -> str | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return str((sum(values) / len(values)).quantize(Decimal(places), ROUND_HALF_UP))


def _hand_side(outcomes_limits_rates_pds) -> dict:
    rows = list(outcomes_limits_rates_pds)
    approved = [r for r in rows if r[0] == "approve"]
    n = len(rows)
    counts = {o: sum(1 for r in rows if r[0] == o) for o in ("approve", "refer", "reject")}
    return {
        "decisions": n,
        "approved": counts["approve"],
        "referred": counts["refer"],
        "rejected": counts["reject"],
        "approval_rate": round(counts["approve"] / n, 6),
        "referral_rate": round(counts["refer"] / n, 6),
        "rejection_rate": round(counts["reject"] / n, 6),
        "average_limit": _mean([r[1] for r in approved], "0.01"),
        "average_rate": _mean([r[2] for r in approved], "0.0001"),
        "expected_bad_rate": _mean([r[3] for r in approved], "0.000001"),
    }


def test_a_draft_rejecting_grade_a_reports_what_a_hand_count_gives(world, history):
    stored = history["decisions"]
    candidate = _candidate(world, history["flow"], reject_grades=("C", "A"))
    backtest = _run(candidate)

    assert backtest.status == "done", backtest.error
    # The hand count: every decision graded A that was not rejected already is rejected now.
    turned = [d for d in stored if d.grade == "A" and d.outcome != "reject"]
    assert len(turned) == 3
    assert backtest.decisions == len(stored)  # the what-if is not read
    assert backtest.changed == backtest.changes_listed == len(turned)
    changes = list(BacktestChange.objects.filter(backtest=backtest).order_by("decision_id"))
    assert [c.decision_id for c in changes] == [d.pk for d in turned]
    for change, decision in zip(changes, turned, strict=True):
        assert change.old_outcome == decision.outcome
        assert change.new_outcome == "reject"
        assert change.new_reason == "GRADE_REJECT"
        assert change.old_limit == decision.limit_amount
        assert change.old_rate == decision.rate

    summary = backtest.summary
    assert summary["baseline"] == _hand_side(
        (d.outcome, d.limit_amount, d.rate, d.probability_of_default) for d in stored
    )
    assert summary["candidate"] == _hand_side(
        (
            "reject" if d in turned else d.outcome,
            d.limit_amount,
            d.rate,
            d.probability_of_default,
        )
        for d in stored
    )
    approved_turned = sum(1 for d in turned if d.outcome == "approve")
    referred_turned = len(turned) - approved_turned
    assert summary["transitions"][0][2] == approved_turned
    assert summary["transitions"][1][2] == referred_turned
    assert sum(map(sum, summary["transitions"])) == len(stored)
    assert {(w["from"], w["to"], w["reason"], w["count"]) for w in summary["why"]} == {
        ("approve", "reject", "GRADE_REJECT", approved_turned),
        ("refer", "reject", "GRADE_REJECT", referred_turned),
    }
    assert summary["reason_texts"]["GRADE_REJECT"] == "信用评级不满足准入要求"


def test_the_active_version_over_its_own_decisions_changes_nothing(world, history):
    backtest = _run(history["flow"])
    assert backtest.status == "done", backtest.error
    assert backtest.decisions == len(history["decisions"])
    assert backtest.changed == 0
    assert not BacktestChange.objects.filter(backtest=backtest).exists()
    assert backtest.summary["candidate"] == backtest.summary["baseline"]
    assert backtest.summary["why"] == []


def test_chunks_and_groups_do_not_change_the_report(world, history):
    """Chunks of two decisions, rows of two banks: the same report as one chunk."""
    candidate = _candidate(world, history["flow"], reject_grades=("C",), refer_grades=("AA",))
    whole = _run(candidate)
    pieces = _run(candidate, chunk_size=2)
    assert whole.changed > 0
    assert pieces.summary["baseline"] == whole.summary["baseline"]
    assert pieces.summary["candidate"] == whole.summary["candidate"]
    assert pieces.summary["why"] == whole.summary["why"]

    def listed(backtest):
        return list(
            BacktestChange.objects.filter(backtest=backtest)
            .order_by("decision_id")
            .values_list("decision_id", "old_outcome", "new_outcome", "new_reason")
        )

    assert listed(pieces) == listed(whole)
    # AA approvals are referred; an AA referral already referred is not a change.
    aa = [d for d in history["decisions"] if d.grade == "AA" and d.outcome == "approve"]
    assert [row[0] for row in listed(whole)] == [d.pk for d in aa]
    assert {row[3] for row in listed(whole)} == {"GRADE_REFER"}


def test_scope_period_and_product_choose_the_decisions_read(world, history):
    bank1 = world["province"]["bank1"]
    flow = history["flow"]
    bank1_count = sum(1 for d in history["decisions"] if d.bank_id == bank1.pk)
    assert _run(flow, bank=bank1).decisions == bank1_count
    from products.models import Product

    other = Product.objects.exclude(pk=world["product"].pk).first()
    assert _run(flow, product=other).decisions == 0
    assert _run(flow, product=world["product"]).decisions == len(history["decisions"])

    later = business_today() + datetime.timedelta(days=40)
    household = world["v1_households"][0]
    with time_machine.travel(datetime.datetime.combine(later, datetime.time(10)), tick=False):
        decision_make(household=household, product=world["product"])
    today = business_today()
    assert _run(flow).decisions == len(history["decisions"])
    assert _run(flow, period=(today, later)).decisions == len(history["decisions"]) + 1
    assert _run(flow, period=(later, later)).decisions == 1


@pytest.fixture
def _providers_fresh():
    from risk.providers.registry import clear

    clear()
    yield
    clear()


@pytest.mark.usefixtures("_providers_fresh")
def test_external_answers_and_provider_failures_come_from_the_snapshot(world):
    """The default strategy (every provider queried): the default version back-tested over its
    own decisions, one of them referred for a credit-report timeout, changes nothing, and no
    provider is called again."""
    from risk.providers.models import ProviderCall

    default = strategy_defaults_ensure()
    product = world["product"]
    made = []
    for sequence, (share, amount) in enumerate(PROFILES, start=960):
        household = _household(world, figures=_figures(share), sequence=sequence)
        made.append(decision_make(household=household, product=product, requested_amount=amount))
    failing = _household(world, figures=WELL_OFF, sequence=980)
    faults = {"credit_report": {"options": {"faults": {failing.head.id_number: "timeout"}}}}
    with override_settings(RISK_EXTERNAL_PROVIDERS=faults):
        timed_out = decision_make(household=failing, product=product, requested_amount=10000)
    assert timed_out.provider_problems
    assert timed_out.outcome == "refer"
    assert all(d.strategy_version_id == default.pk for d in [*made, timed_out])
    calls = ProviderCall.objects.count()

    backtest = _run(default)
    assert backtest.status == "done", backtest.error
    assert backtest.decisions == len(made) + 1
    assert backtest.changed == 0
    assert backtest.summary["candidate"] == backtest.summary["baseline"]
    assert ProviderCall.objects.count() == calls


def test_a_run_is_idempotent_and_the_task_runs_after_commit(
    world, history, django_capture_on_commit_callbacks
):
    candidate = _candidate(world, history["flow"], reject_grades=("C", "A"))
    today = business_today()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        backtest = backtest_create(
            actor=world["staff"]["b1_risk"].user,
            candidate=candidate,
            period_from=today,
            period_to=today,
        )
    assert len(callbacks) == 1
    backtest.refresh_from_db()
    assert backtest.status == "done"
    assert backtest.bank == world["province"]["bank1"]  # a bank's staff read their own bank
    assert backtest.created_by == world["staff"]["b1_risk"].user
    rows = BacktestChange.objects.filter(backtest=backtest).count()
    turned = [
        d
        for d in history["decisions"]
        if d.grade == "A" and d.outcome != "reject" and d.bank_id == backtest.bank_id
    ]
    assert rows == backtest.changed == len(turned)

    from risk.decisions.report_tasks import run_backtest

    run_backtest.delay(backtest.pk)  # redelivered: a back-test done is not run again
    again = Backtest.objects.get(pk=backtest.pk)
    assert again.attempt == 1
    assert BacktestChange.objects.filter(backtest=backtest).count() == rows


def test_a_candidate_that_cannot_be_resolved_fails_with_the_reason(world, history):
    from django.contrib.auth import get_user_model

    from risk.pricing import defaults
    from risk.pricing.services import limit_model_create

    root, _ = get_user_model().objects.get_or_create(
        username="backtest_root", defaults={"is_superuser": True, "is_staff": True}
    )
    limit_model_create(
        actor=root,
        code="DRAFT_ONLY",
        name="未生效额度模型",
        parameters=defaults.LIMIT_PARAMETERS,
        is_default=False,
    )
    fed = world["staff"]["fed_admin"].user
    draft = strategy_version_derive(strategy=history["flow"].model, actor=fed)
    definition = {
        **LOCAL_FLOW,
        "nodes": [
            {**node, "model": "DRAFT_ONLY"} if node["kind"] == "limit" else node
            for node in LOCAL_FLOW["nodes"]
        ],
    }
    draft = strategy_version_update(version=draft, actor=fed, definition=definition)
    backtest = _run(draft)
    assert backtest.status == "failed"
    assert "没有生效的模型版本" in backtest.error
    assert backtest.finished_at is not None
    assert not BacktestChange.objects.filter(backtest=backtest).exists()


def test_bad_requests_are_refused_by_field_and_write_nothing(world, history):
    staff = world["staff"]
    today = business_today()
    flow = history["flow"]
    cases = [
        (
            {
                "actor": staff["b1_risk"].user,
                "period_from": today,
                "period_to": today - datetime.timedelta(days=1),
            },
            "period_to",
        ),
        ({"actor": staff["b1_risk"].user, "bank": world["province"]["bank2"]}, "bank"),
    ]
    for kwargs, field in cases:
        kwargs = {"candidate": flow, "period_from": today, "period_to": today, **kwargs}
        with pytest.raises(ValidationError) as caught:
            backtest_create(**kwargs, enqueue=False)
        assert field in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        backtest_create(
            actor=staff["b1_am2"].user,
            candidate=flow,
            period_from=today,
            period_to=today,
            enqueue=False,
        )
    assert not Backtest.objects.exists()


# --- the admin ------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_asks_for_a_back_test_and_shows_its_report(
    world, history, django_capture_on_commit_callbacks
):
    from openpyxl import load_workbook

    from villages.services import member_upsert

    odd = _household(world, figures=_figures(Decimal("0.1")), sequence=990)
    member_upsert(
        member_id=odd.head_id,
        household=odd,
        name='=HYPERLINK("http://example.com","点此")',
        id_number=odd.head.id_number,
        relation="head",
    )
    odd.refresh_from_db()
    tricky = decision_make(household=odd, product=world["product"], requested_amount=10000)
    assert tricky.grade == "A"
    assert tricky.outcome == "approve"

    candidate = _candidate(world, history["flow"], reject_grades=("C", "A"))
    risk = world["staff"]["b1_risk"].user
    client = _client(risk)
    add_url = reverse("admin:risk_backtest_add")
    page = client.get(add_url)
    assert page.status_code == 200
    assert "候选决策流版本" in page.content.decode()
    today = business_today().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            add_url,
            {"candidate": candidate.pk, "period_from": today, "period_to": today, "product": ""},
        )
    backtest = Backtest.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:risk_backtest_change", args=[backtest.pk])
    assert backtest.status == "done"

    report = client.get(answer["Location"])
    text = report.content.decode()
    assert report.status_code == 200
    assert 'id="backtest-comparison"' in text
    assert "<svg" in text
    assert "candidate-bar" in text
    assert "信用评级不满足准入要求" in text
    assert "GRADE_REJECT" not in text
    bank1_turned = [
        d
        for d in [*history["decisions"], tricky]
        if d.grade == "A" and d.outcome != "reject" and d.bank_id == backtest.bank_id
    ]
    assert backtest.changed == len(bank1_turned)
    for decision in bank1_turned:
        head = decision.household.head
        assert f"{head.name}户" in text or head.name.startswith("=")
        assert head.id_number not in text

    listing = client.get(reverse("admin:risk_backtest_changelist"))
    assert listing.status_code == 200
    assert "回测" in listing.content.decode()

    export = client.get(reverse("admin:risk_backtest_xlsx", args=[backtest.pk]))
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.content))
    sheet = book["变化的决策"]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + backtest.changed
    households = {row[2] for row in rows[1:]}
    assert "'" + '=HYPERLINK("http://example.com","点此")户' in households
    assert all(row[11] == "信用评级不满足准入要求" for row in rows[1:])
    comparison = [row[:3] for row in book["对比"].iter_rows(values_only=True)]
    summary = backtest.summary
    assert ("拒绝笔数", summary["baseline"]["rejected"], summary["candidate"]["rejected"]) in (
        comparison
    )
    assert (
        "通过户平均额度(元)",
        float(summary["baseline"]["average_limit"]),
        float(summary["candidate"]["average_limit"]),
    ) in comparison


def test_another_banks_back_test_is_not_found_and_the_form_names_the_field(world, history):
    candidate = _candidate(world, history["flow"], reject_grades=("C", "A"))
    staff = world["staff"]
    today = business_today()
    theirs = backtest_create(
        actor=None,
        candidate=candidate,
        period_from=today,
        period_to=today,
        bank=world["province"]["bank2"],
        enqueue=False,
    )
    client = _client(staff["b1_risk"].user)
    for url in (
        reverse("admin:risk_backtest_change", args=[theirs.pk]),
        reverse("admin:risk_backtest_xlsx", args=[theirs.pk]),
    ):
        assert client.get(url).status_code == 404
    listing = client.get(reverse("admin:risk_backtest_changelist"))
    assert not listing.context_data["cl"].queryset.filter(pk=theirs.pk).exists()

    answer = client.post(
        reverse("admin:risk_backtest_add"),
        {
            "candidate": candidate.pk,
            "period_from": today.isoformat(),
            "period_to": (today - datetime.timedelta(days=3)).isoformat(),
        },
    )
    assert answer.status_code == 200
    assert "结束日期不能早于开始日期" in answer.content.decode()
    assert Backtest.objects.count() == 1


def test_the_list_and_the_report_read_a_fixed_number_of_queries(world, history):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(world["staff"]["fed_admin"].user)
    fewer = _candidate(world, history["flow"], reject_grades=("C", "A"))
    first = _run(fewer)

    def queries(url) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    listing = reverse("admin:risk_backtest_changelist")
    one = queries(listing)
    more = _candidate(world, history["flow"], reject_grades=("C", "A"), refer_grades=("AA",))
    second = _run(more)
    _run(history["flow"])
    assert queries(listing) == one
    assert second.changed > first.changed
    assert queries(reverse("admin:risk_backtest_change", args=[second.pk])) == queries(
        reverse("admin:risk_backtest_change", args=[first.pk])
    )
