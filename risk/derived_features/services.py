"""Writes of derived features. Each edit of the definition makes a new immutable version; the
definition is refused when its expression does not compile to a number, names an unknown
feature, or closes a cycle through other derived features."""

from __future__ import annotations

import keyword
import re

from django.core.exceptions import ValidationError
from django.db import transaction

from org.models import Institution
from risk.derived_features.models import DerivedFeature, DerivedFeatureVersion
from risk.derived_features.ownership import check_can_edit_owned, staff_of
from risk.derived_features.schema import base_schema, derived_features_for_bank
from risk.expressions.engine import ExpressionError, expression_compile
from risk.expressions.schema import NUMBER, schema_of

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
# Words of the rule language a code may not be.
RESERVED_WORDS = frozenset(
    {"true", "false", "null", "and", "or", "not", "in", "for", "if", "inf", "nan"}
)
UNSET = object()


def _check_code(code: str, *, errors: dict) -> str:
    code = (code or "").strip()
    if not CODE_PATTERN.match(code) or code in RESERVED_WORDS or keyword.iskeyword(code):
        errors["code"] = "编码须为英文小写字母开头的字母、数字或下划线(2至64个字符)"
    elif code in base_schema():
        errors["code"] = f"“{code}”已是平台内置特征的名称"
    return code


def _cycle_through(code: str, depends: dict[str, set[str]]) -> list[str] | None:
    """A path code → … → code in the graph of derived features, if there is one."""
    stack = [(code, [code])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for nxt in depends.get(name, ()):
            if nxt == code:
                return [*path, code]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def derived_feature_check(
    *, owner: Institution | None, code: str, name: str, expression: str
) -> tuple[str, str, list[str]]:
    """Write-free: what the create/update services refuse. Answers code, name and the names the
    expression reads."""
    errors: dict[str, str] = {}
    code = _check_code(code, errors=errors)
    name = (name or "").strip()
    if not name:
        errors["name"] = "请填写特征名称"
    elif len(name) > 100:
        errors["name"] = "特征名称最长100个字"
    owner_id = owner.pk if owner else None
    others = {
        other_code: feature
        for other_code, feature in derived_features_for_bank(owner_id).items()
        if other_code != code
    }
    schema = schema_of({**base_schema(), **dict.fromkeys([*others, code], NUMBER)})
    features: list[str] = []
    try:
        compiled = expression_compile(expression, schema=schema, result=NUMBER)
        features = sorted(compiled.features)
    except ExpressionError as exc:
        errors["expression"] = exc.message_text
    if "expression" not in errors and "code" not in errors:
        depends = {
            other_code: set(f.current_version.depends_on if f.current_version else [])
            for other_code, f in others.items()
        }
        depends[code] = set(features)
        cycle = _cycle_through(code, depends)
        if cycle:
            errors["expression"] = "衍生特征之间形成循环引用：" + " → ".join(cycle)
    if errors:
        raise ValidationError(errors)
    return code, name, features


def _new_version(feature: DerivedFeature, *, by, features: list[str]) -> DerivedFeatureVersion:
    version = DerivedFeatureVersion.objects.create(
        feature=feature,
        version=feature.version,
        code=feature.code,
        name=feature.name,
        expression=feature.expression,
        depends_on=features,
        created_by=staff_of(by),
    )
    DerivedFeature.objects.filter(pk=feature.pk).update(current_version=version)
    feature.current_version = version
    return version


@transaction.atomic
def derived_feature_create(
    *,
    by,
    owner: Institution | None,
    code: str,
    name: str,
    expression: str,
    enabled: bool = True,
) -> DerivedFeature:
    check_can_edit_owned(
        by, owner.pk if owner else None, perm="risk.add_derivedfeature", what="衍生特征"
    )
    code, name, features = derived_feature_check(
        owner=owner, code=code, name=name, expression=expression
    )
    if DerivedFeature.objects.filter(owner=owner, code=code).exists():
        raise ValidationError({"code": f"编码“{code}”已存在"})
    feature = DerivedFeature.objects.create(
        owner=owner, code=code, name=name, expression=expression.strip(), enabled=enabled
    )
    _new_version(feature, by=by, features=features)
    return feature


@transaction.atomic
def derived_feature_update(
    *, feature: DerivedFeature, by, name=UNSET, expression=UNSET, enabled=UNSET
) -> DerivedFeature:
    """A new name or expression makes a new version; switching ``enabled`` does not."""
    feature = DerivedFeature.objects.select_for_update().get(pk=feature.pk)
    check_can_edit_owned(by, feature.owner_id, perm="risk.change_derivedfeature", what="衍生特征")
    new_name = feature.name if name is UNSET else name
    new_expression = feature.expression if expression is UNSET else (expression or "").strip()
    _, new_name, features = derived_feature_check(
        owner=feature.owner, code=feature.code, name=new_name, expression=new_expression
    )
    changed = (new_name, new_expression) != (feature.name, feature.expression)
    feature.name, feature.expression = new_name, new_expression
    if enabled is not UNSET:
        feature.enabled = bool(enabled)
    if changed:
        feature.version += 1
    feature.save()
    if changed:
        _new_version(feature, by=by, features=features)
    return feature
