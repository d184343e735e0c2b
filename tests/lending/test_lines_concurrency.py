"""Two staff giving shares of one master line at the same moment: the master row's lock puts
them one after the other, so the shares never add up to more than the master."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from common.clock import business_today
from lending.lines import services
from lending.lines.models import CreditLine, LineStatus


@pytest.mark.django_db(transaction=True)
def test_concurrent_sub_lines_stay_within_the_master(villages, province):
    from org.models import Staff
    from products.demo import seed_products
    from products.models import Product

    seed_products()
    product = Product.objects.get(code="SX-XYD-NH")
    household = villages["v1_households"][0]
    master = CreditLine.objects.create(
        bank_id=household.bank_id,
        household=household,
        product=product,
        product_version=product.versions.order_by("-id").first(),
        amount=Decimal("100000"),
        rate=Decimal("4.3500"),
        valid_from=business_today(),
        valid_until=business_today().replace(year=business_today().year + 1),
        status=LineStatus.ACTIVE,
    )
    members = list(household.members.order_by("relation")[:2])
    actor = Staff.objects.get(user__username="b1_risk").user
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def give(member):
        try:
            barrier.wait()
            services.credit_line_sub_create(
                master=master, member=member, amount="60000", actor=actor
            )
            outcomes.append("granted")
        except ValidationError as error:
            outcomes.append("refused: " + "；".join(error.message_dict.get("amount", [])))
        finally:
            connection.close()

    threads = [threading.Thread(target=give, args=(member,)) for member in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[0] == "granted"
    assert sorted(outcomes)[1].startswith("refused: 分额度合计 120000")
    total = sum(line.amount for line in CreditLine.objects.filter(parent=master))
    assert total == Decimal("60000")
