"""Writes of rules and rule sets.

- ``rule_create`` / ``rule_update``: the expression must compile to a condition against the
  schema of the owner (``rule_schema``), refused with the position otherwise; each edit of the
  definition writes a new immutable ``RuleVersion`` (switching ``enabled`` does not).
- ``rule_set_create`` / ``rule_set_update`` / ``rule_set_members_set``: the draft.
- ``rule_set_version_publish``: freezes the members' current versions (disabled rules left out;
  for a bank's set, a federation rule the bank overrides is replaced by the bank's own), the mode
  and the derived features they read into a new ``RuleSetVersion``.
- ``rules_seed_catalogue``: the federation's catalogue, idempotent (see ``risk.rules.catalogue``).

Who may edit: ``risk.derived_features.ownership`` (federation staff the federation's, a bank's
staff their own, superusers any).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from org.models import Institution
from risk.derived_features.models import DerivedFeature
from risk.derived_features.ownership import check_can_edit_owned, staff_of
from risk.derived_features.schema import derived_features_for_bank, rule_schema
from risk.expressions.engine import ExpressionError, expression_compile
from risk.expressions.schema import BOOLEAN
from risk.rules.models import (
    RejectionSource,
    Rule,
    RuleCategory,
    RuleOutcome,
    RuleSet,
    RuleSetMember,
    RuleSetMode,
    RuleSetVersion,
    RuleSetVersionMember,
    RuleVersion,
)

UNSET = object()
CONTENT_FIELDS = (
    "name",
    "category",
    "expression",
    "outcome",
    "reason_code",
    "reason_text",
    "source",
)
_CODE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _clean_code(value: str, *, field: str, label: str, errors: dict) -> str:
    value = (value or "").strip()
    if not value or len(value) > 64 or not set(value) <= _CODE_CHARS:
        errors[field] = f"{label}只能由英文字母、数字和下划线组成(1至64个字符)"
    return value


def _clean_text(value: str, *, field: str, label: str, limit: int, errors: dict) -> str:
    value = (value or "").strip()
    if not value:
        errors[field] = f"请填写{label}"
    elif len(value) > limit:
        errors[field] = f"{label}最长{limit}个字"
    return value


def _clean_choice(value: str, choices, *, field: str, label: str, errors: dict) -> str:
    if value not in choices.values:
        errors[field] = f"未知的{label}：{value}"
    return value


def rule_check(
    *,
    owner: Institution | None,
    code: str,
    name: str,
    category: str,
    expression: str,
    outcome: str,
    reason_code: str,
    reason_text: str,
    source: str = RejectionSource.INTERNAL,
) -> dict:
    """Write-free: every field checked at once (so a form shows each refusal beside its field).
    Answers the cleaned values plus ``features`` (the names the expression reads)."""
    errors: dict[str, str] = {}
    cleaned = {
        "code": _clean_code(code, field="code", label="规则编码", errors=errors),
        "name": _clean_text(name, field="name", label="规则名称", limit=100, errors=errors),
        "category": _clean_choice(
            category, RuleCategory, field="category", label="规则类别", errors=errors
        ),
        "outcome": _clean_choice(
            outcome, RuleOutcome, field="outcome", label="命中结果", errors=errors
        ),
        "reason_code": _clean_code(reason_code, field="reason_code", label="原因码", errors=errors),
        "reason_text": _clean_text(
            reason_text, field="reason_text", label="原因说明", limit=200, errors=errors
        ),
        "source": _clean_choice(
            source, RejectionSource, field="source", label="拒绝来源", errors=errors
        ),
        "expression": (expression or "").strip(),
    }
    try:
        compiled = expression_compile(
            cleaned["expression"],
            schema=rule_schema(bank_id=owner.pk if owner else None),
            result=BOOLEAN,
        )
        cleaned["features"] = sorted(compiled.features)
    except ExpressionError as exc:
        errors["expression"] = exc.message_text
    if errors:
        raise ValidationError(errors)
    return cleaned


def _write_version(rule: Rule, *, by, features: list[str]) -> RuleVersion:
    version = RuleVersion.objects.create(
        rule=rule,
        version=rule.version,
        code=rule.code,
        features=features,
        created_by=staff_of(by),
        **{name: getattr(rule, name) for name in CONTENT_FIELDS},
    )
    Rule.objects.filter(pk=rule.pk).update(current_version=version)
    rule.current_version = version
    return version


@transaction.atomic
def rule_create(
    *,
    by,
    owner: Institution | None,
    code: str,
    name: str,
    category: str,
    expression: str,
    outcome: str,
    reason_code: str,
    reason_text: str,
    source: str = RejectionSource.INTERNAL,
    enabled: bool = True,
) -> Rule:
    check_can_edit_owned(by, owner.pk if owner else None, perm="risk.add_rule", what="规则")
    cleaned = rule_check(
        owner=owner,
        code=code,
        name=name,
        category=category,
        expression=expression,
        outcome=outcome,
        reason_code=reason_code,
        reason_text=reason_text,
        source=source,
    )
    features = cleaned.pop("features")
    if Rule.objects.filter(owner=owner, code=cleaned["code"]).exists():
        raise ValidationError({"code": f"规则编码“{cleaned['code']}”已存在"})
    rule = Rule.objects.create(owner=owner, enabled=enabled, **cleaned)
    _write_version(rule, by=by, features=features)
    return rule


@transaction.atomic
def rule_update(*, rule: Rule, by, enabled=UNSET, **changes) -> Rule:
    """Change any of ``name, category, expression, outcome, reason_code, reason_text, source``
    (a new version when the definition changes) and/or ``enabled``. The code never changes."""
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise TypeError(f"rule_update() got unexpected fields: {sorted(unknown)}")
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    check_can_edit_owned(by, rule.owner_id, perm="risk.change_rule", what="规则")
    values = {name: changes.get(name, getattr(rule, name)) for name in CONTENT_FIELDS}
    cleaned = rule_check(owner=rule.owner, code=rule.code, **values)
    features = cleaned.pop("features")
    cleaned.pop("code")
    changed = any(getattr(rule, name) != cleaned[name] for name in CONTENT_FIELDS)
    for name in CONTENT_FIELDS:
        setattr(rule, name, cleaned[name])
    if enabled is not UNSET:
        rule.enabled = bool(enabled)
    if changed:
        rule.version += 1
    rule.save()
    if changed:
        _write_version(rule, by=by, features=features)
    return rule


# --- rule sets ---------------------------------------------------------------------------------


def rule_set_check(*, code: str, name: str, category: str, mode: str) -> dict:
    errors: dict[str, str] = {}
    cleaned = {
        "code": _clean_code(code, field="code", label="规则集编码", errors=errors),
        "name": _clean_text(name, field="name", label="规则集名称", limit=100, errors=errors),
        "category": _clean_choice(
            category, RuleCategory, field="category", label="规则类别", errors=errors
        ),
        "mode": _clean_choice(mode, RuleSetMode, field="mode", label="执行方式", errors=errors),
    }
    if errors:
        raise ValidationError(errors)
    return cleaned


def rule_set_members_check(*, rule_set_owner_id: int | None, rules: Sequence[Rule]) -> None:
    """A set holds the owner's own rules and the federation's, each once."""
    seen: set[int] = set()
    for rule in rules:
        if rule.owner_id is not None and rule.owner_id != rule_set_owner_id:
            raise ValidationError({"members": f"规则“{rule.code}”属于其他行社，不能加入"})
        if rule.pk in seen:
            raise ValidationError({"members": f"规则“{rule.code}”重复加入"})
        seen.add(rule.pk)


@transaction.atomic
def rule_set_create(
    *,
    by,
    owner: Institution | None,
    code: str,
    name: str,
    category: str,
    mode: str = RuleSetMode.STOP_AT_FIRST_REJECT,
    rules: Sequence[Rule] = (),
) -> RuleSet:
    check_can_edit_owned(by, owner.pk if owner else None, perm="risk.add_ruleset", what="规则集")
    cleaned = rule_set_check(code=code, name=name, category=category, mode=mode)
    if RuleSet.objects.filter(owner=owner, code=cleaned["code"]).exists():
        raise ValidationError({"code": f"规则集编码“{cleaned['code']}”已存在"})
    rule_set_members_check(rule_set_owner_id=owner.pk if owner else None, rules=rules)
    rule_set = RuleSet.objects.create(owner=owner, **cleaned)
    RuleSetMember.objects.bulk_create(
        RuleSetMember(rule_set=rule_set, rule=rule, position=i) for i, rule in enumerate(rules, 1)
    )
    return rule_set


@transaction.atomic
def rule_set_update(*, rule_set: RuleSet, by, name=UNSET, mode=UNSET) -> RuleSet:
    """The draft's name or mode; takes effect at the next publication."""
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    check_can_edit_owned(by, rule_set.owner_id, perm="risk.change_ruleset", what="规则集")
    cleaned = rule_set_check(
        code=rule_set.code,
        name=rule_set.name if name is UNSET else name,
        category=rule_set.category,
        mode=rule_set.mode if mode is UNSET else mode,
    )
    rule_set.name, rule_set.mode = cleaned["name"], cleaned["mode"]
    rule_set.save()
    return rule_set


@transaction.atomic
def rule_set_members_set(*, rule_set: RuleSet, by, rules: Sequence[Rule]) -> RuleSet:
    """Replace the draft's members with ``rules`` in this order."""
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    check_can_edit_owned(by, rule_set.owner_id, perm="risk.change_ruleset", what="规则集")
    rule_set_members_check(rule_set_owner_id=rule_set.owner_id, rules=rules)
    RuleSetMember.objects.filter(rule_set=rule_set).delete()
    RuleSetMember.objects.bulk_create(
        RuleSetMember(rule_set=rule_set, rule=rule, position=i) for i, rule in enumerate(rules, 1)
    )
    return rule_set


def _effective_rules(rule_set: RuleSet) -> list[Rule]:
    """The draft's enabled rules in order; in a bank's set a federation rule the bank overrides
    (its own rule of the same code) is replaced by the bank's."""
    members = list(
        RuleSetMember.objects.filter(rule_set=rule_set)
        .select_related("rule__current_version")
        .order_by("position")
    )
    overrides: dict[str, Rule] = {}
    if rule_set.owner_id is not None:
        codes = [m.rule.code for m in members if m.rule.owner_id is None]
        overrides = {
            rule.code: rule
            for rule in Rule.objects.filter(
                owner_id=rule_set.owner_id, code__in=codes
            ).select_related("current_version")
        }
    rules = []
    for member in members:
        rule = (
            overrides.get(member.rule.code, member.rule)
            if member.rule.owner_id is None
            else member.rule
        )
        if rule.enabled and rule.current_version_id:
            rules.append(rule)
    return rules


def _derived_versions_read(rules: Sequence[Rule], bank_id: int | None) -> dict[str, int]:
    """The derived features the rules read, transitively, each at its current version."""
    applying: dict[str, DerivedFeature] = derived_features_for_bank(bank_id)
    wanted: dict[str, int] = {}
    pending = [name for rule in rules for name in rule.current_version.features]
    while pending:
        name = pending.pop()
        feature = applying.get(name)
        if feature is None or name in wanted or feature.current_version is None:
            continue
        wanted[name] = feature.current_version_id
        pending.extend(feature.current_version.depends_on)
    return dict(sorted(wanted.items()))


@transaction.atomic
def rule_set_version_publish(*, rule_set: RuleSet, by) -> RuleSetVersion:
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    check_can_edit_owned(by, rule_set.owner_id, perm="risk.change_ruleset", what="规则集")
    rules = _effective_rules(rule_set)
    if not rules:
        raise ValidationError({"members": "规则集中没有启用的规则，不能发布"})
    derived = _derived_versions_read(rules, rule_set.owner_id)
    missing = sorted(
        {
            name
            for rule in rules
            for name in rule.current_version.features
            if name not in rule_schema(bank_id=rule_set.owner_id)
        }
    )
    if missing:  # a derived feature was disabled since the rule was saved
        raise ValidationError({"members": "规则引用了已停用或不存在的特征：" + "、".join(missing)})
    rule_set.version += 1
    version = RuleSetVersion.objects.create(
        rule_set=rule_set,
        version=rule_set.version,
        mode=rule_set.mode,
        derived_versions=derived,
        published_by=staff_of(by),
        published_at=timezone.now(),
        previous=rule_set.current_version,
    )
    RuleSetVersionMember.objects.bulk_create(
        RuleSetVersionMember(
            set_version=version, rule_version_id=rule.current_version_id, position=i
        )
        for i, rule in enumerate(rules, 1)
    )
    rule_set.current_version = version
    rule_set.save(update_fields=["version", "current_version", "updated_at"])
    return version


# --- the seeded catalogue ----------------------------------------------------------------------


def rules_seed_catalogue(*, apps=None) -> int:
    """Create the federation's catalogue (``risk.rules.catalogue``): the derived features, the
    rules and the three default rule sets, each set published once. Idempotent: a code the
    federation already has is left as staff edited it. Called from a data migration with the
    migration's ``apps``; answers how many rules it created."""
    from django.apps import apps as live_apps

    from risk.derived_features.schema import base_schema
    from risk.expressions.schema import NUMBER, schema_of
    from risk.rules.catalogue import RULE_SETS, RULES, SEEDED_DERIVED_FEATURES

    registry = apps or live_apps
    feature_model = registry.get_model("risk", "DerivedFeature")
    feature_version_model = registry.get_model("risk", "DerivedFeatureVersion")
    rule_model = registry.get_model("risk", "Rule")
    version_model = registry.get_model("risk", "RuleVersion")
    set_model = registry.get_model("risk", "RuleSet")
    member_model = registry.get_model("risk", "RuleSetMember")
    set_version_model = registry.get_model("risk", "RuleSetVersion")
    set_member_model = registry.get_model("risk", "RuleSetVersionMember")

    base = base_schema()
    derived_versions: dict[str, int] = {}
    for code, name, expression in SEEDED_DERIVED_FEATURES:
        compiled = expression_compile(expression, schema=schema_of(base), result=NUMBER)
        feature, created = feature_model.objects.get_or_create(
            owner=None, code=code, defaults={"name": name, "expression": expression}
        )
        if created:
            version = feature_version_model.objects.create(
                feature=feature,
                version=1,
                code=code,
                name=name,
                expression=expression,
                depends_on=sorted(compiled.features),
            )
            feature_model.objects.filter(pk=feature.pk).update(current_version=version)
        derived_versions[code] = feature_model.objects.get(pk=feature.pk).current_version_id
    schema = schema_of({**base, **dict.fromkeys(derived_versions, NUMBER)})

    created_rules = 0
    for code, name, category, expression, outcome, reason_code, reason_text, source in RULES:
        compiled = expression_compile(expression, schema=schema, result=BOOLEAN)
        if rule_model.objects.filter(owner=None, code=code).exists():
            continue
        content = {
            "name": name,
            "category": category,
            "expression": expression,
            "outcome": outcome,
            "reason_code": reason_code,
            "reason_text": reason_text,
            "source": source,
        }
        rule = rule_model.objects.create(owner=None, code=code, **content)
        version = version_model.objects.create(
            rule=rule, version=1, code=code, features=sorted(compiled.features), **content
        )
        rule_model.objects.filter(pk=rule.pk).update(current_version=version)
        created_rules += 1

    for code, name, category, mode in RULE_SETS:
        if set_model.objects.filter(owner=None, code=code).exists():
            continue
        rule_set = set_model.objects.create(
            owner=None, code=code, name=name, category=category, mode=mode, version=1
        )
        rules = list(
            rule_model.objects.filter(owner=None, category=category, enabled=True).order_by("pk")
        )
        member_model.objects.bulk_create(
            member_model(rule_set=rule_set, rule=rule, position=i)
            for i, rule in enumerate(rules, 1)
        )
        read = {
            name
            for version in version_model.objects.filter(
                pk__in=[r.current_version_id for r in rules]
            )
            for name in version.features
        }
        set_version = set_version_model.objects.create(
            rule_set=rule_set,
            version=1,
            mode=mode,
            derived_versions={c: v for c, v in derived_versions.items() if c in read},
            published_at=timezone.now(),
        )
        set_member_model.objects.bulk_create(
            set_member_model(
                set_version=set_version, rule_version_id=rule.current_version_id, position=i
            )
            for i, rule in enumerate(rules, 1)
        )
        set_model.objects.filter(pk=rule_set.pk).update(current_version=set_version)
    return created_rules
