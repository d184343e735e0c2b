"""The decisions' admin pages as a bank's risk officer sees them: Chinese reasons, the trace,
the replay, the flow of a strategy version; no codes where a reason is shown."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from risk.decisions.services import decision_make
from tests.risk.decisions.test_outcomes import WELL_OFF, _household


def test_decision_pages(world, client, django_assert_max_num_queries):
    household = _household(world, figures=WELL_OFF, sequence=820)
    decision = decision_make(
        household=household, product=world["product"], requested_amount=Decimal("290000")
    )
    for other in world["v1_households"]:  # more rows with rule hits: still one reasons query
        decision_make(household=other, product=world["product"])
    client.force_login(get_user_model().objects.get(username="b1_risk"))
    with django_assert_max_num_queries(20):
        listing = client.get("/admin/risk/decision/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "转人工审批" in page or "拒绝" in page
    assert decision.primary_reason not in page  # the Chinese text, not the code
    detail = client.get(f"/admin/risk/decision/{decision.pk}/change/").content.decode()
    assert "决策过程" in detail
    assert "一致" in detail
    assert household.head.id_number not in detail
    flow = client.get("/admin/risk/strategyversion/").content.decode()
    assert "省联社默认决策流" in flow
    version = decision.strategy_version
    page = client.get(f"/admin/risk/strategyversion/{version.pk}/change/").content.decode()
    assert "外部数据" in page
    assert "规则集" in page
