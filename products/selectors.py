"""Reads of the product factory: the LPR on a date, effective terms, and what a household may
apply for. Later layers (risk, lending) call these; they never write."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q

from common.clock import business_today
from products.models import (
    BaseRate,
    CustomerSegment,
    LoanPrimeRate,
    Product,
    ProductStatus,
    ProductVersion,
    VersionStatus,
)
from products.parameters import ProductTerms, ReferenceLpr, terms_from_chain
from villages.models import Household
from villages.selectors import latest_archive

# --- LPR ------------------------------------------------------------------------------------


def lpr_on(on_date: date) -> LoanPrimeRate:
    """The LPR in force on ``on_date``: the latest publication on or before it."""
    quote = LoanPrimeRate.objects.filter(effective_date__lte=on_date).order_by("-effective_date")
    found = quote.first()
    if found is None:
        first = (
            LoanPrimeRate.objects.order_by("effective_date")
            .values_list("effective_date", flat=True)
            .first()
        )
        if first is None:
            raise ValidationError({"on_date": "尚未录入任何LPR报价，请先在后台维护LPR"})
        raise ValidationError(
            {"on_date": f"{on_date} 早于首个LPR报价日 {first}，该日没有可用的LPR"}
        )
    return found


def reference_lpr(on_date: date) -> ReferenceLpr | None:
    """LPR used to sanity-check a version's spread range; ``None`` when none is published yet
    (the check is then skipped rather than blocking product setup)."""
    try:
        quote = lpr_on(on_date)
    except ValidationError:
        return None
    return ReferenceLpr(on_date=on_date, lpr_1y=quote.lpr_1y, lpr_5y_plus=quote.lpr_5y_plus)


def annual_rate_for(*, terms: ProductTerms, on_date: date, grade: str | None = None) -> Decimal:
    """Executed annual rate in percent: LPR (of the product's base) + the grade's spread,
    held within the product's floor and cap."""
    base = lpr_on(on_date).rate_for(terms.base_rate or BaseRate.LPR_1Y)
    rate = base + terms.spread_for(grade)
    return min(max(rate, terms.rate_floor), terms.rate_cap)


# --- Resolution -----------------------------------------------------------------------------


def product_lineage(product: Product) -> list[Product]:
    """Root → product. Sub-products are one level deep (see services.product_create)."""
    chain = [product]
    while chain[0].parent_id is not None:
        chain.insert(0, chain[0].parent)
    return chain


def _effective_versions(product_ids: Iterable[int], on_date: date) -> dict[int, ProductVersion]:
    versions = ProductVersion.objects.filter(product_id__in=set(product_ids)).effective_on(on_date)
    return {v.product_id: v for v in versions}


def product_terms_effective(
    *, product: Product, on_date: date | None = None, bank_id: int | None = None
) -> ProductTerms:
    """The effective parameters of ``product`` on ``on_date``: its version in force that day
    merged over its parent's version in force that day. With ``bank_id`` the product must be
    one that bank may sell (federation-owned or its own)."""
    on_date = on_date or business_today()
    if bank_id is not None and product.owner_id not in (None, bank_id):
        raise ValidationError({"product": "该产品不属于本行社，也不是省联社产品"})
    lineage = product_lineage(product)
    versions = _effective_versions([p.pk for p in lineage], on_date)
    return _terms_for_lineage(lineage, versions, on_date)


def _terms_for_lineage(
    lineage: list[Product], versions: dict[int, ProductVersion], on_date: date
) -> ProductTerms:
    chain = []
    for item in lineage:
        version = versions.get(item.pk)
        if version is None:
            raise ValidationError({"product": f"产品「{item.name}」在 {on_date} 没有生效版本"})
        chain.append(version)
    return terms_from_chain(chain)


def product_terms_for_version(
    *, version: ProductVersion, on_date: date | None = None
) -> ProductTerms:
    """Terms of one specific version (e.g. a draft being previewed), over its ancestors'
    versions in force on ``on_date``."""
    on_date = on_date or business_today()
    lineage = product_lineage(version.product)
    versions = _effective_versions([p.pk for p in lineage[:-1]], on_date)
    versions[version.product_id] = version
    return _terms_for_lineage(lineage, versions, on_date)


def product_terms_of_chain(*, version_ids: Iterable[int]) -> ProductTerms:
    """Replay: the terms given by exactly these versions (root → leaf), whatever is active now."""
    ids = list(version_ids)
    by_id = ProductVersion.objects.in_bulk(ids)
    if len(by_id) != len(ids):
        raise ValidationError({"version_ids": "版本不存在"})
    return terms_from_chain([by_id[i] for i in ids])


def parent_version_in_force(product: Product, on_date: date | None = None) -> ProductVersion | None:
    if product.parent_id is None:
        return None
    on_date = on_date or business_today()
    return _effective_versions([product.parent_id], on_date).get(product.parent_id)


# --- Catalogue ------------------------------------------------------------------------------


def products_for_list(user):
    """The product list of admin and API: visible to the user, owner/parent joined, with the
    number of the latest activated version annotated (no query per row)."""
    from django.db.models import Max

    return (
        Product.objects.visible_to(user)
        .for_list()
        .annotate(
            current_version_number=Max(
                "versions__number",
                filter=Q(versions__status__in=[VersionStatus.ACTIVE, VersionStatus.SUPERSEDED]),
            )
        )
        .order_by("series", "code")
    )


@dataclass(frozen=True)
class AvailableProduct:
    product: Product
    terms: ProductTerms


@dataclass(frozen=True)
class HouseholdApplicant:
    """What availability asks about an applicant, as read from a household."""

    bank_id: int
    segment: str
    age: int


def household_applicant(household: Household) -> HouseholdApplicant:
    """The bank, customer segment and applicant age of ``household``, for
    :func:`products_available`.

    - bank: the household's bank;
    - age: the head's age on today's business date;
    - segment, from the latest economic archive (newest survey date):

      ========================================  ====================================
      latest archive                            segment
      ========================================  ====================================
      ``has_business`` true                     ``individual_business`` (个体工商户)
      ``has_business`` false, or no archive     ``farmer`` (普通农户)
      ========================================  ====================================

      The archive records nothing that marks a 新型农业经营主体, a wage earner, a public
      servant or an enterprise owner, so those segments are never derived here; a caller who
      knows better asks with an explicit segment.

    Pass the household with its head joined (``select_related("head")``): reading it then costs
    one query, for the archive. A household without a head has no applicant age and is refused
    with an error naming ``household``.
    """
    if household.head_id is None:
        raise ValidationError({"household": "该农户尚未登记户主，无法按户主年龄匹配产品"})
    archive = latest_archive(household)
    segment = (
        CustomerSegment.INDIVIDUAL_BUSINESS
        if archive is not None and archive.has_business
        else CustomerSegment.FARMER
    )
    return HouseholdApplicant(
        bank_id=household.bank_id,
        segment=segment.value,
        age=household.head.age_on(business_today()),
    )


def products_available(
    *,
    bank_id: int,
    channel: str,
    segment: str,
    age: int,
    on_date: date | None = None,
) -> list[AvailableProduct]:
    """Products a household of ``segment`` whose applicant is ``age`` may apply for through
    ``channel`` at ``bank_id`` on ``on_date``.

    A product (and its parent) must be on sale; a bank's sub-product replaces its federation
    parent for that bank's customers, so the standard product is not offered beside the
    tailored one. Age is checked against the effective terms. Two queries whatever the size
    of the catalogue.
    """
    on_date = on_date or business_today()
    own_sub_product_on_sale = Product.objects.filter(
        parent=OuterRef("pk"), owner_id=bank_id, status=ProductStatus.ACTIVE
    )
    candidates = list(
        Product.objects.visible_to_bank(bank_id)
        .filter(status=ProductStatus.ACTIVE, channels__contains=[channel])
        .filter(segments__contains=[segment])
        .filter(Q(parent__isnull=True) | Q(parent__status=ProductStatus.ACTIVE))
        .exclude(Q(owner__isnull=True) & Exists(own_sub_product_on_sale))
        .select_related("parent", "owner")
        .order_by("series", "code")
    )
    ids = {p.pk for p in candidates} | {p.parent_id for p in candidates if p.parent_id}
    versions = _effective_versions(ids, on_date)
    available = []
    for product in candidates:
        try:
            terms = _terms_for_lineage(product_lineage(product), versions, on_date)
        except ValidationError:
            continue  # no version in force yet (e.g. scheduled to start later)
        if terms.age_min <= age <= terms.age_max:
            # The number of the product's own version in force that day, as the list shows it
            # (``products_for_list`` annotates it; the API's product shape reads it).
            product.current_version_number = versions[product.pk].number
            available.append(AvailableProduct(product=product, terms=terms))
    return available


# --- Diff -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterChange:
    name: str
    label: str
    before: object
    after: object

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def before_display(self) -> str | None:
        return _display(self.before)

    @property
    def after_display(self) -> str | None:
        return _display(self.after)


def _display(value: object) -> str | None:
    """Readable form for the diff page: bands as "≤100000: branch→central_review"."""
    if value is None:
        return None
    if isinstance(value, dict):
        return "，".join(f"{k}: {v}" for k, v in value.items()) or "（无）"
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], dict):
            return "；".join(f"≤{band['up_to']}: {'→'.join(band['levels'])}" for band in value)
        return "、".join(str(item) for item in value) or "（无）"
    return str(value)


def version_diff(before: ProductVersion | None, after: ProductVersion) -> list[ParameterChange]:
    """Every parameter of ``after`` beside its value in ``before`` (stored values: ``None`` on a
    sub-product means inherited), plus the locked-parameter list; ``changed`` marks the rows the
    checker has to look at."""
    from products.parameters import PARAMETERS, normalise, parameter_label

    old = normalise(_stored(before)) if before else dict.fromkeys(PARAMETERS)
    new = normalise(_stored(after))
    rows = [ParameterChange(n, parameter_label(n), old[n], new[n]) for n in PARAMETERS]
    rows.append(
        ParameterChange(
            "locked_parameters",
            "锁定参数",
            tuple(sorted(before.locked_parameters)) if before else (),
            tuple(sorted(after.locked_parameters)),
        )
    )
    return rows


def _stored(version: ProductVersion) -> dict:
    from products.parameters import version_values

    return version_values(version)
