"""A strategy's flow (决策流定义): nodes and the order they run in, checked before it is saved.

The definition is JSON::

    {"start": "lists",
     "nodes": [
        {"id": "lists", "kind": "lists", "next": "external"},
        {"id": "external", "kind": "external", "sources": ["credit_report", ...], "next": "af"},
        {"id": "af", "kind": "rule_set", "rule_set": "ANTIFRAUD_DEFAULT", "next": "adm"},
        {"id": "adm", "kind": "rule_set", "rule_set": "ADMISSION_DEFAULT", "next": "card"},
        {"id": "card", "kind": "scorecard", "reject_grades": ["C"], "refer_grades": [],
         "next": "limit"},
        {"id": "limit", "kind": "limit", "model": null, "next": "pricing"},
        {"id": "pricing", "kind": "pricing", "model": null, "next": "end"},
        {"id": "end", "kind": "outcome"}]}

Each node names the next; following them from ``start`` must visit every node once and end at
the one ``outcome`` node. A flow with no outcome, a cycle, a node nobody reaches, an unknown
rule set or model, or a rule set reading external data no earlier node asks for is refused with
the node and the field named. The checked flow is a ``Flow``: the nodes in run order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from risk.external_features import EXTERNAL_FEATURES, EXTERNAL_SOURCES
from risk.features import FEATURE_NAMES

LISTS, EXTERNAL, RULE_SET, SCORECARD, LIMIT, PRICING, OUTCOME = (
    "lists",
    "external",
    "rule_set",
    "scorecard",
    "limit",
    "pricing",
    "outcome",
)
NODE_KINDS = {
    LISTS: "风险名单",
    EXTERNAL: "外部数据",
    RULE_SET: "规则集",
    SCORECARD: "评分卡",
    LIMIT: "额度模型",
    PRICING: "定价模型",
    OUTCOME: "结论",
}
SINGLE = (LISTS, EXTERNAL, SCORECARD, LIMIT, PRICING, OUTCOME)
SOURCE_OF_FEATURE = {f.name: f.source for f in EXTERNAL_FEATURES}
DEFAULT_GRADES = ("AAA", "AA", "A", "B", "C")


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"节点“{self.id}”({NODE_KINDS.get(self.kind, self.kind)})"


@dataclass(frozen=True)
class Flow:
    nodes: tuple[Node, ...]  # in run order, the outcome last

    def of_kind(self, kind: str) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind == kind)

    def first(self, kind: str) -> Node | None:
        found = self.of_kind(kind)
        return found[0] if found else None

    @property
    def sources(self) -> tuple[str, ...]:
        node = self.first(EXTERNAL)
        return tuple(node.params.get("sources", ())) if node else ()


def default_definition() -> dict:
    """The federation's default flow: the order the Henan and Jiangsu sources describe (lists
    and anti-fraud first, then admission, rating, limit and pricing), with every external source
    queried before the rules that read it."""
    return {
        "start": "lists",
        "nodes": [
            {"id": "lists", "kind": LISTS, "next": "external"},
            {
                "id": "external",
                "kind": EXTERNAL,
                "sources": list(EXTERNAL_SOURCES),
                "next": "antifraud",
            },
            {
                "id": "antifraud",
                "kind": RULE_SET,
                "rule_set": "ANTIFRAUD_DEFAULT",
                "next": "admission",
            },
            {
                "id": "admission",
                "kind": RULE_SET,
                "rule_set": "ADMISSION_DEFAULT",
                "next": "scorecard",
            },
            {
                "id": "scorecard",
                "kind": SCORECARD,
                "reject_grades": ["C"],
                "refer_grades": [],
                "next": "limit",
            },
            {"id": "limit", "kind": LIMIT, "model": None, "next": "pricing"},
            {"id": "pricing", "kind": PRICING, "model": None, "next": "outcome"},
            {"id": "outcome", "kind": OUTCOME},
        ],
    }


def _fail(node: str, message: str) -> ValidationError:
    return ValidationError({"definition": f"{node}：{message}"})


def flow_parse(definition: Any) -> Flow:
    """The nodes of ``definition`` in run order, its structure checked (not yet the rule sets
    and models it names: ``risk.decisions.services.strategy_definition_check`` does that)."""
    if not isinstance(definition, Mapping):
        raise ValidationError({"definition": "流程定义必须是对象，含 start 与 nodes"})
    raw_nodes = definition.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise ValidationError({"definition": "流程定义缺少节点(nodes)"})
    nodes: dict[str, dict] = {}
    for index, raw in enumerate(raw_nodes, start=1):
        if not isinstance(raw, Mapping):
            raise _fail(f"第{index}个节点", "节点必须是对象")
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id.strip():
            raise _fail(f"第{index}个节点", "缺少节点标识(id)")
        if node_id in nodes:
            raise _fail(f"节点“{node_id}”", "节点标识重复")
        kind = raw.get("kind")
        if kind not in NODE_KINDS:
            raise _fail(f"节点“{node_id}”", f"未知的节点类型“{kind}”")
        nodes[node_id] = dict(raw)
    for kind in SINGLE:
        same = [n for n, raw in nodes.items() if raw["kind"] == kind]
        if len(same) > 1:
            raise _fail(f"节点“{same[1]}”", f"一个决策流只能有一个{NODE_KINDS[kind]}节点")
    outcomes = [n for n, raw in nodes.items() if raw["kind"] == OUTCOME]
    if not outcomes:
        raise ValidationError(
            {"definition": "决策流没有结论节点(outcome)，无法得出通过/转人工/拒绝"}
        )
    start = definition.get("start")
    if start not in nodes:
        raise ValidationError({"definition": f"起始节点“{start}”不存在"})

    order: list[Node] = []
    seen: set[str] = set()
    current = start
    while True:
        if current in seen:
            raise _fail(f"节点“{current}”", "流程出现循环")
        seen.add(current)
        raw = nodes[current]
        params = {k: v for k, v in raw.items() if k not in ("id", "kind", "next")}
        order.append(Node(current, raw["kind"], params))
        if raw["kind"] == OUTCOME:
            if raw.get("next"):
                raise _fail(f"节点“{current}”", "结论节点之后不能再有节点")
            break
        following = raw.get("next")
        if not following:
            raise _fail(f"节点“{current}”", "缺少下一个节点(next)，流程到不了结论节点")
        if following not in nodes:
            raise _fail(f"节点“{current}”", f"下一个节点“{following}”不存在")
        current = following
    unreached = [n for n in nodes if n not in seen]
    if unreached:
        raise _fail(f"节点“{unreached[0]}”", "从起始节点无法到达该节点")
    flow = Flow(tuple(order))
    _check_params(flow)
    return flow


def _check_params(flow: Flow) -> None:
    position = {node.id: index for index, node in enumerate(flow.nodes)}
    for node in flow.nodes:
        if node.kind == EXTERNAL:
            sources = node.params.get("sources")
            if not isinstance(sources, list) or not sources:
                raise _fail(node.label, "请选择要查询的外部数据源")
            for source in sources:
                if source not in EXTERNAL_SOURCES:
                    raise _fail(node.label, f"未知的外部数据源“{source}”")
        elif node.kind == RULE_SET:
            if not isinstance(node.params.get("rule_set"), str) or not node.params["rule_set"]:
                raise _fail(node.label, "请选择规则集")
        elif node.kind == SCORECARD:
            for key in ("reject_grades", "refer_grades"):
                grades = node.params.get(key, [])
                if not isinstance(grades, list) or any(not isinstance(g, str) for g in grades):
                    raise _fail(node.label, f"{key} 必须是评级列表")
        elif node.kind in (LIMIT, PRICING):
            model = node.params.get("model")
            if model is not None and not isinstance(model, str):
                raise _fail(node.label, "模型代码必须是文字或留空(使用默认模型)")
            card = flow.first(SCORECARD)
            if card is None or position[card.id] > position[node.id]:
                raise _fail(node.label, "额度与定价按评级计算，必须排在评分卡节点之后")
    limit, pricing = flow.first(LIMIT), flow.first(PRICING)
    if pricing is not None and limit is None:
        raise _fail(pricing.label, "有定价节点时必须有额度节点")


def external_sources_before(flow: Flow, node: Node) -> set[str]:
    """The external sources asked for by a node that runs before ``node``."""
    sources: set[str] = set()
    for earlier in flow.nodes:
        if earlier.id == node.id:
            break
        if earlier.kind == EXTERNAL:
            sources |= set(earlier.params.get("sources", ()))
    return sources


def features_needing_sources(features: set[str]) -> dict[str, str]:
    """For each external feature among ``features``, its source (household features need none)."""
    return {f: SOURCE_OF_FEATURE[f] for f in features if f in SOURCE_OF_FEATURE}


HOUSEHOLD_FEATURES = frozenset(FEATURE_NAMES)
