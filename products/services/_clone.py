"""Clone a product in one step, and pin the terms a loan is approved under."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from org.models import Institution
from products.models import (
    Product,
    ProductPin,
)
from products.parameters import (
    version_values,
)
from products.selectors import (
    product_terms_effective,
)
from products.services._catalogue import product_create
from products.services._common import record_status_change
from products.services._versions import product_version_create

# --- Clone ----------------------------------------------------------------------------------


@transaction.atomic
def product_clone(
    *,
    source: Product,
    actor,
    code: str,
    name: str,
    owner: Institution | None = None,
) -> Product:
    """Copy a product as a new draft product with a draft v1, in one step.

    - a federation product cloned for a bank becomes that bank's **sub-product**: it inherits
      every parameter (the draft overrides nothing) and follows the parent's future versions;
    - otherwise it is a **copy** with the same owner and parent, and the parameters of the
      source's latest version copied over, ready to be changed.
    """
    source = Product.objects.select_related("parent").get(pk=source.pk)
    sub_product = source.owner_id is None and owner is not None
    if not sub_product and (owner.pk if owner else None) != source.owner_id:
        raise ValidationError({"owner": "只能复制为同一机构的产品，或把省联社产品复制为行社子产品"})
    product = product_create(
        actor=actor,
        code=code,
        name=name,
        series=source.series,
        purpose=source.purpose,
        segments=source.segments,
        channels=source.channels,
        owner=owner,
        parent=source if sub_product else source.parent,
        description=source.description,
    )
    if sub_product:
        product_version_create(
            product=product, actor=actor, parameters={}, change_note=f"由 {source.code} 派生"
        )
    else:
        latest = source.versions.order_by("-number").first()
        product_version_create(
            product=product,
            actor=actor,
            parameters=version_values(latest) if latest else {},
            locked_parameters=latest.locked_parameters if latest else (),
            change_note=f"复制自 {source.code} v{latest.number}" if latest else "",
        )
    record_status_change(product, None, "clone", "", product.status, actor, f"来源 {source.code}")
    return product


# --- Pinning --------------------------------------------------------------------------------


@transaction.atomic
def product_pin(
    *, product: Product, on_date: date | None = None, bank_id: int | None = None
) -> ProductPin:
    """Freeze the terms of ``product`` in force on ``on_date`` for an application, credit line
    or loan to keep. Pinning the same chain of versions again returns the same pin."""
    terms = product_terms_effective(product=product, on_date=on_date, bank_id=bank_id)
    pin, _ = ProductPin.objects.get_or_create(
        chain_key=terms.chain_key,
        defaults={
            "product_id": terms.product_id,
            "version_id": terms.version_id,
            "parameters": terms.to_snapshot(),
        },
    )
    return pin
