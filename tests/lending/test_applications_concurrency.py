"""Two staff acting on one application at the same moment: the row lock lets one through and
the other gets the conflict (409 over the API), never both."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from lending.applications import services
from lending.applications.models import Application, ApplicationEvent, ApplicationStatus


@pytest.mark.django_db(transaction=True)
def test_concurrent_withdrawals_one_wins(villages, province):
    from org.models import Staff
    from products.demo import seed_products
    from products.models import Product

    seed_products()
    household = villages["v1_households"][0]
    application = Application.objects.create(
        bank_id=household.bank_id,
        client_uuid=uuid.uuid4(),
        channel="pad",
        household=household,
        applicant=household.head,
        product=Product.objects.get(code="SX-XYD-NH"),
        amount="20000",
        term_months=12,
        repayment_method="equal_instalment",
        purpose="购买农资",
    )
    actor = Staff.objects.get(user__username="b1_am2").user
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def withdraw(reason):
        try:
            barrier.wait()
            services.application_withdraw(application=application, actor=actor, reason=reason)
            outcomes.append("withdrawn")
        except services.ApplicationConflict as conflict:
            outcomes.append("conflict: " + "".join(conflict.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=withdraw, args=(r,)) for r in ("甲", "乙")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict: 申请当前为已撤回，不能撤回", "withdrawn"]
    application.refresh_from_db()
    assert application.status == ApplicationStatus.WITHDRAWN
    assert ApplicationEvent.objects.filter(application=application).count() == 1
