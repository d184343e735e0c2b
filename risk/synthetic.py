"""Synthetic credit history: believable households and loan outcomes from a known truth.

Used by the demo (``seed_demo`` trains a champion per segment from it) and by tests that check a
trained scorecard against the model that generated the data. Everything is drawn from one seeded
``numpy.random.Generator``, so the same arguments always give the same frame.

Households
    The columns are the feature columns of ``HouseholdFeatures`` (same names, same units): a head
    aged 20–80, 1–9 members of whom some work, contracted land and livestock for farmers, wages
    for town residents, a shop or trade for individual businesses; income, assets, deposits and
    debt follow from those. Peer review has not reached every household (``peer_*`` missing for
    about 20 %), households new to the bank have no repayment history (``max_days_overdue``
    missing), and a few archives lack the head's education or the deposits.

The generating model (the "truth")
    A household is bad (ever 90+ days past due within 12 months) with probability
    ``sigmoid(eta + e)``, where ``e ~ Normal(0, NOISE_SD)`` is what no archive shows (health,
    luck, character) and ``eta`` is a sum of documented terms of the observed features::

        eta = intercept
            + 0.0012 * (head_age - 45)**2                      # young and old heads riskier
            - 1.6 * ln(max(income_per_capita, 1000) / 10000)   # richer per head, safer
            + 3.6 * debt_ratio
            - 0.5 * ln(1 + deposits / 10000)                   # missing deposits: mean term
            + 1.2 * dependants_ratio
            - 0.3 * head_education_level                       # missing education: mean term
            - 0.8 * has_social_security
            + PEER[peer_colour_rank]     # black +2.0, grey +1.2, green 0, white -1.0, none +0.5
            + 1.0 * ln(1 + min(max_days_overdue, 90) / 10)     # no history with the bank: +0.7
            - 0.4 * min(repaid_loans, 5)

    (the weights are the ``W_*`` constants below). ``intercept`` is solved (bisection) so the
    sample's mean true PD equals ``bad_rate`` (default per segment: ``SEGMENT_BAD_RATES``). Land,
    livestock, wage share, business flag, survey age, black votes and suggested amount enter only
    through income and assets (or not at all): a good feature selection leaves some of them out.
    The effects are smooth and monotone (age: U-shaped) so a binned scorecard with 5 % minimum
    bins can represent them; rare, extreme signals (a black-listed household) are the business of
    policy rules, not of the scorecard.

    The returned ``true_pd`` is ``E[sigmoid(eta + e) | features]`` by the probit approximation
    ``sigmoid(eta / sqrt(1 + pi * NOISE_SD**2 / 8))``: the best any model of these features can do,
    and the reference for the "trained AUC within 0.02 of the truth" check.

``population`` (a :class:`Population`, or its dict) describes the households to draw where they
differ from the defaults above: the share with a repayment history with the bank (the rest have
neither ``repaid_loans`` nor ``max_days_overdue``), the share peer-reviewed, the range of survey
ages, and the share and log-normal scale of land and livestock. Every field left ``None`` keeps
the default draw, and ``Population()`` draws exactly the default frame for a given seed. The demo
passes one derived from its villages (``risk/demo.py``), so the champions it trains score a
population like the one they were trained on.

``shift`` (0 = as trained) moves the population the way a bad harvest year would: lower incomes,
more debt, more households not yet peer-reviewed (the bad rate stays ``bad_rate``). Monitoring
tests use it to make PSI move.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

TARGET = "bad"
NOISE_SD = 0.5
SEGMENT_BAD_RATES = {"farmer": 0.12, "urban_resident": 0.09, "individual_business": 0.14}
W_AGE = 0.0012
W_INCOME = 1.6
W_DEBT = 3.6
W_DEPOSITS = 0.5
W_DEPENDANTS = 1.2
W_EDUCATION = 0.3
W_SOCIAL_SECURITY = 0.8
PEER_EFFECT = {0: 2.0, 1: 1.2, 2: 0.0, 3: -1.0}  # black, grey, green, white
PEER_MISSING_EFFECT = 0.5
W_OVERDUE = 1.0
NO_HISTORY_EFFECT = 0.7
W_REPAID = 0.4

FEATURES = (
    "head_age",
    "family_size",
    "labour_count",
    "dependants_ratio",
    "head_education_level",
    "land_mu",
    "livestock_heads",
    "net_income",
    "income_per_capita",
    "wage_income_share",
    "total_assets",
    "deposits",
    "debt_ratio",
    "has_business",
    "has_social_security",
    "years_since_survey",
    "peer_colour_rank",
    "peer_black_votes",
    "peer_suggested_amount",
    "repaid_loans",
    "max_days_overdue",
)


@dataclass(frozen=True)
class SyntheticHistory:
    frame: (
        pd.DataFrame
    )  # FEATURES (NaN = missing; a column missing everywhere is left out) + TARGET
    true_pd: np.ndarray  # the generating model's probability of default per row


@dataclass(frozen=True)
class Population:
    """Who the synthetic households are, where they differ from the segment's defaults.

    ``history_share``: share with a repayment history (default: the ~70 % with a repaid loan);
    ``peer_coverage``: share peer-reviewed (default 0.8); ``survey_years``: (low, high) of the
    years since the archive's survey, drawn uniformly (default 0–3); ``land_share`` and
    ``livestock_share``: share with any land / livestock; ``land_log_mu`` and
    ``livestock_log_mu``: (mean, sd) of the natural log of the positive amounts (mu, heads);
    ``households``: feature rows (``FEATURES`` → value or None) to draw the households from, with
    replacement, instead of the generator's shapes — a population described by its members, as
    the demo describes its villages (the other fields are then not used). Outcomes still come
    from the documented model.
    """

    history_share: float | None = None
    peer_coverage: float | None = None
    survey_years: tuple[float, float] | None = None
    land_share: float | None = None
    land_log_mu: tuple[float, float] | None = None
    livestock_share: float | None = None
    livestock_log_mu: tuple[float, float] | None = None
    households: list[dict] | None = None

    def __post_init__(self) -> None:
        if self.households is not None:
            if not self.households:
                raise ValueError("households must not be empty")
            for row in self.households:
                unknown = set(row) - set(FEATURES)
                if unknown:
                    raise ValueError(f"unknown household features: {', '.join(sorted(unknown))}")
        for name in ("history_share", "peer_coverage", "land_share", "livestock_share"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("survey_years", "land_log_mu", "livestock_log_mu"):
            value = getattr(self, name)
            if value is not None:
                if len(value) != 2:
                    raise ValueError(f"{name} must be a pair")
                object.__setattr__(self, name, (float(value[0]), float(value[1])))
        if self.survey_years is not None and not 0 <= self.survey_years[0] <= self.survey_years[1]:
            raise ValueError("survey_years must be (low, high) with 0 <= low <= high")
        for name in ("land_log_mu", "livestock_log_mu"):
            value = getattr(self, name)
            if value is not None and value[1] < 0:
                raise ValueError(f"{name}: the standard deviation must not be negative")

    @classmethod
    def of(cls, value: Population | dict | None) -> Population:
        """A population from itself, its dict (as stored with a training run) or None."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown population fields: {', '.join(sorted(unknown))}")
        return cls(**value)

    def as_dict(self) -> dict:
        """The fields that are set, JSON-ready (lists for pairs)."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in asdict(self).items()
            if value is not None
        }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _drawn_households(rng: np.random.Generator, n: int, rows: list[dict]) -> dict:
    """``n`` households drawn with replacement from ``rows``; a feature a row lacks is missing."""
    picks = rng.integers(0, len(rows), n)
    table = {
        name: np.array(
            [np.nan if row.get(name) is None else float(row[name]) for row in rows],
            dtype=np.float64,
        )
        for name in FEATURES
    }
    return {name: values[picks] for name, values in table.items()}


def _segment_households(
    rng: np.random.Generator, n: int, segment: str, shift: float, population: Population
) -> dict:
    farmer = segment == "farmer"
    urban = segment == "urban_resident"
    business = segment == "individual_business"

    age = np.clip(np.rint(rng.normal(48 if farmer else 42, 11, n)), 20, 80)
    family = np.clip(1 + rng.poisson(2.6, n), 1, 9).astype(float)
    labour = np.minimum(family, np.maximum(rng.binomial(family.astype(int), 0.6), 1)).astype(float)
    labour[age > 72] = np.minimum(labour[age > 72], 1)
    dependants = (family - labour) / family
    education = np.clip(np.rint(rng.normal(2.4 + (urban or business) * 0.8, 1.0, n)), 0, 5)
    education = np.clip(education - (age > 60), 0, 5)

    if farmer:
        land = np.round(np.exp(rng.normal(2.3, 0.7, n)), 1)
        livestock = np.where(rng.random(n) < 0.45, 0, np.rint(np.exp(rng.normal(2.4, 1.0, n))))
        has_business = (rng.random(n) < 0.08).astype(float)
        wage_share = rng.beta(2, 5, n)
    elif urban:
        land = np.where(rng.random(n) < 0.7, 0.0, np.round(np.exp(rng.normal(0.8, 0.6, n)), 1))
        livestock = np.zeros(n)
        has_business = (rng.random(n) < 0.12).astype(float)
        wage_share = rng.beta(6, 2, n)
    else:
        land = np.where(rng.random(n) < 0.5, 0.0, np.round(np.exp(rng.normal(1.5, 0.7, n)), 1))
        livestock = np.where(rng.random(n) < 0.8, 0, np.rint(np.exp(rng.normal(2.0, 0.8, n))))
        has_business = np.ones(n)
        wage_share = rng.beta(1, 6, n)
    if population.land_log_mu is not None:
        land = np.round(np.exp(rng.normal(*population.land_log_mu, n)), 1)
        land[rng.random(n) >= (1.0 if population.land_share is None else population.land_share)] = 0
    elif population.land_share is not None:
        land[rng.random(n) >= population.land_share] = 0
    if population.livestock_log_mu is not None or population.livestock_share is not None:
        mu, sd = population.livestock_log_mu or (2.4, 1.0)
        share = 0.55 if population.livestock_share is None else population.livestock_share
        livestock = np.where(rng.random(n) < share, np.rint(np.exp(rng.normal(mu, sd, n))), 0)
        livestock = np.maximum(livestock, 0)

    gross = (
        9000 * labour * (1 + 1.5 * wage_share)
        + 1400 * land
        + 350 * livestock
        + 45000 * has_business * (1.5 if business else 1.0)
    ) * (1 + 0.08 * education)
    gross *= np.exp(rng.normal(-0.15 * shift, 0.45, n))
    expenses = 3500 * family * np.exp(rng.normal(0, 0.3, n))
    net_income = np.round(gross - expenses, -2)
    per_capita = np.round(net_income / family, 0)

    housing = np.exp(rng.normal(12.2 if (urban or business) else 11.7, 0.5, n))
    assets = np.round(housing + 2.5 * np.maximum(net_income, 0) * np.exp(rng.normal(0, 0.5, n)), -2)
    deposits = np.round(assets * rng.beta(1.5, 12, n), -2)
    debt_ratio = np.where(
        rng.random(n) < 0.35 - 0.1 * shift, 0.0, rng.beta(1.3, 5, n) + 0.1 * shift
    )
    debt_ratio = np.round(np.clip(debt_ratio, 0, 1.5), 4)
    social = (rng.random(n) < (0.85 if farmer else 0.92)).astype(float)
    if population.survey_years is None:
        survey_years = np.round(rng.uniform(0, 3, n), 1)
    else:  # as the feature is built: years to two decimals
        survey_years = np.round(rng.uniform(*population.survey_years, n), 2)

    character = rng.normal(0, 1, n)
    peer_rank = np.digitize(character + rng.normal(0, 0.3, n), [-2.0, -1.0, 0.8]).astype(float)
    peer_votes = np.select(
        [peer_rank == 0, peer_rank == 1],
        [rng.integers(3, 8, n), rng.integers(1, 4, n)],
        rng.poisson(0.2, n),
    ).astype(float)
    suggested = np.round(np.clip(net_income * rng.uniform(0.8, 2.0, n), 10000, 300000), -4)
    suggested[peer_rank == 0] = 0
    repaid = rng.poisson(1.2, n).astype(float)
    overdue = np.where(rng.random(n) < 0.78, 0.0, np.rint(rng.exponential(18, n)))
    overdue = np.minimum(overdue, 240)
    overdue[repaid == 0] = np.nan  # new to the bank: no history, not "never late"
    if population.history_share is not None:
        # Households new to the bank have no loans at all: both columns missing, as the
        # features are before the lending layer reports any.
        repaid = np.maximum(repaid, 1)
        overdue = np.where(np.isnan(overdue), 0.0, overdue)
        no_history = rng.random(n) >= population.history_share
        repaid[no_history] = np.nan
        overdue[no_history] = np.nan

    unreviewed = 0.2 if population.peer_coverage is None else 1 - population.peer_coverage
    reviewed = rng.random(n) >= unreviewed + 0.15 * shift
    for column in (peer_rank, peer_votes, suggested):
        column[~reviewed] = np.nan
    education[rng.random(n) < 0.05] = np.nan
    deposits[rng.random(n) < 0.03] = np.nan

    return {
        "head_age": age,
        "family_size": family,
        "labour_count": labour,
        "dependants_ratio": np.round(dependants, 4),
        "head_education_level": education,
        "land_mu": land,
        "livestock_heads": livestock.astype(float),
        "net_income": net_income,
        "income_per_capita": per_capita,
        "wage_income_share": np.round(wage_share, 4),
        "total_assets": assets,
        "deposits": deposits,
        "debt_ratio": debt_ratio,
        "has_business": has_business,
        "has_social_security": social,
        "years_since_survey": survey_years,
        "peer_colour_rank": peer_rank,
        "peer_black_votes": peer_votes,
        "peer_suggested_amount": suggested,
        "repaid_loans": repaid,
        "max_days_overdue": overdue,
    }


def linear_predictor(columns: dict[str, np.ndarray]) -> np.ndarray:
    """``eta`` without the intercept: the documented terms of the generating model."""
    age = columns["head_age"]
    education = columns["head_education_level"]
    deposits_term = -W_DEPOSITS * np.log1p(columns["deposits"] / 10000)
    peer = columns["peer_colour_rank"]
    overdue = columns["max_days_overdue"]
    peer_term = np.full(age.shape, PEER_MISSING_EFFECT)
    for rank, effect in PEER_EFFECT.items():
        peer_term[peer == rank] = effect
    overdue_term = W_OVERDUE * np.log1p(np.minimum(overdue, 90) / 10)
    return (
        W_AGE * (age - 45) ** 2
        - W_INCOME * np.log(np.maximum(columns["income_per_capita"], 1000) / 10000)
        + W_DEBT * columns["debt_ratio"]
        + _filled(deposits_term)
        + W_DEPENDANTS * columns["dependants_ratio"]
        - W_EDUCATION * _filled(education)
        - W_SOCIAL_SECURITY * columns["has_social_security"]
        + peer_term
        + np.where(np.isnan(overdue), NO_HISTORY_EFFECT, overdue_term)
        - W_REPAID * np.nan_to_num(np.minimum(columns["repaid_loans"], 5))  # none: no credit
    )


def _filled(values: np.ndarray) -> np.ndarray:
    """Missing values at the mean of the others; a column nobody has contributes nothing."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    return np.where(missing, 0.0 if missing.all() else np.nanmean(values), values)


def _intercept_for(eta: np.ndarray, bad_rate: float) -> float:
    scale = 1 / np.sqrt(1 + np.pi * NOISE_SD**2 / 8)
    low, high = -15.0, 15.0
    for _ in range(60):
        middle = (low + high) / 2
        if _sigmoid((eta + middle) * scale).mean() < bad_rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def generate_history(
    n: int,
    *,
    seed: int = 42,
    segment: str = "farmer",
    bad_rate: float | None = None,
    shift: float = 0.0,
    population: Population | dict | None = None,
) -> SyntheticHistory:
    """``n`` households of ``segment`` with outcomes drawn from the documented model, drawn as
    ``population`` describes (default: the segment's defaults, see :class:`Population`)."""
    if segment not in SEGMENT_BAD_RATES:
        raise ValueError(f"unknown segment {segment!r}; choose one of {sorted(SEGMENT_BAD_RATES)}")
    if n < 1:
        raise ValueError("n must be positive")
    population = Population.of(population)
    rng = np.random.default_rng(seed)
    if population.households is not None:
        columns = _drawn_households(rng, n, population.households)
    else:
        columns = _segment_households(rng, n, segment, shift, population)
    eta = linear_predictor(columns)
    eta = eta + _intercept_for(eta, SEGMENT_BAD_RATES[segment] if bad_rate is None else bad_rate)
    outcome = rng.random(n) < _sigmoid(eta + rng.normal(0, NOISE_SD, n))
    true_pd = _sigmoid(eta / np.sqrt(1 + np.pi * NOISE_SD**2 / 8))
    # A column nobody has (no household with a repayment history) is left out, as a bank's
    # dataset without that data would be: there is nothing to bin.
    frame = pd.DataFrame(
        {
            name: columns[name].astype(float)
            for name in FEATURES
            if not np.isnan(columns[name]).all()
        }
    )
    frame[TARGET] = outcome.astype(int)
    return SyntheticHistory(frame=frame, true_pd=true_pd)
