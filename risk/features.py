"""The feature catalogue and the feature rows of households.

One definition of every feature, used three ways:

- :func:`household_feature_row` — one household, for scoring inside a request: the three
  small queries below (members, latest archive, latest closed peer review), compiled to SQL
  once per process and sent side by side as one statement;
- :func:`features_frame` — many households as a ``pandas.DataFrame`` from the same three queries
  run set-based (GROUP BY over members, DISTINCT ON for the latest archive and review result)
  plus one for the households, so the query count does not grow with the number of households;
- :func:`features_materialise` — the frame COPYed into ``HouseholdFeatures`` (upsert) for batch
  scoring and monitoring.

Both paths fill the same numpy columns and derive the ratios with the same vectorised code
(:func:`_derive`), so a row and a frame can never disagree. Missing is ``NaN`` in arrays and
``None``/NULL outside.

Archive money figures (net income, total assets, debt ratio) come from ``villages.figures``;
nothing here redefines them.

Repayment history (``repaid_loans``, ``max_days_overdue``) belongs to the lending layer, which
sits above risk and may not be imported from here. Lending registers a provider with
:func:`register_repayment_history`; until one is registered both features are missing (NULL),
which every scorecard bins as "missing".

Segments: ``individual_business`` when the latest archive has a business section; otherwise
``urban_resident`` when the household farms nothing (no land, no livestock) and wages are at
least half its gross income — the salaried families of a township seat or a county-town
community; otherwise ``farmer``, the default for villages (also for households with no archive).
"""

from __future__ import annotations

import datetime
import functools
import io
import itertools
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, F, FloatField, Max, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from common.clock import business_today
from common.prepared import prepared_execute
from org.models import Institution
from risk.models import HouseholdFeatures
from villages.figures import figure_annotations
from villages.models import (
    EconomicArchive,
    Household,
    ListColour,
    Member,
    PeerReviewResult,
    PeerReviewRound,
    Village,
)
from villages.validation import age_on

NUMERIC, COUNT, RATIO, BINARY, ORDINAL = "numeric", "count", "ratio", "binary", "ordinal"
MEMBERS, ARCHIVE, PEER_REVIEW, REPAYMENT = "members", "archive", "peer_review", "repayment"


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # the model column's verbose name: one Chinese label, kept in the model
    type: str
    source: str
    description: str


def _feature(name: str, type: str, source: str, description: str) -> Feature:
    label = str(HouseholdFeatures._meta.get_field(name).verbose_name)
    return Feature(name, label, type, source, description)


CATALOGUE: tuple[Feature, ...] = (
    _feature("head_age", NUMERIC, MEMBERS, "户主在业务日期的周岁年龄"),
    _feature("family_size", COUNT, MEMBERS, "登记的家庭成员人数(含户主)"),
    _feature("labour_count", COUNT, MEMBERS, "16至60周岁且健康状况不为“较差/残疾”的成员人数"),
    _feature("dependants_ratio", RATIO, MEMBERS, "非劳动力人数 ÷ 家庭人口(0至1)"),
    _feature(
        "head_education_level",
        ORDINAL,
        MEMBERS,
        "户主文化程度：未上学0、小学1、初中2、高中/中专3、大专4、本科及以上5；未填为缺失",
    ),
    _feature("land_mu", NUMERIC, ARCHIVE, "最新经济档案的承包地与流转土地合计(亩)"),
    _feature("livestock_heads", COUNT, ARCHIVE, "最新经济档案的存栏合计(头/只)"),
    _feature("net_income", NUMERIC, ARCHIVE, "家庭年收入合计减家庭支出(villages.figures)"),
    _feature("income_per_capita", NUMERIC, ARCHIVE, "家庭净收入 ÷ 家庭人口"),
    _feature("wage_income_share", RATIO, ARCHIVE, "务工收入 ÷ 年收入合计；无收入时为缺失"),
    _feature("total_assets", NUMERIC, ARCHIVE, "房屋、车辆、农机、牲畜与存款估值合计"),
    _feature("deposits", NUMERIC, ARCHIVE, "最新经济档案登记的存款(元)"),
    _feature("debt_ratio", RATIO, ARCHIVE, "负债合计 ÷ 总资产(villages.figures)；无资产时为缺失"),
    _feature("debts", NUMERIC, ARCHIVE, "最新经济档案登记的负债合计(元)，额度模型的净资产法用它"),
    _feature("has_business", BINARY, ARCHIVE, "最新经济档案登记为个体工商户为1，否则为0"),
    _feature("has_social_security", BINARY, ARCHIVE, "参加社会保险为1，否则为0"),
    _feature("years_since_survey", NUMERIC, ARCHIVE, "最新经济档案调查日期距业务日期的年数"),
    _feature(
        "peer_colour_rank",
        ORDINAL,
        PEER_REVIEW,
        "最近一次已结束背靠背评议的结论：黑0、灰1、绿2、白3；未评议为缺失",
    ),
    _feature("peer_black_votes", COUNT, PEER_REVIEW, "最近一次已结束评议中的黑名单票数"),
    _feature(
        "peer_suggested_amount", NUMERIC, PEER_REVIEW, "最近一次已结束评议的建议额度中位数(元)"
    ),
    _feature(
        "repaid_loans", COUNT, REPAYMENT, "在本行已结清的贷款笔数(由贷款模块提供；未接入时缺失)"
    ),
    _feature(
        "max_days_overdue",
        COUNT,
        REPAYMENT,
        "在本行贷款的历史最长逾期天数(由贷款模块提供；未接入时缺失)",
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in CATALOGUE)
REPAYMENT_FEATURES = tuple(f.name for f in CATALOGUE if f.source == REPAYMENT)
_DERIVED = ("dependants_ratio", "income_per_capita", "wage_income_share")

FARMER, URBAN_RESIDENT, INDIVIDUAL_BUSINESS = "farmer", "urban_resident", "individual_business"
LABOUR_MIN_AGE, LABOUR_MAX_AGE = 16, 60
URBAN_MIN_WAGE_SHARE = 0.5
EDUCATION_LEVEL = {
    Member.Education.NONE: 0,
    Member.Education.PRIMARY: 1,
    Member.Education.JUNIOR: 2,
    Member.Education.SENIOR: 3,
    Member.Education.COLLEGE: 4,
    Member.Education.BACHELOR: 5,
}
COLOUR_RANK = {
    ListColour.BLACK: 0,
    ListColour.GREY: 1,
    ListColour.GREEN: 2,
    ListColour.WHITE: 3,
}

# --- the repayment-history hook ----------------------------------------------------------------

RepaymentHistoryProvider = Callable[
    [list[uuid.UUID]], Mapping[uuid.UUID, Mapping[str, float | None]]
]
_repayment_history_provider: RepaymentHistoryProvider | None = None


def register_repayment_history(provider: RepaymentHistoryProvider | None) -> None:
    """Lending registers ``provider(household_ids) -> {household_id: {"repaid_loans": n,
    "max_days_overdue": d}}``, answering for the whole list in a few set-based queries.

    A household it leaves out gets missing values; a household known to have no history with the
    bank should be answered with zeros. ``None`` unregisters (tests).
    """
    global _repayment_history_provider
    _repayment_history_provider = provider


# --- the queries (shared by one row and many) --------------------------------------------------


def _born_by(day: datetime.date, years: int) -> datetime.date:
    """The latest birth date of someone at least ``years`` old on ``day`` (as ``age_on``)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def _members_query(households, adult_born_by: datetime.date, retired_born_by: datetime.date):
    """Per household: members, labour (working age and not in poor health), the head's birth
    date and education. ``*_born_by``: the latest birth dates of ages 16 and 61."""
    working_age = Q(birth_date__lte=adult_born_by, birth_date__gt=retired_born_by)
    labour = working_age & ~Q(health__in=[Member.Health.POOR, Member.Health.DISABLED])
    # The head is the member recorded as 户主 (the services keep ``Household.head`` pointing at
    # that member); testing the relation needs no join to the household table.
    is_head = Q(relation=Member.Relation.HEAD)
    return (
        Member.objects.filter(household__in=households)
        .values("household_id")
        .annotate(
            family_size=Count("pk"),
            labour_count=Count("pk", filter=labour),
            head_birth_date=Max("birth_date", filter=is_head),
            head_education=Max("education", filter=is_head),
        )
        .order_by()
        .values_list(
            "household_id", "family_size", "labour_count", "head_birth_date", "head_education"
        )
    )


def _archives_query(households):
    """The latest archive of each household, with the ``villages.figures`` as floats."""
    figures = figure_annotations()
    as_float = {
        "f_net_income": Cast(figures["net_income"], FloatField()),
        "f_total_assets": Cast(figures["total_assets"], FloatField()),
        "f_debt_ratio": Cast(figures["debt_ratio"], FloatField()),
        "f_debts": Cast("debt_total", FloatField()),
        "f_land_mu": Cast(F("land_contracted_mu") + F("land_leased_mu"), FloatField()),
        "f_deposits": Cast("deposits", FloatField()),
        "f_income_wages": Cast("income_wages", FloatField()),
        "f_annual_expenses": Cast("annual_expenses", FloatField()),
    }
    return (
        EconomicArchive.objects.filter(household__in=households)
        .latest_per_household()
        .annotate(**as_float)
        .values_list(
            "household_id",
            "survey_date",
            "f_land_mu",
            "livestock_heads",
            "f_net_income",
            "f_income_wages",
            "f_annual_expenses",
            "f_total_assets",
            "f_deposits",
            "f_debt_ratio",
            "f_debts",
            "has_business",
            "has_social_security",
        )
    )


def _reviews_query(households):
    """The result of each household's latest closed peer review."""
    return (
        PeerReviewResult.objects.filter(
            household__in=households, round__status=PeerReviewRound.Status.CLOSED
        )
        .order_by("household_id", "-round__closed_at", "-round_id")
        .distinct("household_id")
        .annotate(f_suggested_amount=Cast("suggested_amount", FloatField()))
        .values_list("household_id", "colour", "black_votes", "f_suggested_amount")
    )


def _source_rows(households, today: datetime.date) -> tuple[list, list, list]:
    """Members, latest archives and latest reviews of ``households`` (ids or a queryset)."""
    adult, retired = _born_by(today, LABOUR_MIN_AGE), _born_by(today, LABOUR_MAX_AGE + 1)
    return (
        list(_members_query(households, adult, retired)),
        list(_archives_query(households)),
        list(_reviews_query(households)),
    )


# One household inside a request: the same three querysets, compiled to SQL once per process
# (building them costs more than running them) and sent as one statement — each returns at most
# one row for one household, so they are joined side by side — with the placeholders swapped
# for the real values.
_ONE_HOUSEHOLD = uuid.UUID(int=0xFEA7)
_ADULT, _RETIRED = datetime.date(1, 1, 1), datetime.date(1, 1, 2)


@functools.cache
def _one_household_sql() -> tuple[str, tuple, tuple[int, ...]]:
    queries = (
        _members_query([_ONE_HOUSEHOLD], _ADULT, _RETIRED),
        _archives_query([_ONE_HOUSEHOLD]),
        _reviews_query([_ONE_HOUSEHOLD]),
    )
    compiled = [query.query.sql_with_params() for query in queries]
    # Columns picked by their aliases, in the order each values_list() asks for them.
    columns = ", ".join(
        f'part{n}."{name}"' for n, query in enumerate(queries) for name in query._fields
    )
    joined = " ".join(
        f"LEFT JOIN ({sql}) AS part{n} ON TRUE" for n, (sql, _) in enumerate(compiled)
    )
    params = tuple(p for _, query_params in compiled for p in query_params)
    widths = tuple(len(query._fields) for query in queries)
    return f"SELECT {columns} FROM (SELECT 1) AS one {joined}", params, widths


# The statement is also prepared on the server, once per connection (``common.prepared``):
# planning its seven joins took longer than running them (0.6 ms against 0.4 ms, measured).
_PREPARED_NAME = "risk_one_household_features"


@functools.cache
def _one_household_prepared() -> str:
    """``_one_household_sql`` with PostgreSQL's numbered placeholders."""
    sql, _, _ = _one_household_sql()
    numbers = itertools.count(1)
    return re.sub(r"%s|%%", lambda m: f"${next(numbers)}" if m[0] == "%s" else "%", sql)


def _execute_one_household(cursor, params: list) -> None:
    prepared_execute(cursor, name=_PREPARED_NAME, sql=_one_household_prepared(), params=params)


def _one_household_rows(household_id, today: datetime.date) -> tuple[list, list, list]:
    _, params, widths = _one_household_sql()
    values = {
        _ONE_HOUSEHOLD: household_id,
        _ADULT: _born_by(today, LABOUR_MIN_AGE),
        _RETIRED: _born_by(today, LABOUR_MAX_AGE + 1),
    }
    with connection.cursor() as cursor:
        _execute_one_household(
            cursor, [values.get(p, p) if _may_be_placeholder(p) else p for p in params]
        )
        row = cursor.fetchone()
    parts, start = [], 0
    for width in widths:
        part = row[start : start + width]
        parts.append([part] if part[0] is not None else [])  # no member, archive or review
        start += width
    return tuple(parts)


def _may_be_placeholder(value) -> bool:
    return type(value) in (uuid.UUID, datetime.date)


# --- rows → columns → features -------------------------------------------------------------------


def _scatter(columns: dict, names: Iterable[str], rows: list[tuple], position: dict) -> None:
    """Write ``rows`` (household id first, then one value per name) into ``columns``."""
    rows = [row for row in rows if row[0] in position]
    if not rows:
        return
    index = np.fromiter((position[row[0]] for row in rows), dtype=np.intp, count=len(rows))
    for k, name in enumerate(names, start=1):
        columns[name][index] = np.array([row[k] for row in rows], dtype=np.float64)


def _feature_columns(
    ids: list, source_rows: tuple[list, list, list], today: datetime.date
) -> dict[str, np.ndarray]:
    """The catalogue's columns for ``ids`` (in that order) from their source rows."""
    member_rows, archive_rows, review_rows = source_rows
    position = {household_id: i for i, household_id in enumerate(ids)}
    raw = [name for name in FEATURE_NAMES if name not in _DERIVED]
    raw += ["income_wages", "annual_expenses"]
    columns = {name: np.full(len(ids), np.nan) for name in raw}

    members = [
        (
            household_id,
            family_size,
            labour_count,
            age_on(head_birth, today) if head_birth else None,
            EDUCATION_LEVEL.get(head_education),
        )
        for household_id, family_size, labour_count, head_birth, head_education in member_rows
    ]
    _scatter(
        columns,
        ("family_size", "labour_count", "head_age", "head_education_level"),
        members,
        position,
    )
    archives = [(row[0], (today - row[1]).days / 365.25, *row[2:]) for row in archive_rows]
    _scatter(
        columns,
        (
            "years_since_survey",
            "land_mu",
            "livestock_heads",
            "net_income",
            "income_wages",
            "annual_expenses",
            "total_assets",
            "deposits",
            "debt_ratio",
            "debts",
            "has_business",
            "has_social_security",
        ),
        archives,
        position,
    )
    reviews = [
        (household_id, COLOUR_RANK.get(colour), black_votes, amount)
        for household_id, colour, black_votes, amount in review_rows
    ]
    _scatter(
        columns,
        ("peer_colour_rank", "peer_black_votes", "peer_suggested_amount"),
        reviews,
        position,
    )
    if _repayment_history_provider is not None and ids:
        history = _repayment_history_provider(list(ids))
        _scatter(
            columns,
            REPAYMENT_FEATURES,
            [(h, *(values.get(n) for n in REPAYMENT_FEATURES)) for h, values in history.items()],
            position,
        )
    return _derive(columns)


def _derive(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    family, labour = columns["family_size"], columns["labour_count"]
    net_income = columns["net_income"]
    gross_income = net_income + columns["annual_expenses"]
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = {
            "dependants_ratio": np.where(family > 0, (family - labour) / family, np.nan),
            "income_per_capita": np.where(family > 0, net_income / family, np.nan),
            "wage_income_share": np.where(
                gross_income > 0, columns["income_wages"] / gross_income, np.nan
            ),
            "years_since_survey": np.round(columns["years_since_survey"], 2),
        }
    merged = {**columns, **derived}
    return {name: merged[name] for name in FEATURE_NAMES}


def segments(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The scoring segment of each household, from its feature columns (see module docstring)."""
    business = columns["has_business"] == 1
    farms_nothing = (columns["land_mu"] == 0) & (columns["livestock_heads"] == 0)
    salaried = columns["wage_income_share"] >= URBAN_MIN_WAGE_SHARE
    return np.where(
        business,
        INDIVIDUAL_BUSINESS,
        np.where(farms_nothing & salaried, URBAN_RESIDENT, FARMER),
    ).astype(object)


def segment_for_row(row: Mapping[str, float | None]) -> str:
    columns = {
        name: np.array([np.nan if row.get(name) is None else row[name]], dtype=np.float64)
        for name in ("has_business", "land_mu", "livestock_heads", "wage_income_share")
    }
    return str(segments(columns)[0])


# --- the public reads --------------------------------------------------------------------------


def household_feature_row(
    household: Household, *, today: datetime.date | None = None
) -> dict[str, float | None]:
    """The household's features by catalogue name; ``None`` is missing."""
    today = today or business_today()
    columns = _feature_columns([household.pk], _one_household_rows(household.pk, today), today)
    return {
        name: None if np.isnan(values[0]) else float(values[0]) for name, values in columns.items()
    }


def features_frame(
    households: QuerySet | Iterable, *, today: datetime.date | None = None
) -> pd.DataFrame:
    """Features of many households, indexed by household id (ordered), with ``bank_id`` and
    ``segment`` columns first. ``households``: a Household queryset or household ids."""
    if isinstance(households, QuerySet):
        rows = list(households.order_by("pk").values_list("pk", "bank_id"))
        selected = households.order_by().values("pk")
    else:
        # One array parameter instead of an IN list of thousands of placeholders.
        selected = RawSQL("SELECT unnest(%s::uuid[])", ([str(h) for h in households],))
        rows = list(
            Household.objects.filter(pk__in=selected).order_by("pk").values_list("pk", "bank_id")
        )
    ids = [household_id for household_id, _ in rows]
    today = today or business_today()
    columns = _feature_columns(ids, _source_rows(selected, today), today) if ids else {}
    frame = pd.DataFrame(
        {name: columns.get(name, np.empty(0)) for name in FEATURE_NAMES},
        index=pd.Index(ids, name="household_id", dtype=object),
    )
    frame.insert(0, "segment", segments(columns) if ids else np.empty(0, dtype=object))
    frame.insert(0, "bank_id", np.array([bank_id for _, bank_id in rows], dtype=np.int64))
    return frame


# --- materialisation ---------------------------------------------------------------------------

_COLUMNS = ("household_id", "bank_id", "segment", "computed_at", *FEATURE_NAMES)


def features_materialise(
    *,
    bank: Institution | None = None,
    village: Village | None = None,
    households: QuerySet | None = None,
    batch_size: int = 20_000,
    today: datetime.date | None = None,
) -> dict[str, int]:
    """Rebuild ``HouseholdFeatures`` for the households of a bank, a village or a queryset (all
    households when none is given), ``batch_size`` households per transaction.

    Returns ``{"households": n, "created": c, "updated": u}``.
    """
    queryset = households if households is not None else Household.objects.all()
    if bank is not None:
        queryset = queryset.filter(bank=bank)
    if village is not None:
        queryset = queryset.filter(village=village)
    today = today or business_today()
    totals = {"households": 0, "created": 0, "updated": 0}
    last_id = None
    while True:
        page = queryset.order_by("pk")
        if last_id is not None:
            page = page.filter(pk__gt=last_id)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return totals
        with transaction.atomic():
            created, updated = _features_upsert(features_frame(ids, today=today))
        totals["households"] += len(ids)
        totals["created"] += created
        totals["updated"] += updated
        last_id = ids[-1]


def _features_upsert(frame: pd.DataFrame) -> tuple[int, int]:
    """COPY the frame into a temporary table, then one INSERT … ON CONFLICT into the table."""
    table = HouseholdFeatures._meta.db_table
    out = frame.reset_index()
    out.insert(3, "computed_at", timezone.now().isoformat())
    buffer = io.StringIO()
    out[list(_COLUMNS)].to_csv(buffer, header=False, index=False, float_format="%.17g")
    buffer.seek(0)
    column_list = ", ".join(_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS[1:])
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE features_incoming (LIKE {table}) ON COMMIT DROP")
        cursor.copy_expert(
            f"COPY features_incoming ({column_list}) FROM STDIN WITH (FORMAT csv)", buffer
        )
        cursor.execute(
            f"""
            WITH written AS (
                INSERT INTO {table} ({column_list})
                SELECT {column_list} FROM features_incoming
                ON CONFLICT (household_id) DO UPDATE SET {updates}
                RETURNING (xmax = 0) AS created
            )
            SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created)
            FROM written
            """
        )
        created, updated = cursor.fetchone()
        cursor.execute("DROP TABLE features_incoming")
    return created, updated
