"""Clone: a new product in minutes instead of weeks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from products.models import Product, ProductStatus, VersionStatus
from products.selectors import product_terms_for_version
from products.services import product_clone


def test_federation_product_becomes_a_bank_sub_product_draft_in_one_call(
    users, province, make_product
):
    source = make_product("FED-1")

    clone = product_clone(
        source=source, actor=users["b1_risk"], code="YD-1", name="尧都版", owner=province["bank1"]
    )

    assert clone.parent == source
    assert clone.owner == province["bank1"]
    assert clone.status == ProductStatus.DRAFT
    assert (clone.series, clone.segments, clone.channels) == (
        source.series,
        source.segments,
        source.channels,
    )
    draft = clone.versions.get()
    assert draft.status == VersionStatus.DRAFT
    assert draft.created_by == users["b1_risk"]
    # Overrides nothing: every parameter is inherited from the parent.
    assert draft.amount_max is None
    assert draft.repayment_methods is None
    assert product_terms_for_version(version=draft).amount_max == Decimal("300000.00")


def test_plain_copy_keeps_owner_and_copies_parameters(users, make_product):
    source = make_product("FED-1", grace_days=7)

    clone = product_clone(source=source, actor=users["fed_admin"], code="FED-2", name="副本")

    assert clone.owner is None
    assert clone.parent is None
    draft = clone.versions.get()
    assert (draft.number, draft.status, draft.grace_days) == (1, VersionStatus.DRAFT, 7)
    assert draft.amount_max == Decimal("300000.00")


def test_clone_refuses_a_duplicate_code_and_writes_nothing(users, make_product):
    source = make_product("FED-1")
    with pytest.raises(ValidationError) as exc:
        product_clone(source=source, actor=users["fed_admin"], code="FED-1", name="副本")
    assert "code" in exc.value.message_dict
    assert Product.objects.count() == 1


def test_a_bank_cannot_clone_for_another_bank(users, province, make_product):
    source = make_product("FED-1")
    with pytest.raises(PermissionDenied):
        product_clone(
            source=source, actor=users["b1_risk"], code="XF-1", name="x", owner=province["bank2"]
        )
    assert Product.objects.count() == 1


def test_sub_product_cannot_widen_the_parents_channels(users, province, make_product):
    from products.services import product_create

    parent = make_product("FED-1", channels=["pad"])
    with pytest.raises(ValidationError) as exc:
        product_create(
            actor=users["b1_risk"],
            code="YD-1",
            name="x",
            series="credit",
            purpose="farm_business",
            segments=["farmer"],
            channels=["pad", "counter"],
            owner=province["bank1"],
            parent=parent,
        )
    assert "channels" in exc.value.message_dict
