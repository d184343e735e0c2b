"""Versions: maker-checker, immutability of submitted/active versions, validation by field."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from common.clock import business_today
from products.models import (
    Product,
    ProductStatus,
    ProductStatusChange,
    ProductVersion,
    VersionStatus,
)
from products.services import (
    product_create,
    product_resume,
    product_suspend,
    product_version_activate,
    product_version_create,
    product_version_derive,
    product_version_send_back,
    product_version_submit,
    product_version_update,
)
from tests.products.conftest import BASE_PARAMETERS, new_version


def _draft(users, **overrides):
    product = product_create(
        actor=users["fed_admin"],
        code="T-1",
        name="测试",
        series="credit",
        purpose="farm_business",
        segments=["farmer"],
        channels=["pad"],
    )
    version = product_version_create(
        product=product,
        actor=users["fed_admin"],
        parameters={**BASE_PARAMETERS, **overrides},
    )
    return product, version


def test_maker_cannot_activate_own_version(users):
    product, version = _draft(users)
    product_version_submit(version=version, actor=users["fed_admin"])

    with pytest.raises(ValidationError) as exc:
        product_version_activate(version=version, actor=users["fed_admin"])

    assert "approved_by" in exc.value.message_dict
    version.refresh_from_db()
    product.refresh_from_db()
    assert version.status == VersionStatus.PENDING
    assert version.approved_by is None
    assert product.status == ProductStatus.DRAFT
    assert not ProductStatusChange.objects.filter(action="activate").exists()


def test_editor_of_a_draft_cannot_be_its_checker(users):
    _, version = _draft(users)
    product_version_update(
        version=version, actor=users["fed_checker"], parameters={"grace_days": 5}
    )
    product_version_submit(version=version, actor=users["fed_admin"])
    with pytest.raises(ValidationError, match="双人复核"):
        product_version_activate(version=version, actor=users["fed_checker"])


def test_second_person_activates_and_the_change_is_logged(users):
    product, version = _draft(users)
    product_version_submit(version=version, actor=users["fed_admin"])

    product_version_activate(version=version, actor=users["fed_checker"])

    version.refresh_from_db()
    product.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE
    assert version.approved_by == users["fed_checker"]
    assert version.effective_from == business_today()
    assert product.status == ProductStatus.ACTIVE
    log = ProductStatusChange.objects.get(version=version, action="activate")
    assert (log.from_status, log.to_status, log.actor) == (
        "pending",
        "active",
        users["fed_checker"],
    )


def test_a_draft_cannot_be_activated_without_submission(users):
    _, version = _draft(users)
    with pytest.raises(ValidationError) as exc:
        product_version_activate(version=version, actor=users["fed_checker"])
    assert "status" in exc.value.message_dict


def test_bank_staff_cannot_activate_federation_products(users):
    _, version = _draft(users)
    product_version_submit(version=version, actor=users["fed_admin"])
    with pytest.raises(PermissionDenied):
        product_version_activate(version=version, actor=users["b1_admin"])


def test_account_manager_cannot_create_products(users, province):
    with pytest.raises(PermissionDenied):
        product_create(
            actor=users["b1_am1"],
            code="X",
            name="x",
            series="credit",
            purpose="farm_business",
            segments=["farmer"],
            channels=["pad"],
            owner=province["bank1"],
        )
    assert not Product.objects.exists()


@pytest.mark.parametrize("status_after", ["pending", "active"])
def test_editing_a_submitted_or_active_version_in_place_is_refused(users, status_after):
    _, version = _draft(users)
    product_version_submit(version=version, actor=users["fed_admin"])
    if status_after == "active":
        product_version_activate(version=version, actor=users["fed_checker"])

    with pytest.raises(ValidationError) as exc:
        product_version_update(
            version=version, actor=users["fed_admin"], parameters={"amount_max": "500000"}
        )

    assert "status" in exc.value.message_dict
    version.refresh_from_db()
    assert version.amount_max == Decimal("300000.00")


def test_editing_an_active_product_creates_a_new_version(users, make_product):
    product = make_product("P-1")
    v1 = product.versions.get()

    v2 = new_version(product, users["fed_admin"], users["fed_checker"], amount_max="200000")

    v1.refresh_from_db()
    assert (v1.status, v1.amount_max) == (VersionStatus.SUPERSEDED, Decimal("300000.00"))
    assert (v2.number, v2.status, v2.amount_max) == (2, VersionStatus.ACTIVE, Decimal("200000.00"))


def test_only_one_version_in_preparation(users, make_product):
    product = make_product("P-1")
    product_version_derive(product=product, actor=users["fed_admin"])
    with pytest.raises(ValidationError) as exc:
        product_version_derive(product=product, actor=users["fed_admin"])
    assert "product" in exc.value.message_dict
    assert product.versions.count() == 2


def test_send_back_returns_to_draft_with_reason(users):
    _product, version = _draft(users)
    product_version_submit(version=version, actor=users["fed_admin"])
    with pytest.raises(ValidationError) as exc:
        product_version_send_back(version=version, actor=users["fed_checker"], reason=" ")
    assert "reason" in exc.value.message_dict

    product_version_send_back(version=version, actor=users["fed_checker"], reason="利率偏高")

    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT
    assert ProductStatusChange.objects.get(action="send_back").reason == "利率偏高"


def test_submission_requires_every_parameter(users):
    _product, version = _draft(users, contract_template_code=None, amount_max=None)
    with pytest.raises(ValidationError) as exc:
        product_version_submit(version=version, actor=users["fed_admin"])
    assert {"contract_template_code", "amount_max"} <= set(exc.value.message_dict)
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT


def test_no_backdated_effective_date(users):
    _product, version = _draft(users)
    with pytest.raises(ValidationError) as exc:
        product_version_update(
            version=version,
            actor=users["fed_admin"],
            parameters={},
            effective_from=business_today() - timedelta(days=1),
        )
    assert "effective_from" in exc.value.message_dict


def test_resume_after_suspension_needs_a_second_person(users, make_product):
    product = make_product("P-1")
    product_suspend(product=product, actor=users["fed_admin"], reason="风险排查")
    with pytest.raises(ValidationError) as exc:
        product_resume(product=product, actor=users["fed_admin"])
    assert "approved_by" in exc.value.message_dict
    product.refresh_from_db()
    assert product.status == ProductStatus.SUSPENDED

    product_resume(product=product, actor=users["fed_checker"])
    product.refresh_from_db()
    assert product.status == ProductStatus.ACTIVE


def test_suspension_needs_a_reason(users, make_product):
    product = make_product("P-1")
    with pytest.raises(ValidationError) as exc:
        product_suspend(product=product, actor=users["fed_admin"], reason="")
    assert "reason" in exc.value.message_dict


def test_versions_are_numbered_per_product(users, make_product):
    a = make_product("P-A")
    b = make_product("P-B")
    assert list(
        ProductVersion.objects.filter(product__in=[a, b]).values_list("number", flat=True)
    ) == [1, 1]
