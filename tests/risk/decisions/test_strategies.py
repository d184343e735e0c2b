"""Strategies: a flow is checked before it is saved, with the node named; versions go through
maker-checker; the strategy of a product is the most specific one in force."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError

from risk.decisions.definition import default_definition, flow_parse
from risk.decisions.selectors import strategy_version_effective
from risk.decisions.services import (
    strategy_create,
    strategy_definition_check,
    strategy_version_activate,
    strategy_version_submit,
)


def _nodes(definition):
    return {node["id"]: node for node in definition["nodes"]}


def _message(exc) -> str:
    return " ".join(exc.value.message_dict["definition"])


def test_the_seeded_default_flow_runs_every_step_in_order(db):
    flow = strategy_definition_check(default_definition())
    assert [n.kind for n in flow.nodes] == [
        "lists",
        "external",
        "rule_set",
        "rule_set",
        "scorecard",
        "limit",
        "pricing",
        "outcome",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["nodes"].pop(), "没有结论节点"),
        (lambda d: _nodes(d)["pricing"].update(next="limit"), "循环"),
        (lambda d: _nodes(d)["lists"].update(next="antifraud"), "无法到达"),
        (lambda d: _nodes(d)["admission"].update(rule_set="NO_SUCH_SET"), "不存在"),
        (lambda d: _nodes(d)["external"].update(sources=["court"]), "外部反欺诈"),
        (lambda d: _nodes(d)["lists"].update(kind="magic"), "未知的节点类型"),
        (lambda d: _nodes(d)["pricing"].update(next="nowhere"), "“nowhere”不存在"),
    ],
    ids=[
        "no-outcome",
        "cycle",
        "unreachable",
        "unknown-rule-set",
        "source-missing",
        "kind",
        "next",
    ],
)
def test_a_broken_flow_is_refused_naming_the_node(db, change, expected):
    definition = copy.deepcopy(default_definition())
    change(definition)
    with pytest.raises(ValidationError) as exc:
        strategy_definition_check(definition)
    assert expected in _message(exc)


def test_limit_before_the_scorecard_is_refused():
    definition = copy.deepcopy(default_definition())
    nodes = _nodes(definition)
    nodes["admission"]["next"] = "limit"
    nodes["limit"]["next"] = "scorecard"
    nodes["scorecard"]["next"] = "pricing"
    with pytest.raises(ValidationError) as exc:
        flow_parse(definition)
    assert "评分卡节点之后" in _message(exc)


def test_a_strategy_naming_a_product_takes_over_after_a_second_person_activates_it(world):
    users = {name: s.user for name, s in world["staff"].items()}
    product = world["product"]
    default = strategy_version_effective(
        product=product, bank_id=world["province"]["bank1"].pk, on_date=_today()
    )
    assert default.model.code == "FED_DEFAULT_FLOW"
    draft = strategy_create(
        actor=users["fed_admin"],
        code="FLOW_XYD",
        name="信用贷专用决策流",
        definition=default_definition(),
        products=[product],
        is_default=False,
    )
    strategy_version_submit(version=draft, actor=users["fed_admin"])
    with pytest.raises(ValidationError):  # the maker may not check their own version
        strategy_version_activate(version=draft, actor=users["fed_admin"])
    strategy_version_activate(version=draft, actor=users["fed_modeller"])
    chosen = strategy_version_effective(
        product=product, bank_id=world["province"]["bank1"].pk, on_date=_today()
    )
    assert chosen.model.code == "FLOW_XYD"
    assert list(draft.changes.values_list("action", flat=True).order_by("at", "id")) == [
        "create",
        "submit",
        "activate",
    ]


def _today():
    from common.clock import business_today

    return business_today()
