"""An active credit line and a sandbox deposit account for a household of the test villages:
what servicing needs, without the campaign that usually grants the line."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from common.clock import business_today


@pytest.fixture
def active_line(villages):
    from lending.corebank.services import sandbox_account_open
    from lending.lines.models import CreditLine, CreditLineChange
    from lending.lines.services import credit_line_transition
    from org.models import Staff
    from products.demo import seed_products
    from products.models import Product
    from products.selectors import product_terms_effective

    seed_products()
    household = villages["v1_households"][0]
    product = Product.objects.get(code="SX-XYD-NH")
    terms = product_terms_effective(product=product, bank_id=household.bank_id)
    today = business_today()
    line = CreditLine.objects.create(
        bank_id=household.bank_id,
        household=household,
        product=product,
        product_version_id=terms.version_id,
        amount=Decimal("50000.00"),
        rate=Decimal("4.3500"),
        valid_from=today,
        valid_until=today + datetime.timedelta(days=3 * 366),
    )
    admin = Staff.objects.get(user__username="b1_admin").user
    line = credit_line_transition(
        line=line, action=CreditLineChange.Action.ACTIVATE, actor=admin, reason="合同已签署"
    )
    account = sandbox_account_open(
        bank_id=household.bank_id, holder_name=household.head.name, member_id=household.head.pk
    )
    return {
        "line": line,
        "household": household,
        "account": account,
        "admin": admin,
        "am": Staff.objects.get(user__username="b1_am2").user,
    }
