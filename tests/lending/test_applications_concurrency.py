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


@pytest.mark.django_db(transaction=True)
def test_two_approvals_of_one_task_at_once_approve_once(villages, province):
    from lending.applications.models import ApprovalTask, TaskStatus
    from lending.lines.models import CreditLine
    from org.models import Staff
    from products.demo import seed_products
    from products.models import Product, ProductVersion

    seed_products()
    product = Product.objects.get(code="SX-XYD-NH")
    household = villages["v1_households"][0]
    application = Application.objects.create(
        bank_id=household.bank_id,
        client_uuid=uuid.uuid4(),
        channel="pad",
        household=household,
        applicant=household.head,
        product=product,
        product_version=ProductVersion.objects.filter(product=product, status="active").first(),
        amount="20000",
        term_months=12,
        repayment_method="equal_instalment",
        purpose="购买农资",
        status=ApplicationStatus.BRANCH_REVIEW,
        approval_levels=["branch"],
        approved_rate="4.3500",
    )
    reviewer = Staff.objects.get(user__username="b1_reviewer1")
    task = ApprovalTask.objects.create(
        bank_id=household.bank_id,
        application=application,
        level="branch",
        assignee=reviewer,
        pool=[reviewer.pk],
        pool_open=[0],
        seed=1,
        assigned_reason="测试",
        opened_at=application.created_at,
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve():
        try:
            barrier.wait()
            services.approval_task_decide(task=task, actor=reviewer.user, outcome="approve")
            outcomes.append("approved")
        except services.ApplicationConflict as conflict:
            outcomes.append("conflict: " + "".join(conflict.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved", "conflict: 申请当前为审批通过，不能审批"]
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert ApprovalTask.objects.get().status == TaskStatus.DONE
    assert ApplicationEvent.objects.filter(to_status=ApplicationStatus.APPROVED).count() == 1
    assert CreditLine.objects.filter(household=household).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_transition_locks_its_application_not_the_product_or_household(villages, province):
    """Every application of a product is locked by its own transitions only: while one is held
    (a withdrawal in progress in another transaction), another application of the same product
    and household is withdrawn at once instead of queueing behind it (the lock once took the
    joined product row too, which put a province's submissions of one product in single file)."""
    from django.db import connections, transaction

    from org.models import Staff
    from products.demo import seed_products
    from products.models import Product

    seed_products()
    household = villages["v1_households"][0]
    product = Product.objects.get(code="SX-XYD-NH")

    def draft():
        return Application.objects.create(
            bank_id=household.bank_id,
            client_uuid=uuid.uuid4(),
            channel="pad",
            household=household,
            applicant=household.head,
            product=product,
            amount="20000",
            term_months=12,
            repayment_method="equal_instalment",
            purpose="购买农资",
        )

    held, other = draft(), draft()
    actor = Staff.objects.get(user__username="b1_am2").user
    locked = threading.Event()
    release = threading.Event()

    def hold():
        try:
            with transaction.atomic():
                services.application_withdraw(application=held, actor=actor, reason="甲")
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            services.application_withdraw(application=other, actor=actor, reason="乙")
    finally:
        release.set()
        holder.join()
    other.refresh_from_db()
    assert other.status == ApplicationStatus.WITHDRAWN
