"""Inheritance, locks and version pinning."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from common.clock import business_today
from products.models import ProductPin, VersionStatus
from products.selectors import (
    product_terms_effective,
    product_terms_for_version,
    product_terms_of_chain,
)
from products.services import (
    product_clone,
    product_pin,
    product_version_activate,
    product_version_submit,
    product_version_update,
)
from tests.products.conftest import new_version

D = Decimal


@pytest.fixture
def family(users, province, make_product):
    """A federation product (rate floor locked) and bank 1's sub-product overriding the
    amount ceiling and the term ceiling."""
    parent = make_product("FED-1", locked=["rate_floor", "penalty_markup_pct"])
    child = make_product(
        "YD-1",
        owner=province["bank1"],
        parent=parent,
        amount_max=D("200000"),
        term_max_months=24,
    )
    return parent, child


def test_sub_product_inherits_every_parameter_it_does_not_override(family):
    parent, child = family
    parent_terms = product_terms_effective(product=parent)
    child_terms = product_terms_effective(product=child)

    assert child_terms.amount_max == D("200000.00")
    assert child_terms.term_max_months == 24
    overridden = {"amount_max", "term_max_months"}
    for name, value in parent_terms.parameters().items():
        if name not in overridden:
            assert getattr(child_terms, name) == value, name
    assert child_terms.version_ids == (parent.versions.get().pk, child.versions.get().pk)
    assert set(child_terms.sources) - overridden
    assert {n for n, v in child_terms.sources.items() if v == child_terms.version_id} == overridden


def test_parent_change_flows_to_inherited_parameters_only(users, family):
    parent, child = family
    new_version(
        parent, users["fed_admin"], users["fed_checker"], amount_min="20000", term_max_months=48
    )

    terms = product_terms_effective(product=child)

    assert terms.amount_min == D("20000.00")  # inherited: follows the parent's v2
    assert terms.term_max_months == 24  # overridden: stays the bank's


def test_sub_product_cannot_override_a_locked_parameter(users, family):
    parent, child = family
    draft = product_clone(
        source=parent, actor=users["b1_risk"], code="YD-2", name="子产品2", owner=child.owner
    ).versions.get()

    with pytest.raises(ValidationError) as exc:
        product_version_update(
            version=draft, actor=users["b1_risk"], parameters={"rate_floor": "4.00"}
        )

    assert "rate_floor" in exc.value.message_dict
    draft.refresh_from_db()
    assert draft.rate_floor is None


def test_a_lock_added_later_wins_over_an_existing_override(users, family):
    parent, child = family
    new_version(parent, users["fed_admin"], users["fed_checker"])
    v3 = new_version(parent, users["fed_admin"], users["fed_checker"])
    v3.locked_parameters = [*v3.locked_parameters, "amount_max"]
    v3.save(update_fields=["locked_parameters"])  # as if v3 had been activated with the lock

    assert product_terms_effective(product=child).amount_max == D("300000.00")


def test_merged_terms_must_be_consistent(users, family):
    parent, child = family
    draft = product_clone(
        source=parent, actor=users["b1_risk"], code="YD-2", name="子产品2", owner=child.owner
    ).versions.get()
    with pytest.raises(ValidationError) as exc:
        product_version_update(
            version=draft, actor=users["b1_risk"], parameters={"amount_max": "5000"}
        )
    # The parent's 10,000 floor is above the override: the clash is named.
    assert "amount_min" in exc.value.message_dict


def test_pinned_version_stays_after_a_new_version_is_activated(users, make_product):
    product = make_product("P-1")
    pin_v1 = product_pin(product=product)

    v2 = new_version(product, users["fed_admin"], users["fed_checker"], amount_max="250000")

    pin_v1 = ProductPin.objects.get(pk=pin_v1.pk)
    assert pin_v1.version.number == 1
    assert pin_v1.terms.amount_max == D("300000.00")
    assert product_terms_of_chain(version_ids=pin_v1.terms.version_ids).amount_max == D("300000.00")
    pin_v2 = product_pin(product=product)
    assert pin_v2.pk != pin_v1.pk
    assert pin_v2.version_id == v2.pk
    assert pin_v2.terms.amount_max == D("250000.00")


def test_pin_of_a_sub_product_keeps_the_parent_version_it_was_approved_under(users, family):
    parent, child = family
    pin = product_pin(product=child)

    new_version(parent, users["fed_admin"], users["fed_checker"], amount_min="20000")

    pin.refresh_from_db()
    assert pin.terms.amount_min == D("10000.00")
    assert product_pin(product=child).terms.amount_min == D("20000.00")


def test_pinning_the_same_versions_twice_reuses_the_pin(make_product):
    product = make_product("P-1")
    assert product_pin(product=product).pk == product_pin(product=product).pk
    assert ProductPin.objects.count() == 1


def test_snapshot_round_trip(family):
    _, child = family
    terms = product_terms_effective(product=child)
    assert type(terms).from_snapshot(terms.to_snapshot()) == terms


def test_future_dated_version_applies_from_its_date(users, make_product):
    product = make_product("P-1")
    from products.services import product_version_derive

    draft = product_version_derive(product=product, actor=users["fed_admin"])
    tomorrow = business_today() + timedelta(days=1)
    product_version_update(
        version=draft,
        actor=users["fed_admin"],
        parameters={"amount_max": "250000"},
        effective_from=tomorrow,
    )
    product_version_submit(version=draft, actor=users["fed_admin"])
    product_version_activate(version=draft, actor=users["fed_checker"])

    assert product_terms_effective(product=product).amount_max == D("300000.00")
    assert product_terms_effective(product=product, on_date=tomorrow).amount_max == D("250000.00")


def test_no_version_in_force_is_a_clear_error(make_product):
    product = make_product("P-1", active=False)
    with pytest.raises(ValidationError) as exc:
        product_terms_effective(product=product)
    assert "product" in exc.value.message_dict


def test_other_banks_product_is_not_resolved_for_a_bank(family, province):
    _, child = family
    with pytest.raises(ValidationError):
        product_terms_effective(product=child, bank_id=province["bank2"].pk)


def test_draft_preview_terms_use_the_parent_in_force(users, family):
    parent, child = family
    draft = product_clone(
        source=parent, actor=users["b1_risk"], code="YD-2", name="子产品2", owner=child.owner
    ).versions.get()
    assert draft.status == VersionStatus.DRAFT
    terms = product_terms_for_version(version=draft)
    assert terms.amount_max == D("300000.00")
