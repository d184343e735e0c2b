"""Writes of the product factory. Admin, API, demo and commands call these; nothing else saves
a product, a version or an LPR row.

Every state change locks the product row first (then the version), so two checkers activating
two versions of one product, or an edit racing an activation, are serialised. One module per
concern; import from here.
"""

from products.services._catalogue import (
    product_create,
    product_create_check,
    product_resume,
    product_retire,
    product_suspend,
    product_update,
    product_update_check,
)
from products.services._clone import product_clone, product_pin
from products.services._lpr import lpr_check, lpr_import_rows, lpr_record
from products.services._versions import (
    product_version_activate,
    product_version_create,
    product_version_create_check,
    product_version_derive,
    product_version_send_back,
    product_version_submit,
    product_version_update,
    product_version_validate,
)

__all__ = [
    "lpr_check",
    "lpr_import_rows",
    "lpr_record",
    "product_clone",
    "product_create",
    "product_create_check",
    "product_pin",
    "product_resume",
    "product_retire",
    "product_suspend",
    "product_update",
    "product_update_check",
    "product_version_activate",
    "product_version_create",
    "product_version_create_check",
    "product_version_derive",
    "product_version_send_back",
    "product_version_submit",
    "product_version_update",
    "product_version_validate",
]
