"""Products: create, describe, suspend, resume, retire."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from org.models import Institution
from products import policy
from products.models import (
    Channel,
    CustomerSegment,
    Product,
    ProductSeries,
    ProductStatus,
    PurposeCategory,
)
from products.services._common import lock_product, record_status_change

# --- Products -------------------------------------------------------------------------------


def _check_choices(field: str, values: Iterable[str], choices, label: str) -> list[str]:
    values = list(dict.fromkeys(values))
    if not values:
        raise ValidationError({field: f"至少选择一个{label}"})
    unknown = [v for v in values if v not in choices.values]
    if unknown:
        raise ValidationError({field: f"未知的{label}：{'、'.join(unknown)}"})
    return values


def _check_identity(
    *,
    series: str,
    purpose: str,
    segments: Iterable[str],
    channels: Iterable[str],
    parent: Product | None,
) -> tuple[list[str], list[str]]:
    if series not in ProductSeries.values:
        raise ValidationError({"series": f"未知的产品系列 {series}"})
    if purpose not in PurposeCategory.values:
        raise ValidationError({"purpose": f"未知的贷款用途类别 {purpose}"})
    segments = _check_choices("segments", segments, CustomerSegment, "适用客群")
    channels = _check_choices("channels", channels, Channel, "申请渠道")
    if parent is not None:
        # A bank may narrow who and where its sub-product is sold, never widen the parent's.
        extra = [s for s in segments if s not in parent.segments]
        if extra:
            names = "、".join(CustomerSegment(s).label for s in extra)
            raise ValidationError({"segments": f"上级产品不面向这些客群：{names}"})
        extra = [c for c in channels if c not in parent.channels]
        if extra:
            names = "、".join(Channel(c).label for c in extra)
            raise ValidationError({"channels": f"上级产品不开放这些渠道：{names}"})
    return segments, channels


def _check_parent(parent: Product | None, owner: Institution | None) -> None:
    if parent is None:
        return
    if parent.parent_id is not None:
        raise ValidationError({"parent": "上级产品本身是子产品；子产品只能挂在一级产品下"})
    if parent.owner_id is not None and parent.owner_id != (owner.pk if owner else None):
        raise ValidationError({"parent": "只能以省联社产品或本行社产品作为上级产品"})
    if parent.status == ProductStatus.RETIRED:
        raise ValidationError({"parent": "上级产品已下架"})


def product_create_check(
    *,
    code: str,
    name: str,
    series: str,
    purpose: str,
    segments: Iterable[str],
    channels: Iterable[str],
    owner: Institution | None = None,
    parent: Product | None = None,
) -> tuple[list[str], list[str]]:
    """Raise ``ValidationError`` unless such a product may be created; returns the segments and
    channels as they will be stored. Writes nothing and checks no permission: the admin form
    calls it so a refusal shows on the form."""
    code, name = code.strip(), name.strip()
    if owner is not None and owner.kind != Institution.Kind.BANK:
        raise ValidationError({"owner": "产品只能归属省联社或法人行社"})
    if not code:
        raise ValidationError({"code": "请填写产品代码"})
    if not name:
        raise ValidationError({"name": "请填写产品名称"})
    # The form limits what staff type, but a clone makes its code and name by adding the bank's
    # to the source's; too long would otherwise fail the insert as a server error.
    for field, value in (("code", code), ("name", name)):
        limit = Product._meta.get_field(field).max_length
        if len(value) > limit:
            raise ValidationError({field: f"“{value}”超过{limit}个字符"})
    if Product.objects.filter(code=code).exists():
        raise ValidationError({"code": f"产品代码 {code} 已存在"})
    _check_parent(parent, owner)
    return _check_identity(
        series=series, purpose=purpose, segments=segments, channels=channels, parent=parent
    )


@transaction.atomic
def product_create(
    *,
    actor,
    code: str,
    name: str,
    series: str,
    purpose: str,
    segments: Iterable[str],
    channels: Iterable[str],
    owner: Institution | None = None,
    parent: Product | None = None,
    description: str = "",
) -> Product:
    """A new product in draft; its parameters come with its first version."""
    if owner is not None and owner.kind != Institution.Kind.BANK:
        raise ValidationError({"owner": "产品只能归属省联社或法人行社"})
    policy.check_manage_owner(actor, owner.pk if owner else None, perm="products.add_product")
    segments, channels = product_create_check(
        code=code,
        name=name,
        series=series,
        purpose=purpose,
        segments=segments,
        channels=channels,
        owner=owner,
        parent=parent,
    )
    code, name = code.strip(), name.strip()
    product = Product.objects.create(
        code=code,
        name=name,
        series=series,
        purpose=purpose,
        segments=segments,
        channels=channels,
        owner=owner,
        parent=parent,
        description=description,
        created_by=actor,
    )
    record_status_change(product, None, "create", "", product.status, actor)
    return product


@transaction.atomic
def product_update(
    *,
    product: Product,
    actor,
    name: str,
    purpose: str,
    segments: Iterable[str],
    channels: Iterable[str],
    description: str = "",
) -> Product:
    """Descriptive fields only; code, series, owner and parent are fixed once created because
    pinned loans and sub-products refer to them."""
    product = (
        Product.objects.select_for_update(of=("self",)).select_related("parent").get(pk=product.pk)
    )
    policy.check_manage_owner(actor, product.owner_id)
    segments, channels = product_update_check(
        product=product, name=name, purpose=purpose, segments=segments, channels=channels
    )
    product.name = name.strip()
    product.purpose = purpose
    product.segments = segments
    product.channels = channels
    product.description = description
    product.save(
        update_fields=["name", "purpose", "segments", "channels", "description", "updated_at"]
    )
    return product


def product_update_check(
    *,
    product: Product,
    name: str,
    purpose: str,
    segments: Iterable[str],
    channels: Iterable[str],
) -> tuple[list[str], list[str]]:
    """Raise ``ValidationError`` unless ``product`` may take these descriptive fields; returns the
    segments and channels as they will be stored. Writes nothing (see ``product_create_check``)."""
    if product.status == ProductStatus.RETIRED:
        raise ValidationError({"status": "已下架的产品不能修改"})
    if not name.strip():
        raise ValidationError({"name": "请填写产品名称"})
    return _check_identity(
        series=product.series,
        purpose=purpose,
        segments=segments,
        channels=channels,
        parent=product.parent,
    )


@transaction.atomic
def product_suspend(*, product: Product, actor, reason: str) -> Product:
    """Stops new applications at once. One person may do it: stopping a product that turned out
    wrong must not wait for a second signature; putting it back on sale does (product_resume)."""
    product = lock_product(product)
    policy.check_manage_owner(actor, product.owner_id)
    if not reason.strip():
        raise ValidationError({"reason": "请填写暂停原因"})
    if product.status != ProductStatus.ACTIVE:
        raise ValidationError(
            {"status": f"只有在售产品可以暂停，当前为{product.get_status_display()}"}
        )
    product.suspend()
    product.save(update_fields=["status", "updated_at"])
    record_status_change(
        product, None, "suspend", ProductStatus.ACTIVE, product.status, actor, reason.strip()
    )
    return product


@transaction.atomic
def product_resume(*, product: Product, actor, reason: str = "") -> Product:
    product = lock_product(product)
    policy.check_manage_owner(actor, product.owner_id, perm="products.activate_productversion")
    if product.status != ProductStatus.SUSPENDED:
        raise ValidationError(
            {"status": f"只有暂停的产品可以恢复，当前为{product.get_status_display()}"}
        )
    suspended_by = product.status_changes.filter(action="suspend").order_by("-at", "-id").first()
    if suspended_by is not None and suspended_by.actor_id == actor.pk:
        raise ValidationError({"approved_by": "暂停与恢复须由不同人员操作(双人复核)"})
    product.resume()
    product.save(update_fields=["status", "updated_at"])
    record_status_change(
        product, None, "resume", ProductStatus.SUSPENDED, product.status, actor, reason
    )
    return product


@transaction.atomic
def product_retire(*, product: Product, actor, reason: str) -> Product:
    product = lock_product(product)
    policy.check_manage_owner(actor, product.owner_id)
    if not reason.strip():
        raise ValidationError({"reason": "请填写下架原因"})
    if product.status == ProductStatus.RETIRED:
        raise ValidationError({"status": "产品已下架"})
    if product.sub_products.exclude(status=ProductStatus.RETIRED).exists():
        raise ValidationError({"status": "仍有行社子产品未下架，请先下架子产品"})
    before = product.status
    product.retire()
    product.save(update_fields=["status", "updated_at"])
    record_status_change(product, None, "retire", before, product.status, actor, reason.strip())
    return product
