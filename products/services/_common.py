"""Helpers shared by the product services."""

from __future__ import annotations

from products.models import (
    Product,
    ProductStatusChange,
)


def record_status_change(
    product, version, action: str, from_status: str, to_status: str, actor, reason=""
):
    ProductStatusChange.objects.create(
        product=product,
        version=version,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
    )


def lock_product(product: Product) -> Product:
    return (
        Product.objects.select_for_update(of=("self",)).select_related("parent").get(pk=product.pk)
    )
