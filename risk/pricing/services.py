"""Writes of the limit and pricing models: create, draft, edit, submit, send back, activate.

Maker-checker as for product versions: the maker edits a draft and submits it; a second person
holding ``risk.activate_limitmodelversion`` (``…pricingmodelversion``) puts it into force or sends
it back with a reason. Whoever created, last edited or submitted a version may not activate it.
An active version is never edited: ``*_version_derive`` starts a new draft from the latest one.
Federation staff maintain federation models (no owner), a bank's risk staff their bank's only,
superusers any. Every status change writes a change-log row in the same transaction.

Each service exists twice, named for its model (``limit_model_version_submit``,
``pricing_model_version_submit``); both run the one implementation below with the model's
``_Kind``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from common.clock import business_today
from org.models import Institution
from org.tenancy import scope_for
from risk.pricing.models import (
    LimitModel,
    LimitModelChange,
    LimitModelVersion,
    ModelVersionStatus,
    PricingModel,
    PricingModelChange,
    PricingModelVersion,
)
from risk.pricing.parameters import (
    LimitParameters,
    PricingParameters,
    limit_parameters_clean,
    pricing_parameters_clean,
    to_json_table,
)

Status = ModelVersionStatus
_UNSET: Any = object()


@dataclass(frozen=True)
class _Kind:
    model: type
    version: type
    change: type
    label: str
    fields: tuple[str, ...]
    clean: Callable[[Mapping[str, Any]], tuple[Any, dict]]
    to_fields: Callable[[Any], dict[str, Any]]
    manage_perm: str
    activate_perm: str


def _limit_fields(p: LimitParameters) -> dict[str, Any]:
    return {
        "income_multiples": to_json_table(p.income_multiples),
        "asset_shares": to_json_table(p.asset_shares),
        "colour_multipliers": to_json_table(p.colour_multipliers),
        "no_review_multiplier": p.no_review_multiplier,
        "cap_at_suggested_amount": p.cap_at_suggested_amount,
        "max_debt_ratio": p.max_debt_ratio,
    }


def _pricing_fields(p: PricingParameters) -> dict[str, Any]:
    return {
        "spreads_by_grade": to_json_table(p.spreads_by_grade),
        "colour_adjustments": to_json_table(p.colour_adjustments),
        "no_review_adjustment": p.no_review_adjustment,
    }


LIMIT = _Kind(
    model=LimitModel,
    version=LimitModelVersion,
    change=LimitModelChange,
    label="额度模型",
    fields=tuple(_limit_fields(LimitParameters({}, {}, {}))),
    clean=limit_parameters_clean,
    to_fields=_limit_fields,
    manage_perm="risk.change_limitmodelversion",
    activate_perm="risk.activate_limitmodelversion",
)
PRICING = _Kind(
    model=PricingModel,
    version=PricingModelVersion,
    change=PricingModelChange,
    label="定价模型",
    fields=tuple(_pricing_fields(PricingParameters({}, {}))),
    clean=pricing_parameters_clean,
    to_fields=_pricing_fields,
    manage_perm="risk.change_pricingmodelversion",
    activate_perm="risk.activate_pricingmodelversion",
)


# --- who may act -------------------------------------------------------------------------------


def can_act_on(user, owner_id: int | None, *, perm: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.has_perm(perm):
        return False
    scope = scope_for(user)
    if scope.sees_nothing:
        return False
    if scope.all_banks:  # federation staff: the federation's own models
        return owner_id is None
    return owner_id is not None and owner_id == scope.bank_id


def _check_can_act(kind: _Kind, user, owner_id: int | None, *, perm: str) -> None:
    if not can_act_on(user, owner_id, perm=perm):
        whose = "省联社" if owner_id is None else "本行社"
        raise PermissionDenied(f"只有{whose}有权限的风险管理人员可以维护{whose}{kind.label}")


def default_owner(user) -> Institution | None:
    """The owner of a model ``user`` creates: their bank, or the federation (``None``)."""
    scope = scope_for(user)
    if scope.all_banks or scope.bank_id is None:
        return None
    return Institution.objects.get(pk=scope.bank_id)


def _log(kind: _Kind, version, action: str, before: str, actor, reason: str = "") -> None:
    kind.change.objects.create(
        version=version,
        action=action,
        from_status=before,
        to_status=version.status,
        actor=actor,
        reason=(reason or "")[:300],
        at=timezone.now(),
    )


def _lock_model(kind: _Kind, model):
    return kind.model.objects.select_for_update().get(pk=model.pk)


def _lock_version(kind: _Kind, version):
    _lock_model(kind, version.model)
    return (
        kind.version.objects.select_for_update(of=("self",))
        .select_related("model")
        .get(pk=version.pk)
    )


# --- checks (write-free; the admin forms call them) ---------------------------------------------


def _clean(kind: _Kind, parameters: Mapping[str, Any]) -> dict[str, Any]:
    clean, errors = kind.clean(parameters)
    if errors:
        raise ValidationError(errors)
    return kind.to_fields(clean)


def _check_effective_from(effective_from: date | None) -> None:
    if effective_from is not None and effective_from < business_today():
        raise ValidationError({"effective_from": "生效日期不能早于今天(不可追溯生效)"})


def model_parameters_check(
    *, kind: _Kind, parameters: Mapping[str, Any], effective_from: date | None = None
) -> None:
    """Raise ``ValidationError`` naming each bad table cell (``income_multiples_AAA``…) or date;
    writes nothing. The services run it again inside their transaction."""
    errors: dict[str, Any] = {}
    try:
        _clean(kind, parameters)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        _check_effective_from(effective_from)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def _model_create(
    kind: _Kind,
    *,
    actor,
    owner: Institution | Any | None = _UNSET,
    code: str,
    name: str,
    parameters: Mapping[str, Any],
    description: str = "",
    is_default: bool = True,
    effective_from: date | None = None,
    change_note: str = "",
):
    owner = default_owner(actor) if owner is _UNSET else owner
    owner_id = owner.pk if owner is not None else None
    _check_can_act(kind, actor, owner_id, perm=kind.manage_perm)
    errors = {}
    code, name = (code or "").strip(), (name or "").strip()
    if not code:
        errors["code"] = "请填写模型代码"
    elif kind.model.objects.filter(code=code).exists():
        errors["code"] = f"模型代码 {code} 已存在"
    if not name:
        errors["name"] = "请填写模型名称"
    if is_default and kind.model.objects.filter(owner_id=owner_id, is_default=True).exists():
        errors["is_default"] = f"该机构已有默认{kind.label}，请先取消原默认模型或不勾选默认"
    try:
        model_parameters_check(kind=kind, parameters=parameters, effective_from=effective_from)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    model = kind.model.objects.create(
        owner_id=owner_id, code=code, name=name, description=description, is_default=is_default
    )
    return _version_create(
        kind,
        model=model,
        actor=actor,
        parameters=parameters,
        effective_from=effective_from,
        change_note=change_note or "初始版本",
    )


def _version_create(
    kind: _Kind,
    *,
    model,
    actor,
    parameters: Mapping[str, Any],
    effective_from: date | None = None,
    change_note: str = "",
):
    model = _lock_model(kind, model)
    _check_can_act(kind, actor, model.owner_id, perm=kind.manage_perm)
    if model.versions.filter(status__in=[Status.DRAFT, Status.PENDING]).exists():
        raise ValidationError({"model": f"该{kind.label}已有未生效的版本(草稿或待复核)，请先处理"})
    fields = _clean(kind, parameters)
    _check_effective_from(effective_from)
    number = (model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = kind.version.objects.create(
        model=model,
        number=number,
        effective_from=effective_from,
        change_note=change_note,
        created_by=actor,
        updated_by=actor,
        **fields,
    )
    _log(kind, version, "create", "", actor, change_note)
    return version


def _version_derive(kind: _Kind, *, model, actor, change_note: str = ""):
    source = model.versions.order_by("-number").first()
    values = kind.to_fields(source.parameters()) if source else {}
    return _version_create(
        kind,
        model=model,
        actor=actor,
        parameters=values,
        change_note=change_note or (f"基于 v{source.number} 修改" if source else ""),
    )


def _version_update(
    kind: _Kind,
    *,
    version,
    actor,
    parameters: Mapping[str, Any],
    effective_from: date | Any | None = _UNSET,
    change_note: str | None = None,
):
    version = _lock_version(kind, version)
    _check_can_act(kind, actor, version.model.owner_id, perm=kind.manage_perm)
    if version.status != Status.DRAFT:
        raise ValidationError(
            {
                "status": f"版本 v{version.number} 状态为{version.get_status_display()}，不可修改；"
                "请基于它创建新版本"
            }
        )
    current = kind.to_fields(version.parameters())
    fields = _clean(kind, {**current, **parameters})
    for name, value in fields.items():
        setattr(version, name, value)
    if effective_from is not _UNSET:
        _check_effective_from(effective_from)
        version.effective_from = effective_from
    if change_note is not None:
        version.change_note = change_note
    version.updated_by = actor
    version.save()
    version.__dict__.pop("_parameters", None)
    return version


def _version_submit(kind: _Kind, *, version, actor):
    version = _lock_version(kind, version)
    _check_can_act(kind, actor, version.model.owner_id, perm=kind.manage_perm)
    if version.status != Status.DRAFT:
        raise ValidationError(
            {"status": f"只有草稿可以提交复核，当前为{version.get_status_display()}"}
        )
    _clean(kind, kind.to_fields(version.parameters()))
    version.submit()
    version.submitted_by = actor
    version.submitted_at = timezone.now()
    version.save(update_fields=["status", "submitted_by", "submitted_at", "updated_at"])
    _log(kind, version, "submit", Status.DRAFT, actor)
    return version


def _version_send_back(kind: _Kind, *, version, actor, reason: str):
    version = _lock_version(kind, version)
    _check_can_act(kind, actor, version.model.owner_id, perm=kind.activate_perm)
    if version.status != Status.PENDING:
        raise ValidationError({"status": "只有待复核的版本可以退回"})
    if not (reason or "").strip():
        raise ValidationError({"reason": "请填写退回意见"})
    version.send_back()
    version.save(update_fields=["status", "updated_at"])
    _log(kind, version, "send_back", Status.PENDING, actor, reason)
    return version


def _version_activate(kind: _Kind, *, version, actor):
    """The checker puts a submitted version into force; the version in force before is
    superseded (decisions made under it keep naming it)."""
    version = _lock_version(kind, version)
    model = version.model
    _check_can_act(kind, actor, model.owner_id, perm=kind.activate_perm)
    if version.status != Status.PENDING:
        raise ValidationError(
            {"status": f"只有待复核的版本可以生效，当前为{version.get_status_display()}"}
        )
    makers = {version.created_by_id, version.updated_by_id, version.submitted_by_id}
    if actor.pk in makers:
        raise ValidationError({"approved_by": "不能复核生效自己制作、修改或提交的版本(双人复核)"})
    today = business_today()
    version.effective_from = version.effective_from or today
    _check_effective_from(version.effective_from)
    previous = model.versions.activated().order_by("-effective_from", "-number").first()
    if previous is not None and version.effective_from < previous.effective_from:
        raise ValidationError(
            {
                "effective_from": f"生效日期不能早于上一版本 v{previous.number} 的生效日期 "
                f"{previous.effective_from}"
            }
        )
    _clean(kind, kind.to_fields(version.parameters()))
    now = timezone.now()
    for active in model.versions.select_for_update().filter(status=Status.ACTIVE):
        active.supersede()
        active.superseded_at = now
        active.save(update_fields=["status", "superseded_at", "updated_at"])
        _log(kind, active, "supersede", Status.ACTIVE, actor)
    version.activate()
    version.approved_by = actor
    version.activated_at = now
    version.save(
        update_fields=["status", "effective_from", "approved_by", "activated_at", "updated_at"]
    )
    _log(kind, version, "activate", Status.PENDING, actor)
    return version


# --- the named services ------------------------------------------------------------------------


@transaction.atomic
def limit_model_create(*, actor, code: str, name: str, parameters: Mapping[str, Any], **kwargs):
    """A new limit model with its first draft version (owner: the actor's bank, or the
    federation for federation staff, unless ``owner`` is given). Returns the draft."""
    return _model_create(LIMIT, actor=actor, code=code, name=name, parameters=parameters, **kwargs)


@transaction.atomic
def limit_model_version_create(*, model: LimitModel, actor, parameters, **kwargs):
    return _version_create(LIMIT, model=model, actor=actor, parameters=parameters, **kwargs)


@transaction.atomic
def limit_model_version_derive(*, model: LimitModel, actor, change_note: str = ""):
    """ "Edit" a model: a new draft copying its latest version."""
    return _version_derive(LIMIT, model=model, actor=actor, change_note=change_note)


@transaction.atomic
def limit_model_version_update(*, version: LimitModelVersion, actor, parameters, **kwargs):
    return _version_update(LIMIT, version=version, actor=actor, parameters=parameters, **kwargs)


@transaction.atomic
def limit_model_version_submit(*, version: LimitModelVersion, actor):
    return _version_submit(LIMIT, version=version, actor=actor)


@transaction.atomic
def limit_model_version_send_back(*, version: LimitModelVersion, actor, reason: str):
    return _version_send_back(LIMIT, version=version, actor=actor, reason=reason)


@transaction.atomic
def limit_model_version_activate(*, version: LimitModelVersion, actor):
    return _version_activate(LIMIT, version=version, actor=actor)


@transaction.atomic
def pricing_model_create(*, actor, code: str, name: str, parameters: Mapping[str, Any], **kwargs):
    """A new pricing model with its first draft version (as ``limit_model_create``)."""
    return _model_create(
        PRICING, actor=actor, code=code, name=name, parameters=parameters, **kwargs
    )


@transaction.atomic
def pricing_model_version_create(*, model: PricingModel, actor, parameters, **kwargs):
    return _version_create(PRICING, model=model, actor=actor, parameters=parameters, **kwargs)


@transaction.atomic
def pricing_model_version_derive(*, model: PricingModel, actor, change_note: str = ""):
    return _version_derive(PRICING, model=model, actor=actor, change_note=change_note)


@transaction.atomic
def pricing_model_version_update(*, version: PricingModelVersion, actor, parameters, **kwargs):
    return _version_update(PRICING, version=version, actor=actor, parameters=parameters, **kwargs)


@transaction.atomic
def pricing_model_version_submit(*, version: PricingModelVersion, actor):
    return _version_submit(PRICING, version=version, actor=actor)


@transaction.atomic
def pricing_model_version_send_back(*, version: PricingModelVersion, actor, reason: str):
    return _version_send_back(PRICING, version=version, actor=actor, reason=reason)


@transaction.atomic
def pricing_model_version_activate(*, version: PricingModelVersion, actor):
    return _version_activate(PRICING, version=version, actor=actor)


def kind_of(obj) -> _Kind:
    """The ``_Kind`` of a model or version instance or class (for the admin)."""
    cls = obj if isinstance(obj, type) else type(obj)
    for kind in (LIMIT, PRICING):
        if issubclass(cls, (kind.model, kind.version)):
            return kind
    raise TypeError(cls)


# --- the federation defaults -------------------------------------------------------------------


@transaction.atomic
def pricing_defaults_ensure() -> tuple[LimitModelVersion, PricingModelVersion]:
    """The federation's default limit and pricing models, active from ``DEFAULTS_EFFECTIVE_FROM``
    (idempotent: an existing model of the code is left as it is). Called by the data migration
    and by anything that empties the tables (a test flushing the database)."""
    from risk.pricing import defaults

    limit = _seed(LIMIT, defaults.LIMIT_MODEL, defaults.LIMIT_PARAMETERS)
    pricing = _seed(PRICING, defaults.PRICING_MODEL, defaults.PRICING_PARAMETERS)
    return limit, pricing


def _seed(kind: _Kind, model_fields: Mapping[str, str], parameters: Mapping[str, Any]):
    from risk.pricing import defaults

    model, created = kind.model.objects.get_or_create(
        code=model_fields["code"],
        defaults={**model_fields, "owner": None, "is_default": True},
    )
    if not created:
        return model.versions.activated().order_by("-effective_from", "-number").first()
    version = kind.version.objects.create(
        model=model,
        number=1,
        status=Status.ACTIVE,
        effective_from=defaults.DEFAULTS_EFFECTIVE_FROM,
        change_note="系统预置省联社默认参数",
        activated_at=timezone.now(),
        **_clean(kind, parameters),
    )
    _log(kind, version, "seed", "", None, "系统预置")
    return version


# --- shared with other versioned risk data ------------------------------------------------------
# Decision flows (``risk.decisions``) are versioned with the same maker-checker: they declare
# their own ``VersionKind`` and run these implementations.
VersionKind = _Kind
versioned_model_create = _model_create
version_create = _version_create
version_derive = _version_derive
version_update = _version_update
version_submit = _version_submit
version_send_back = _version_send_back
version_activate = _version_activate
version_lock = _lock_version
version_check_can_act = _check_can_act
