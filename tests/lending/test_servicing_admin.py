"""Servicing as the branch uses it in the admin and the PAD over the API: lists whose query
count does not grow with the page, the counter repayment page, the close of business started
from the admin with its progress and report."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lending.cob.models import CobRun
from lending.loans import services
from lending.loans.models import LoanTransaction
from tests.lending.servicing_setup import at


def _draw(active_line, capture, count: int) -> None:
    with at("2027-01-15"), capture(execute=True):
        for _ in range(count):
            services.loan_drawdown(
                line=active_line["line"],
                amount="5000",
                term_months=6,
                method="equal_instalment",
                deposit_account=active_line["account"].account,
                client_uuid=uuid.uuid4(),
                actor=active_line["am"],
            )


def _queries(client, url) -> int:
    """Queries of a page once the session and permission caches are warm."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    return len(captured)


def test_list_pages_cost_the_same_for_one_loan_or_many(
    active_line, client, login_as, django_capture_on_commit_callbacks
):
    client.force_login(get_user_model().objects.get(username="b1_admin"))
    pad = login_as("b1_am2")
    pages = ["/admin/lending/loan/", "/admin/lending/writeoff/", "/admin/lending/cobrun/"]
    _draw(active_line, django_capture_on_commit_callbacks, 1)
    one = [_queries(client, url) for url in pages] + [_queries(pad, "/api/v1/loans/")]
    _draw(active_line, django_capture_on_commit_callbacks, 4)
    many = [_queries(client, url) for url in pages] + [_queries(pad, "/api/v1/loans/")]
    assert len(pad.get("/api/v1/loans/").json()["results"]) == 5
    assert many == one


def test_a_counter_repayment_from_the_admin(loan, client):
    url = f"/admin/lending/loan/{loan.pk}/repay/"
    with at("2027-02-15"):  # logged in on the day (a session from today would have expired)
        client.force_login(get_user_model().objects.get(username="b1_admin"))
        answer = client.get(url)
        page = answer.content.decode()
        assert answer.status_code == 200, answer.status_code
        assert "今日应还" in page
        assert "1025.17" in page
        assert "提前结清" in page
        assert "罚息→利息→本金" in page
        too_much = client.post(
            url, {"kind": "repayment", "amount": "2000", "channel": "counter", "key": "k1"}
        )
        assert too_much.status_code == 200
        assert "超过当前应还" in too_much.content.decode()
        done = client.post(
            url,
            {"kind": "repayment", "amount": "1025.17", "channel": "counter", "key": "k2"},
            follow=True,
        )
        detail = client.get(f"/admin/lending/loan/{loan.pk}/change/").content.decode()
    text = done.content.decode()
    assert "已入账：还款 1,025.17 元" in text
    assert LoanTransaction.objects.filter(loan=loan, kind="repayment").count() == 1
    assert "柜面" in detail
    assert "已结息" in detail


def test_the_close_of_business_is_started_from_the_admin(
    loan, client, django_capture_on_commit_callbacks
):
    with at("2027-01-20"):
        client.force_login(get_user_model().objects.get(username="b1_admin"))
        form = client.get("/admin/lending/cobrun/add/").content.decode()
        assert "计提利息、罚息、复利" in form
        assert "五级分类" in form
        future = client.post(
            "/admin/lending/cobrun/add/",
            {"bank": loan.bank_id, "business_date": "2027-01-20", "steps": ["accrue"]},
        )
        assert "只能对已结束的营业日跑批" in future.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            started = client.post(
                "/admin/lending/cobrun/add/",
                {
                    "bank": loan.bank_id,
                    "business_date": "2027-01-15",
                    "steps": ["accrue", "settle", "overdue", "classify", "expire_lines"],
                },
                follow=True,
            )
        listing = client.get("/admin/lending/cobrun/").content.decode()
    assert started.status_code == 200
    run = CobRun.objects.get()
    assert run.status == "completed"
    assert "已完成" in listing
    assert "1/1 分片 (100%)" in listing
    assert "计提 1" in listing
