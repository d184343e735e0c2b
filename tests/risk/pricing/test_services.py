"""Limit and pricing models as versioned data: the seeded federation defaults, drafts edited and
refused field by field, maker-checker activation, immutable active versions, and which version a
bank's decision uses on a date."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from common.clock import business_today
from risk.pricing import defaults, services
from risk.pricing.models import (
    LimitModel,
    LimitModelChange,
    LimitModelVersion,
    PricingModelVersion,
)
from risk.pricing.selectors import limit_model_effective, pricing_model_effective

pytestmark = pytest.mark.django_db


def bank_limit_model(staff, **overrides):
    parameters = {**defaults.LIMIT_PARAMETERS, **overrides}
    return services.limit_model_create(
        actor=staff["b1_risk"].user, code="YD-LIMIT", name="尧都额度模型", parameters=parameters
    )


def test_federation_defaults_are_seeded_active_and_apply_to_every_bank(province):
    limit = limit_model_effective(bank_id=province["bank1"].pk, on_date=business_today())
    pricing = pricing_model_effective(bank_id=province["bank2"].pk, on_date=business_today())
    assert limit.model.code == "FED-LIMIT-DEFAULT"
    assert limit.status == "active"
    assert limit.model.owner_id is None
    assert str(limit.parameters().income_multiples["AAA"]) == "3.0"
    assert str(limit.parameters().colour_multipliers["white"]) == "1.2"
    assert pricing.model.code == "FED-PRICING-DEFAULT"
    assert str(pricing.parameters().spreads_by_grade["B"]) == "1.50"
    # Idempotent: running the seed again adds nothing.
    services.pricing_defaults_ensure()
    assert LimitModelVersion.objects.filter(model__code="FED-LIMIT-DEFAULT").count() == 1
    assert PricingModelVersion.objects.filter(model__code="FED-PRICING-DEFAULT").count() == 1


def test_maker_checker_puts_a_banks_own_model_in_force_for_that_bank_only(staff, province):
    draft = bank_limit_model(
        staff, income_multiples={**defaults.LIMIT_PARAMETERS["income_multiples"], "AAA": "4.0"}
    )
    assert draft.status == "draft"
    assert draft.model.owner_id == province["bank1"].pk
    today = business_today()
    # A draft is not in force: the federation default still applies.
    assert limit_model_effective(bank_id=province["bank1"].pk, on_date=today).model.owner_id is None

    submitted = services.limit_model_version_submit(version=draft, actor=staff["b1_risk"].user)
    with pytest.raises(ValidationError) as refused:
        services.limit_model_version_activate(version=submitted, actor=staff["b1_risk"].user)
    assert "双人复核" in str(refused.value)
    assert LimitModelVersion.objects.get(pk=draft.pk).status == "pending"

    active = services.limit_model_version_activate(version=submitted, actor=staff["b1_risk2"].user)
    assert active.status == "active"
    assert active.effective_from == today
    assert active.approved_by == staff["b1_risk2"].user
    own = limit_model_effective(bank_id=province["bank1"].pk, on_date=today)
    assert own.pk == active.pk
    assert str(own.parameters().income_multiples["AAA"]) == "4.0"
    other = limit_model_effective(bank_id=province["bank2"].pk, on_date=today)
    assert other.model.code == "FED-LIMIT-DEFAULT"
    log = list(LimitModelChange.objects.filter(version=active).values_list("action", "actor"))
    assert log == [
        ("create", staff["b1_risk"].user.pk),
        ("submit", staff["b1_risk"].user.pk),
        ("activate", staff["b1_risk2"].user.pk),
    ]


def test_an_active_version_is_immutable_and_editing_makes_a_new_draft(staff, province):
    draft = bank_limit_model(staff)
    services.limit_model_version_submit(version=draft, actor=staff["b1_risk"].user)
    v1 = services.limit_model_version_activate(version=draft, actor=staff["b1_risk2"].user)
    with pytest.raises(ValidationError) as refused:
        services.limit_model_version_update(
            version=v1, actor=staff["b1_risk"].user, parameters={"no_review_multiplier": "0.8"}
        )
    assert "不可修改" in str(refused.value)
    v2 = services.limit_model_version_derive(model=v1.model, actor=staff["b1_risk2"].user)
    assert (v2.number, v2.status) == (2, "draft")
    v2 = services.limit_model_version_update(
        version=v2, actor=staff["b1_risk2"].user, parameters={"no_review_multiplier": "0.8"}
    )
    assert str(v2.parameters().no_review_multiplier) == "0.8"
    assert v2.parameters().income_multiples == v1.parameters().income_multiples
    services.limit_model_version_submit(version=v2, actor=staff["b1_risk2"].user)
    # The first maker never touched v2, so may check it.
    services.limit_model_version_activate(version=v2, actor=staff["b1_risk"].user)
    v1.refresh_from_db()
    assert v1.status == "superseded"
    assert str(v1.no_review_multiplier) == "1.0000"
    assert limit_model_effective(bank_id=province["bank1"].pk, on_date=business_today()).pk == v2.pk


def test_bad_parameters_are_refused_naming_the_cell_and_nothing_is_written(staff):
    income = {**defaults.LIMIT_PARAMETERS["income_multiples"], "AA": "-1"}
    del income["B"]
    with pytest.raises(ValidationError) as refused:
        bank_limit_model(staff, income_multiples=income, colour_multipliers={"white": "abc"})
    errors = refused.value.message_dict
    assert errors["income_multiples_AA"] == ["收入倍数(AA)不能为负数"]
    assert "缺少收入倍数(B)" in errors["income_multiples_B"][0]
    assert errors["colour_multipliers_white"] == ["评议调整系数(白名单)不是有效数字"]
    assert "colour_multipliers_black" in errors
    assert not LimitModel.objects.filter(code="YD-LIMIT").exists()


def test_pricing_spread_out_of_range_is_refused_and_an_empty_grade_is_allowed(staff):
    with pytest.raises(ValidationError) as refused:
        services.pricing_model_create(
            actor=staff["b1_risk"].user,
            code="YD-PRICE",
            name="尧都定价模型",
            parameters={**defaults.PRICING_PARAMETERS, "spreads_by_grade": {"AAA": "25"}},
        )
    assert refused.value.message_dict["spreads_by_grade_AAA"] == ["评级加点(百分点)(AAA)不能大于20"]
    draft = services.pricing_model_create(
        actor=staff["b1_risk"].user,
        code="YD-PRICE",
        name="尧都定价模型",
        parameters={**defaults.PRICING_PARAMETERS, "spreads_by_grade": {"AAA": "0.2"}},
    )
    assert draft.parameters().spreads_by_grade == {
        "AAA": draft.parameters().spreads_by_grade["AAA"]
    }


def test_only_the_owners_staff_maintain_a_model(staff):
    federation_default = LimitModel.objects.get(code="FED-LIMIT-DEFAULT")
    with pytest.raises(PermissionDenied):
        services.limit_model_version_derive(model=federation_default, actor=staff["b1_risk"].user)
    draft = services.limit_model_version_derive(
        model=federation_default, actor=staff["fed_modeller"].user
    )
    services.limit_model_version_submit(version=draft, actor=staff["fed_modeller"].user)
    with pytest.raises(PermissionDenied):
        services.limit_model_version_activate(version=draft, actor=staff["b1_risk2"].user)
    with pytest.raises(ValidationError):
        services.limit_model_version_send_back(
            version=draft, actor=staff["fed_admin"].user, reason=" "
        )
    back = services.limit_model_version_send_back(
        version=draft, actor=staff["fed_admin"].user, reason="白名单系数请再议"
    )
    assert back.status == "draft"


def test_resolution_follows_the_effective_date(staff, province):
    draft = bank_limit_model(staff)
    later = business_today() + datetime.timedelta(days=10)
    services.limit_model_version_update(
        version=draft, actor=staff["b1_risk"].user, parameters={}, effective_from=later
    )
    services.limit_model_version_submit(version=draft, actor=staff["b1_risk"].user)
    services.limit_model_version_activate(version=draft, actor=staff["b1_risk2"].user)
    bank = province["bank1"].pk
    assert limit_model_effective(bank_id=bank, on_date=business_today()).model.owner_id is None
    assert limit_model_effective(bank_id=bank, on_date=later).pk == draft.pk


def test_one_default_model_per_owner(staff):
    bank_limit_model(staff)
    with pytest.raises(ValidationError) as refused:
        services.limit_model_create(
            actor=staff["b1_risk"].user,
            code="YD-LIMIT-2",
            name="第二个",
            parameters=defaults.LIMIT_PARAMETERS,
        )
    assert "is_default" in refused.value.message_dict
