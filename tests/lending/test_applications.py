"""Applications: created once per client UUID, refused with the field named for each bad input,
submitted and decided into each outcome with the transitions recorded, withdrawn, and a second
concurrent transition refused."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from lending.applications import services
from lending.applications.models import Application, ApplicationEvent, ApplicationStatus
from tests.lending.test_lines import MODEST
from tests.risk.decisions.test_outcomes import _household

S = ApplicationStatus


def _apply(world, household, **overrides):
    fields = {
        "client_uuid": uuid.uuid4(),
        "household": household,
        "applicant": household.head,
        "product": world["product"],
        "amount": "20000",
        "term_months": 12,
        "repayment_method": "equal_instalment",
        "purpose": "购买化肥种子",
        "channel": "pad",
        "actor": world["staff"]["b1_am2"].user,
        **overrides,
    }
    return services.application_create(**fields)


def test_a_resent_application_is_created_once(world, local_flow):
    household = _household(world, figures=MODEST, sequence=960)
    key = uuid.uuid4()
    first, created = _apply(world, household, client_uuid=key)
    again, created_again = _apply(world, household, client_uuid=key, amount="99999")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert again.amount == Decimal("20000")
    assert Application.objects.count() == 1
    event = ApplicationEvent.objects.get()
    assert (event.to_status, event.actor) == (S.DRAFT, world["staff"]["b1_am2"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "500"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "20000.001"}, "amount"),
        ({"term_months": 48}, "term_months"),
        ({"repayment_method": "bullet"}, "repayment_method"),
        ({"channel": "partner"}, "channel"),
        ({"purpose": "  "}, "purpose"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(world, local_flow, overrides, field):
    household = _household(world, figures=MODEST, sequence=961)
    with pytest.raises(ValidationError) as refused:
        _apply(world, household, **overrides)
    assert field in refused.value.message_dict
    assert not Application.objects.exists()


def test_parties_and_applicants_are_checked(world, local_flow):
    from common.clock import business_today
    from risk.lists.models import RiskListEntry

    household = _household(world, figures=MODEST, sequence=962)
    other = world["v1_households"][0]
    spouse = other.members.exclude(pk=other.head_id).first()
    with pytest.raises(ValidationError) as itself:
        _apply(world, household, guarantors=[household.head])
    assert "guarantors" in itself.value.message_dict
    with pytest.raises(ValidationError) as stranger:
        _apply(world, household, applicant=other.head)
    assert "applicant" in stranger.value.message_dict
    RiskListEntry.objects.create(
        owner=world["province"]["bank1"],
        id_number=spouse.id_number,
        level="restrict",
        source="manual",
        reason="测试",
        valid_from=business_today(),
        status="active",
        created_by=world["staff"]["b1_risk"],
    )
    with pytest.raises(ValidationError) as listed:
        _apply(world, household, guarantors=[spouse])
    assert "guarantors" in listed.value.message_dict
    old = _household(world, figures=MODEST, birth=datetime.date(1940, 1, 1), sequence=963)
    with pytest.raises(ValidationError) as aged:
        _apply(world, old)
    assert "applicant" in aged.value.message_dict
    assert not Application.objects.exists()
    fine, _ = _apply(world, household, guarantors=[other.head])
    assert fine.parties.get().role == "guarantor"


def test_submission_decides_each_outcome(world, local_flow):
    actor = world["staff"]["b1_am2"].user
    modest = _household(world, figures=MODEST, sequence=964)
    approved = services.application_submit(application=_apply(world, modest)[0], actor=actor)
    assert approved.status == S.AUTO_APPROVED
    assert approved.decision.outcome == "approve"
    assert approved.approved_amount == Decimal("20000")
    assert approved.approved_rate == approved.decision.rate
    assert approved.product_version_id == approved.decision.product_version_id

    large = services.application_submit(
        application=_apply(world, modest, amount="200000")[0], actor=actor
    )
    assert large.status == S.REFERRED
    assert large.approval_levels
    assert large.approved_amount is None

    poor = world["v1_households"][0]  # the fixture's poorest households are rejected
    rejected = services.application_submit(application=_apply(world, poor)[0], actor=actor)
    assert rejected.status == S.REJECTED
    log = list(rejected.events.values_list("from_status", "to_status", "comment"))
    assert log == [
        ("", S.DRAFT, "创建申请"),
        (S.DRAFT, S.SUBMITTED, ""),
        (S.SUBMITTED, S.REJECTED, "决策拒绝"),
    ]


def test_wrong_states_are_refused_and_withdrawal_is_recorded(world, local_flow):
    actor = world["staff"]["b1_am2"].user
    household = _household(world, figures=MODEST, sequence=965)
    application, _ = _apply(world, household, amount="200000")
    services.application_submit(application=application, actor=actor)
    with pytest.raises(services.ApplicationConflict) as twice:
        services.application_submit(application=application, actor=actor)
    assert "转人工审批" in str(twice.value)
    withdrawn = services.application_withdraw(application=application, actor=actor, reason="不借了")
    assert withdrawn.status == S.WITHDRAWN
    assert withdrawn.events.last().comment == "不借了"
    with pytest.raises(services.ApplicationConflict):
        services.application_withdraw(application=application, actor=actor)


def test_a_product_not_sold_to_the_households_segment_is_refused(world, local_flow):
    from products.models import Product

    household = _household(world, figures=MODEST, sequence=966)  # a farming household
    sold_to = list(world["product"].segments)
    assert "farmer" in sold_to
    Product.objects.filter(pk=world["product"].pk).update(segments=["salaried", "public_servant"])
    world["product"].refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        _apply(world, household)
    assert refused.value.message_dict["product"] == ["该产品不适用于此农户所属客群"]
    assert not Application.objects.exists()
    Product.objects.filter(pk=world["product"].pk).update(segments=sold_to)
    world["product"].refresh_from_db()
    assert _apply(world, household)[1] is True
