"""Rejection statistics (拒绝原因统计) against a hand count of seeded decisions: rejections made
through the services (a prohibit list entry, grade C) and stored rows of the Linfen sources
(征信, 法院限高, 失信被执行人, 外部反欺诈, 互联网借贷) across months, banks and products."""

from __future__ import annotations

import datetime
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse

from common.clock import business_today
from risk.decisions.models import Decision, DecisionKind
from risk.decisions.services import decision_make, decision_what_if
from risk.decisions.statistics import LINFEN_SOURCES, SOURCE_ORDER, rejection_statistics
from tests.risk.decisions.test_backtest import _figures, _prohibit
from tests.risk.decisions.test_decide import local_flow  # noqa: F401
from tests.risk.decisions.test_outcomes import _household

# (source, reason code, months back, bank key, count): stored rejections of the external
# sources, written as the engine writes them (INSERT is allowed; only UPDATE/DELETE are not).
STORED = [
    ("credit_report", "CR_CURRENT_OVERDUE", 0, "bank1", 3),
    ("credit_report", "CR_BAD_DEBT", 1, "bank1", 1),
    ("court", "COURT_CONSUMPTION_RESTRICTED", 0, "bank1", 2),
    ("dishonest", "COURT_DISHONEST_DEBTOR", 1, "bank1", 1),
    ("antifraud", "AF_SCORE_REJECT", 0, "bank1", 1),
    ("borrowing", "BR_MULTI_LENDER", 2, "bank1", 2),
    ("credit_report", "CR_CURRENT_OVERDUE", 0, "bank2", 4),
    ("court", "COURT_CONSUMPTION_RESTRICTED", 1, "bank2", 1),
]


def _month_start(today: datetime.date, back: int) -> datetime.date:
    index = today.year * 12 + today.month - 1 - back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _copy(template: Decision, **changes) -> Decision:
    values = {
        f.attname: getattr(template, f.attname)
        for f in Decision._meta.concrete_fields
        if not f.primary_key
    }
    values.update(changes)
    return Decision.objects.create(**values)


@pytest.fixture
def seeded(world, local_flow):  # noqa: F811
    """Rejections of known sources; approvals, referrals and a what-if that are not counted."""
    product = world["product"]
    made = [
        decision_make(household=h, product=product)
        for h in [*world["v1_households"], *world["v2_households"]]
    ]  # grade C: rejected, 评分评级
    listed = _household(world, figures=_figures(Decimal("0.16")), sequence=930)
    _prohibit(world, listed)
    made.append(decision_make(household=listed, product=product, requested_amount=10000))
    good = _household(world, figures=_figures(Decimal("0.25")), sequence=931)
    made.append(decision_make(household=good, product=product, requested_amount=10000))
    made.append(decision_make(household=good, product=product, requested_amount=80000))
    decision_what_if(
        household=world["v1_households"][0], product=product, actor=world["staff"]["b1_am2"].user
    )
    assert {d.outcome for d in made} == {"approve", "refer", "reject"}

    today = business_today()
    templates = {
        "bank1": next(d for d in made if d.bank_id == world["province"]["bank1"].pk),
        "bank2": next(d for d in made if d.bank_id == world["province"]["bank2"].pk),
    }
    for source, reason, back, bank, count in STORED:
        day = today if back == 0 else _month_start(today, back) + datetime.timedelta(days=3)
        for _ in range(count):
            _copy(
                templates[bank],
                outcome="reject",
                reason_source=source,
                primary_reason=reason,
                reason_codes=[reason],
                decision_date=day,
            )
    # A referral with an external source is not a rejection.
    _copy(templates["bank1"], outcome="refer", reason_source="borrowing", primary_reason="X")
    return {"made": made, "today": today}


def _hand(bank_ids=None, kinds=(1, 2), start=None, end=None) -> Counter:
    rows = Decision.objects.filter(outcome="reject", kind__in=kinds)
    if bank_ids is not None:
        rows = rows.filter(bank_id__in=bank_ids)
    if start is not None:
        rows = rows.filter(decision_date__gte=start, decision_date__lte=end)
    return Counter(rows.values_list("reason_source", flat=True))


def test_the_table_counts_each_rejection_once_by_its_source_in_the_linfen_order(world, seeded):
    today = seeded["today"]
    start = _month_start(today, 2)
    fed = world["staff"]["fed_admin"].user
    table = rejection_statistics(user=fed, period_from=start, period_to=today)

    hand = _hand(start=start, end=today)
    assert hand["list"] == 1  # the services' own rejections
    assert hand["scorecard"] == 6
    assert hand["credit_report"] == 8
    assert hand["court"] == 3
    assert table.total == sum(hand.values())
    sources = [row for row in table.rows if not row.is_reason]
    assert [row.source for row in sources][:5] == list(LINFEN_SOURCES)
    assert [row.label for row in sources][:5] == [
        "征信",
        "法院限高",
        "失信被执行人",
        "外部反欺诈",
        "互联网借贷",
    ]
    assert [row.source for row in sources] == list(SOURCE_ORDER)
    for row in sources:
        assert row.total == hand[row.source], row.source
        assert row.share == pytest.approx(hand[row.source] / table.total)
    assert table.scope == "全省"


def test_columns_by_month_bank_branch_and_product(world, seeded):
    today = seeded["today"]
    start = _month_start(today, 2)
    fed = world["staff"]["fed_admin"].user
    by_month = rejection_statistics(user=fed, period_from=start, period_to=today, dimension="month")
    assert by_month.columns == tuple(f"{_month_start(today, b):%Y-%m}" for b in (2, 1, 0))
    credit = next(r for r in by_month.rows if r.source == "credit_report")
    assert credit.counts == (0, 1, 7)
    borrowing = next(r for r in by_month.rows if r.source == "borrowing")
    assert borrowing.counts == (2, 0, 0)
    assert sum(by_month.column_totals) == by_month.total

    by_bank = rejection_statistics(user=fed, period_from=start, period_to=today, dimension="bank")
    names = {world["province"]["bank1"].name, world["province"]["bank2"].name}
    assert set(by_bank.columns) == names
    bank2 = by_bank.columns.index(world["province"]["bank2"].name)
    credit = next(r for r in by_bank.rows if r.source == "credit_report")
    assert credit.counts[bank2] == 4

    by_branch = rejection_statistics(
        user=fed, period_from=start, period_to=today, dimension="branch"
    )
    assert set(by_branch.columns) == {world["v1"].branch.name, world["v2"].branch.name}
    by_product = rejection_statistics(
        user=fed, period_from=start, period_to=today, dimension="product"
    )
    assert by_product.columns == (world["product"].name,)


def test_a_bank_sees_its_own_and_reasons_read_in_chinese(world, seeded):
    today = seeded["today"]
    start = _month_start(today, 2)
    bank1 = world["province"]["bank1"]
    risk = world["staff"]["b1_risk"].user
    table = rejection_statistics(user=risk, period_from=start, period_to=today, by_reason=True)
    hand = _hand(bank_ids=[bank1.pk], start=start, end=today)
    assert table.total == sum(hand.values())
    assert table.scope == bank1.name
    rows = list(table.rows)
    credit = rows.index(next(r for r in rows if r.source == "credit_report" and not r.is_reason))
    reasons = rows[credit + 1 : credit + 3]
    assert [(r.label, r.total) for r in reasons] == [
        ("人行征信显示当前有逾期", 3),
        ("人行征信有呆账或资产处置记录", 1),
    ]
    listed = next(r for r in rows if r.source == "list" and r.is_reason)
    assert listed.label == "命中黑名单(禁止级)"
    assert not any(r.label.isascii() and r.label for r in rows)

    with pytest.raises(ValidationError) as caught:
        rejection_statistics(
            user=risk, period_from=start, period_to=today, bank=world["province"]["bank2"]
        )
    assert "bank" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        rejection_statistics(user=world["staff"]["b1_am2"].user, period_from=start, period_to=today)


def test_filters_period_product_and_kind(world, seeded):
    today = seeded["today"]
    fed = world["staff"]["fed_admin"].user
    this_month = rejection_statistics(user=fed, period_from=today.replace(day=1), period_to=today)
    assert this_month.total == sum(_hand(start=today.replace(day=1), end=today).values())
    with_trials = rejection_statistics(
        user=fed, period_from=today, period_to=today, kinds=tuple(DecisionKind.values)
    )
    without = rejection_statistics(user=fed, period_from=today, period_to=today)
    assert with_trials.total == without.total + 1  # the what-if of a grade-C household
    from products.models import Product

    other = Product.objects.exclude(pk=world["product"].pk).first()
    assert (
        rejection_statistics(user=fed, period_from=today, period_to=today, product=other).total == 0
    )
    with pytest.raises(ValidationError) as caught:
        rejection_statistics(
            user=fed, period_from=today, period_to=today - datetime.timedelta(days=1)
        )
    assert "period_to" in caught.value.message_dict


def test_one_grouped_query_led_by_the_bank_and_date_index(world, seeded):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    today = seeded["today"]
    risk = world["staff"]["b1_risk"].user
    with CaptureQueriesContext(conn) as queries:
        rejection_statistics(user=risk, period_from=today, period_to=today, dimension="month")
    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + grouped[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "decision_bank_date_idx" in plan, plan


# --- the admin ------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_page_shows_the_table_a_chart_and_exports_it(world, seeded):
    from openpyxl import load_workbook

    today = seeded["today"]
    start = _month_start(today, 2)
    risk = _client(world["staff"]["b1_risk"].user)
    index = risk.get(reverse("admin:index")).content.decode()
    assert "拒绝原因统计" in index
    entry = risk.get(reverse("admin:risk_rejectionstatistics_changelist"))
    assert entry.status_code == 302
    params = {"period_from": start.isoformat(), "period_to": today.isoformat(), "kind": "lines"}
    page = risk.get(reverse("admin:risk_rejection_statistics"), params)
    text = page.content.decode()
    assert page.status_code == 200
    hand = _hand(bank_ids=[world["province"]["bank1"].pk], start=start, end=today)
    assert f'id="rejection-total">{sum(hand.values())}<' in text
    body = text[text.index('id="rejection-table"') :]
    order = ["征信", "法院限高", "失信被执行人", "外部反欺诈", "互联网借贷", "行内规则", "风险名单"]
    assert [body.index(label) for label in order] == sorted(body.index(label) for label in order)
    assert "<svg" in text
    assert "source-bar" in text
    assert "credit_report" not in text
    assert "CR_CURRENT_OVERDUE" not in text
    assert world["province"]["bank2"].name not in text  # no bank filter offered to a bank

    export = risk.get(reverse("admin:risk_rejection_xlsx"), {**params, "by_reason": "on"})
    assert export.status_code == 200
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    counted = {
        row[0]: row[2]
        for row in rows
        if row[0] and row[1] in ("", None) and isinstance(row[2], int)
    }
    assert counted["征信"] == hand["credit_report"]
    assert counted["合计"] == sum(hand.values())
    assert rows[[r[0] for r in rows].index("征信") + 1][1:3] == ("人行征信显示当前有逾期", 3)

    bad = risk.get(
        reverse("admin:risk_rejection_statistics"),
        {"period_from": today.isoformat(), "period_to": start.isoformat()},
    )
    assert "结束日期不能早于开始日期" in bad.content.decode()
    assert 'id="rejection-table"' not in bad.content.decode()

    manager = _client(world["staff"]["b1_am2"].user)
    assert manager.get(reverse("admin:risk_rejection_statistics")).status_code == 403

    fed = _client(world["staff"]["fed_admin"].user)
    both = fed.get(reverse("admin:risk_rejection_statistics"), params).content.decode()
    assert f'id="rejection-total">{sum(_hand(start=start, end=today).values())}<' in both
    one = fed.get(
        reverse("admin:risk_rejection_statistics"),
        {**params, "bank": world["province"]["bank2"].pk},
    ).content.decode()
    hand2 = _hand(bank_ids=[world["province"]["bank2"].pk], start=start, end=today)
    assert f'id="rejection-total">{sum(hand2.values())}<' in one
