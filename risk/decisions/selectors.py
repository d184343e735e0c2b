"""Reads of strategies and decisions."""

from __future__ import annotations

from datetime import date

from django.db.models import Q

from risk.decisions.models import StrategyVersion
from risk.rules.models import RuleSetVersion, RuleSetVersionMember


def strategy_version_effective(*, product, bank_id: int | None, on_date: date):
    """The strategy version a decision on ``product`` for ``bank_id`` uses on ``on_date``.

    Most specific first: the bank's strategy naming the product (or its parent), the
    federation's naming it, the bank's default strategy, the federation's default. Within one
    strategy, the activated version with the latest ``effective_from`` on or before the date.
    ``None`` when nothing applies (the decision is then refused with a named error)."""
    product_ids = [product.pk] + ([product.parent_id] if product.parent_id else [])
    candidates = list(
        StrategyVersion.objects.applying_to_bank(bank_id)
        .in_force_on(on_date)
        .filter(Q(model__products__in=product_ids) | Q(model__is_default=True))
        .select_related("model")
        .prefetch_related("model__products")
    )

    def rank(version) -> tuple:
        names_product = any(p.pk in product_ids for p in version.model.products.all())
        own = version.model.owner_id is not None
        return (not names_product, not own, version.model.code)

    candidates.sort(key=rank)
    return candidates[0] if candidates else None


def rule_set_version_current(*, code: str, bank_id: int | None) -> RuleSetVersion | None:
    """The latest published version of the rule set ``code``: the bank's own set of that code
    first, else the federation's."""
    versions = list(
        RuleSetVersion.objects.filter(rule_set__code=code)
        .filter(Q(rule_set__owner__isnull=True) | Q(rule_set__owner_id=bank_id))
        .select_related("rule_set")
        .order_by("-version")
    )
    own = [v for v in versions if v.rule_set.owner_id is not None]
    return (own or versions or [None])[0]


# --- a decision's reasons as people read them (the admin and the API) -----------------------


def approval_level_label(code: str) -> str:
    from products.models import ApprovalLevel

    try:
        return str(ApprovalLevel(code).label)
    except ValueError:
        return code


def decision_rule_versions(obj) -> dict:
    """The rule versions a decision's hits name, by (rule set version, position): one query."""
    if not obj.rule_hits:
        return {}
    wanted = {}
    for hit in obj.rule_hits:
        wanted.setdefault(obj.rule_set_versions[hit // 1000], set()).add(hit % 1000)
    members = RuleSetVersionMember.objects.filter(set_version_id__in=list(wanted)).select_related(
        "rule_version"
    )
    return {
        (m.set_version_id, m.position): m.rule_version
        for m in members
        if m.position in wanted.get(m.set_version_id, ())
    }


def decision_rule_texts(obj) -> dict[str, str]:
    return {rv.reason_code: rv.reason_text for rv in decision_rule_versions(obj).values()}


def decision_rule_hit_lines(obj) -> list[str]:
    members = decision_rule_versions(obj)
    out = []
    for hit in obj.rule_hits:
        rv = members.get((obj.rule_set_versions[hit // 1000], hit % 1000))
        if rv is not None:
            out.append(f"{rv.name} v{rv.version}（{rv.get_outcome_display()}）：{rv.reason_text}")
    return out


def decision_trace(obj) -> list[tuple[str, str]]:
    """A decision's steps as people read them, in the flow's order: (step, what it found).

    Built from the stored row (lists, providers' problems, the rules hit, the scorecard, the
    limit and pricing models, the outcome), so the admin page and the API show the same trace
    and neither renders anything the decision did not store."""
    from risk.decisions.reasons import provider_problem
    from risk.lists.models import LEVEL_BY_SEVERITY

    steps = []
    level = LEVEL_BY_SEVERITY.get(obj.list_level)
    steps.append(
        ("风险名单", f"命中{level.label}（{len(obj.list_entries)}条）" if level else "未命中")
    )
    if obj.provider_problems:
        steps.append(("外部数据", "；".join(provider_problem(i)[1] for i in obj.provider_problems)))
    else:
        steps.append(("外部数据", "已取得(或无需查询)"))
    steps.extend(("规则命中", hit) for hit in decision_rule_hit_lines(obj))
    score = f"{obj.score:.2f}" if obj.score is not None else "—"
    steps.append(("评分卡", f"评级 {obj.grade or '—'}，评分 {score}"))
    # Fixed places: a decision just made holds the engine's Decimals, a stored one the
    # column's, and both must read the same.
    limit = f"{obj.limit_amount:.2f}" if obj.limit_amount is not None else "—"
    steps.append(("额度模型", f"{limit} 元"))
    steps.append(("定价模型", f"{obj.rate:.4f}%" if obj.rate is not None else "—"))
    steps.append(("结论", obj.get_outcome_display()))
    return steps
