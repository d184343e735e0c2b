"""Versions: draft, edit, submit, send back, activate (maker-checker)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from common.clock import business_today
from products import policy
from products.models import (
    Product,
    ProductStatus,
    ProductVersion,
    VersionStatus,
)
from products.parameters import (
    PARAMETERS,
    ROOT_DEFAULTS,
    clean_raw_parameters,
    merge_chain,
    parameter_errors,
    parameter_label,
    version_values,
)
from products.selectors import (
    parent_version_in_force,
    reference_lpr,
)
from products.services._common import lock_product, record_status_change

# --- Versions -------------------------------------------------------------------------------


def _validate_version(version: ProductVersion, *, complete: bool) -> None:
    """Field-level rules on the version as it would resolve: its own values over the parent's
    version in force on its effective date. Raises with every broken field named."""
    product = version.product
    on_date = version.effective_from or business_today()
    errors: dict[str, str] = {}
    unknown_locks = [n for n in version.locked_parameters if n not in PARAMETERS]
    if unknown_locks:
        errors["locked_parameters"] = f"不是可配置的产品参数：{'、'.join(unknown_locks)}"
    parent_version = parent_version_in_force(product, on_date)
    if product.parent_id is not None:
        if version.locked_parameters:
            errors["locked_parameters"] = "子产品没有下级产品，不能锁定参数"
        if parent_version is None:
            if complete:
                errors["product"] = f"上级产品「{product.parent.name}」在 {on_date} 没有生效版本"
        else:
            for name in parent_version.locked_parameters:
                if getattr(version, name) is not None:
                    errors[name] = f"上级产品已锁定「{parameter_label(name)}」，子产品不得覆盖"
    if errors:
        raise ValidationError(errors)
    chain = [parent_version, version] if parent_version is not None else [version]
    values, _ = merge_chain(chain) if len(chain) > 1 else (version_values(version), None)
    errors = parameter_errors(values, complete=complete, lpr=reference_lpr(on_date))
    if errors:
        raise ValidationError(errors)


def _apply_parameters(version: ProductVersion, raw: Mapping[str, Any]) -> None:
    for name, value in clean_raw_parameters(raw).items():
        setattr(version, name, value)


def _check_effective_from(effective_from: date | None) -> None:
    if effective_from is not None and effective_from < business_today():
        raise ValidationError({"effective_from": "生效日期不能早于今天(不可追溯生效)"})


def product_version_create_check(*, product: Product, effective_from: date | None = None) -> None:
    """Raise ``ValidationError`` unless ``product`` may take a new draft version (not retired,
    no draft or pending version open, not back-dated). Writes nothing and checks no permission:
    the admin's version form calls it, because the form cannot apply the one-open-version
    constraint itself (it turns on a status the form does not have) and the refusal would
    otherwise come from the save, as a server error."""
    if product.status == ProductStatus.RETIRED:
        raise ValidationError({"product": "已下架的产品不能新增版本"})
    if product.versions.filter(status__in=[VersionStatus.DRAFT, VersionStatus.PENDING]).exists():
        raise ValidationError({"product": "该产品已有未生效的版本(草稿或待复核)，请先处理"})
    _check_effective_from(effective_from)


@transaction.atomic
def product_version_create(
    *,
    product: Product,
    actor,
    parameters: Mapping[str, Any],
    locked_parameters: Iterable[str] = (),
    effective_from: date | None = None,
    change_note: str = "",
) -> ProductVersion:
    """A new draft. On a root product unset parameters start from ``ROOT_DEFAULTS``; on a
    sub-product every unset parameter is inherited."""
    product = lock_product(product)
    policy.check_manage_owner(actor, product.owner_id)
    product_version_create_check(product=product, effective_from=effective_from)
    number = (product.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ProductVersion(
        product=product,
        number=number,
        effective_from=effective_from,
        change_note=change_note,
        locked_parameters=list(dict.fromkeys(locked_parameters)),
        created_by=actor,
        updated_by=actor,
    )
    _apply_parameters(version, _with_root_defaults(product, parameters))
    _validate_version(version, complete=False)
    version.save()
    record_status_change(product, version, "version_create", "", version.status, actor, change_note)
    return version


@transaction.atomic
def product_version_derive(*, product: Product, actor, change_note: str = "") -> ProductVersion:
    """ "Edit" an active product: a new draft that starts as a copy of the latest version."""
    source = product.versions.order_by("-number").first()
    values = version_values(source) if source else {}
    return product_version_create(
        product=product,
        actor=actor,
        parameters=values,
        locked_parameters=source.locked_parameters if source else (),
        change_note=change_note or (f"基于 v{source.number} 修改" if source else ""),
    )


def _with_root_defaults(product: Product, parameters: Mapping[str, Any]) -> dict[str, Any]:
    if product.parent_id is not None:
        return dict(parameters)
    given = {name: value for name, value in parameters.items() if value not in (None, "")}
    return {**ROOT_DEFAULTS, **given}


def product_version_validate(
    *,
    product: Product,
    parameters: Mapping[str, Any],
    locked_parameters: Iterable[str] = (),
    effective_from: date | None = None,
    version: ProductVersion | None = None,
) -> None:
    """Check a draft's values without writing (admin form ``clean``); the write services run
    the same checks again inside their transaction."""
    candidate = ProductVersion(
        product=product,
        number=version.number if version else 0,
        effective_from=effective_from,
        locked_parameters=list(locked_parameters),
    )
    if version is None:
        parameters = _with_root_defaults(product, parameters)
    _check_effective_from(effective_from)
    _apply_parameters(candidate, parameters)
    _validate_version(candidate, complete=False)


_UNSET: Any = object()


@transaction.atomic
def product_version_update(
    *,
    version: ProductVersion,
    actor,
    parameters: Mapping[str, Any],
    locked_parameters: Iterable[str] | None = None,
    effective_from: date | None = _UNSET,
    change_note: str | None = None,
) -> ProductVersion:
    """Change a draft. Submitted and activated versions are immutable: what the checker
    approved, and what loans were approved under, must be what stays on record."""
    lock_product(version.product)
    version = (
        ProductVersion.objects.select_for_update(of=("self",))
        .select_related("product")
        .get(pk=version.pk)
    )
    policy.check_manage_owner(actor, version.product.owner_id)
    if version.status != VersionStatus.DRAFT:
        raise ValidationError(
            {
                "status": f"版本 v{version.number} 状态为{version.get_status_display()}，不可修改；"
                "请基于它创建新版本"
            }
        )
    _apply_parameters(version, parameters)
    if locked_parameters is not None:
        version.locked_parameters = list(dict.fromkeys(locked_parameters))
    if effective_from is not _UNSET:
        _check_effective_from(effective_from)
        version.effective_from = effective_from
    if change_note is not None:
        version.change_note = change_note
    version.updated_by = actor
    _validate_version(version, complete=False)
    version.save()
    return version


@transaction.atomic
def product_version_submit(*, version: ProductVersion, actor) -> ProductVersion:
    """Maker hands the draft to a checker; it must be complete and consistent by then."""
    lock_product(version.product)
    version = (
        ProductVersion.objects.select_for_update(of=("self",))
        .select_related("product")
        .get(pk=version.pk)
    )
    policy.check_manage_owner(actor, version.product.owner_id)
    if version.status != VersionStatus.DRAFT:
        raise ValidationError(
            {"status": f"只有草稿可以提交复核，当前为{version.get_status_display()}"}
        )
    _validate_version(version, complete=True)
    version.submit()
    version.submitted_by = actor
    version.submitted_at = timezone.now()
    version.save(update_fields=["status", "submitted_by", "submitted_at", "updated_at"])
    record_status_change(
        version.product, version, "submit", VersionStatus.DRAFT, version.status, actor
    )
    return version


@transaction.atomic
def product_version_send_back(*, version: ProductVersion, actor, reason: str) -> ProductVersion:
    """Checker returns a submitted version to draft with the reason."""
    lock_product(version.product)
    version = (
        ProductVersion.objects.select_for_update(of=("self",))
        .select_related("product")
        .get(pk=version.pk)
    )
    policy.check_manage_owner(
        actor, version.product.owner_id, perm="products.activate_productversion"
    )
    if version.status != VersionStatus.PENDING:
        raise ValidationError({"status": "只有待复核的版本可以退回"})
    if not reason.strip():
        raise ValidationError({"reason": "请填写退回意见"})
    version.send_back()
    version.save(update_fields=["status", "updated_at"])
    record_status_change(
        version.product, version, "send_back", VersionStatus.PENDING, version.status, actor, reason
    )
    return version


@transaction.atomic
def product_version_activate(*, version: ProductVersion, actor) -> ProductVersion:
    """Checker puts a submitted version into force (maker-checker: never its own work).

    The version previously in force is superseded; loans pinned to it keep it (ProductPin).
    """
    product = lock_product(version.product)
    version = ProductVersion.objects.select_for_update().get(pk=version.pk)
    version.product = product
    policy.check_manage_owner(actor, product.owner_id, perm="products.activate_productversion")
    if version.status != VersionStatus.PENDING:
        raise ValidationError(
            {"status": f"只有待复核的版本可以生效，当前为{version.get_status_display()}"}
        )
    makers = {version.created_by_id, version.updated_by_id, version.submitted_by_id}
    if actor.pk in makers:
        raise ValidationError({"approved_by": "不能复核生效自己制作、修改或提交的版本(双人复核)"})
    if product.status == ProductStatus.RETIRED:
        raise ValidationError({"product": "已下架的产品不能生效新版本"})
    today = business_today()
    if version.effective_from is None:
        version.effective_from = today
    _check_effective_from(version.effective_from)
    previous = product.versions.activated().order_by("-effective_from", "-number").first()
    if previous is not None and version.effective_from < previous.effective_from:
        raise ValidationError(
            {
                "effective_from": f"生效日期不能早于上一版本 v{previous.number} 的生效日期 {previous.effective_from}"
            }
        )
    # Re-check against the parent as it stands now: it may have changed since submission.
    _validate_version(version, complete=True)

    for active in product.versions.select_for_update().filter(status=VersionStatus.ACTIVE):
        active.supersede()
        active.superseded_at = timezone.now()
        active.save(update_fields=["status", "superseded_at", "updated_at"])
        record_status_change(
            product, active, "supersede", VersionStatus.ACTIVE, active.status, actor
        )
    version.activate()
    version.approved_by = actor
    version.activated_at = timezone.now()
    version.save(
        update_fields=["status", "approved_by", "activated_at", "effective_from", "updated_at"]
    )
    record_status_change(product, version, "activate", VersionStatus.PENDING, version.status, actor)
    if product.status == ProductStatus.DRAFT:
        product.launch()
        product.save(update_fields=["status", "updated_at"])
        record_status_change(product, None, "launch", ProductStatus.DRAFT, product.status, actor)
    return version
