"""An active credit line and a sandbox deposit account for a household of the test villages:
what servicing needs, without the campaign that usually grants the line."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from decimal import Decimal

import pytest
import time_machine

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


SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10):
    """Beijing time on ``day`` (10:00 unless told), the clock standing still."""
    return time_machine.travel(
        datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SH), tick=False
    )


def draw(active_line, capture, *, amount="12000", day="2027-01-15", months=12):
    """A loan of equal instalments at 4.35 % on the active line, paid out on ``day`` (its
    disbursement run on commit by ``capture``, Django's on-commit capture)."""
    from lending.loans import services
    from lending.loans.models import Loan

    with at(day), capture(execute=True):
        drawn, _ = services.loan_drawdown(
            line=active_line["line"],
            amount=amount,
            term_months=months,
            method="equal_instalment",
            deposit_account=active_line["account"].account,
            client_uuid=uuid.uuid4(),
            actor=active_line["am"],
        )
    return Loan.objects.get(pk=drawn.pk)


@pytest.fixture
def loan(active_line, django_capture_on_commit_callbacks):
    """12,000 yuan, equal instalments over 12 months at 4.35 %, paid out on 15 January 2027:
    980.22 principal in the first instalment and 1.45 yuan interest a day on the full amount."""
    from lending.loans.models import LoanStatus

    drawn = draw(active_line, django_capture_on_commit_callbacks)
    assert drawn.status == LoanStatus.ACTIVE
    assert drawn.start_date == datetime.date(2027, 1, 15)
    return drawn
