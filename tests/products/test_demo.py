from __future__ import annotations

import pytest

from products.demo import seed_products
from products.models import Product, ProductStatus, ProductVersion
from products.selectors import product_terms_effective


@pytest.mark.django_db
def test_seed_products_builds_a_realistic_catalogue_idempotently(province):
    logins = seed_products()
    assert [login.username for login in logins] == ["fed_checker"]
    counts = (Product.objects.count(), ProductVersion.objects.count())

    federation = Product.objects.filter(owner__isnull=True, status=ProductStatus.ACTIVE)
    assert federation.count() >= 6
    assert federation.values("series").distinct().count() == 7  # every series
    for bank_code in ("SXRCU-YD", "SXRCU-XF"):
        sub = Product.objects.get(owner__code=bank_code, parent__isnull=False)
        assert sub.status == ProductStatus.ACTIVE
        terms = product_terms_effective(product=sub)
        assert len(terms.version_ids) == 2  # resolved over its federation parent

    seed_products()
    assert (Product.objects.count(), ProductVersion.objects.count()) == counts
