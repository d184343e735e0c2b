"""Demo scorecards: a champion per default segment trained on the synthetic history, a farmer
challenger scoring in shadow, the demo households scored, and a first stability (PSI) run so
each scorecard's page shows its monitoring chart (the scheduled task adds one a day once a
worker and beat run).

The synthetic history is drawn like the demo villages' households (``villages/demo.py``): their
features are read before training and summarised per segment (:func:`demo_population`) — none
has a repayment history with the bank yet, one village in six has been peer-reviewed, every
archive has the same survey date, land and livestock are on the villages' scale — so a fresh
demo's champions score a population like their training sample and monitoring shows them
stable (a card that scored too few households shows 样本不足 instead of a PSI band).

Idempotent: a segment that already has a federation champion is left alone, a household already
scored is not scored again. The federation's modeller trains and submits; the federation admin
promotes (maker-checker).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from org.demo import BANKS as DEMO_BANKS
from org.demo import DEMO_PASSWORD, DemoLogin
from org.models import Institution, Staff
from org.roles import Role
from org.services import staff_create
from risk.models import HouseholdScore, MonitoringRun, Scorecard, ScoringSegment
from risk.monitoring import monitoring_run_all
from risk.reference import DEFAULT_SEGMENTS
from risk.registry import (
    scorecard_promote,
    scorecard_submit,
    scorecard_training_create,
    scorecard_training_run,
)
from risk.synthetic import FEATURES, Population

MODELLER = ("fed_modeller", "省联社模型岗", "F0003", "13900000003")
CHECKER = "fed_admin"
SYNTHETIC_ROWS = 5000
SEGMENT_SEEDS = {"farmer": 101, "urban_resident": 202, "individual_business": 303}
CHALLENGER_SETTINGS = {"random_seed": 404, "max_bins": 5, "min_bin_share": 0.08}
# Fewer demo households than this (in all, or of a segment for its land and livestock) and the
# synthetic defaults are kept: a handful of rows describes no population.
MIN_HOUSEHOLDS_TO_DESCRIBE = 10


def _demo_households():
    from villages.models import Household

    # The demo banks only: another bank on the same database is not the demo's population.
    return Household.objects.filter(bank__code__in=[code for code, *_ in DEMO_BANKS])


def _share(values: pd.Series) -> float:
    return round(float(values.mean()), 4)


def _log_scale(values: pd.Series) -> list[float] | None:
    positive = np.log(values[values > 0].to_numpy(dtype=np.float64))
    if len(positive) < 2:
        return None
    return [round(float(positive.mean()), 4), round(float(positive.std(ddof=1)), 4)]


def demo_population(frame: pd.DataFrame, segment: str) -> dict | None:
    """The ``risk.synthetic.Population`` (as a dict) of ``segment`` in the demo households'
    feature ``frame`` (``risk.features.features_frame``): repayment history, peer-review and
    survey-age from every demo household (what the demo has done to all of them), land and
    livestock from the segment's own households when there are enough of them. None when the
    demo has too few households to describe."""
    if len(frame) < MIN_HOUSEHOLDS_TO_DESCRIBE:
        return None
    survey = frame["years_since_survey"].dropna()
    described = {
        "history_share": _share(frame["repaid_loans"].notna()),
        "peer_coverage": _share(frame["peer_colour_rank"].notna()),
        "survey_years": [float(survey.min()), float(survey.max())] if len(survey) else None,
    }
    own = frame[frame["segment"] == segment]
    if len(own) >= MIN_HOUSEHOLDS_TO_DESCRIBE:
        land, livestock = own["land_mu"].fillna(0), own["livestock_heads"].fillna(0)
        described |= {
            "land_share": _share(land > 0),
            "land_log_mu": _log_scale(land),
            "livestock_share": _share(livestock > 0),
            "livestock_log_mu": _log_scale(livestock),
        }
    population = {name: value for name, value in described.items() if value is not None}
    # With enough of the segment's own households, training draws from them: a population
    # described only by shares and scales still differed from the demo villages in income,
    # deposits, family size and education (feature PSI 0.9–1.5 on a fresh demo).
    source = own if len(own) >= MIN_HOUSEHOLDS_TO_DESCRIBE else None
    if source is not None:
        population["households"] = [
            {
                name: (None if pd.isna(value) else float(value))
                for name, value in row.items()
                if name in FEATURES
            }
            for row in source.to_dict("records")
        ]
    return Population.of(population).as_dict()


def _demo_features() -> pd.DataFrame:
    from risk.features import features_frame

    return features_frame(_demo_households())


def _modeller() -> tuple[Staff, DemoLogin]:
    username, full_name, employee_no, phone = MODELLER
    federation = Institution.objects.get(kind=Institution.Kind.FEDERATION)
    staff = Staff.objects.filter(user__username=username).first()
    if staff is None:
        staff = staff_create(
            username=username,
            password=DEMO_PASSWORD,
            full_name=full_name,
            institution=federation,
            employee_no=employee_no,
            phone=phone,
            roles=[Role.FEDERATION_ADMIN],
        )
    return staff, DemoLogin(username, full_name, federation.name, Role.FEDERATION_ADMIN.label)


def _train(
    segment: ScoringSegment, modeller: Staff, settings: dict, population: dict | None
) -> Scorecard:
    if population is not None:
        settings = {**settings, "synthetic_population": population}
    training = scorecard_training_create(
        segment=segment,
        source=Scorecard.Source.SYNTHETIC,
        synthetic_rows=SYNTHETIC_ROWS,
        settings=settings,
        requested_by=modeller,
    )
    training = scorecard_training_run(training_id=training.pk)
    if training.scorecard is None:
        raise RuntimeError(f"demo training of {segment.code} failed: {training.error}")
    return training.scorecard


def _score_demo_households(modeller: Staff) -> None:
    """Rate every demo bank's households with a batch job, as a campaign would: the job's
    chunks write the scores and feed each household's credit grade (整村授信 rating)."""
    from org.models import Institution
    from risk.batch import scoring_chunk_run, scoring_job_create
    from villages.models import Household

    # The demo banks only: another bank on the same database (the benchmarks' million
    # households, or a real bank's) is not the demo's to rate.
    demo_banks = Institution.objects.banks().filter(code__in=[code for code, *_ in DEMO_BANKS])
    for bank in demo_banks.filter(pk__in=Household.objects.values("bank_id")).exclude(
        pk__in=HouseholdScore.objects.values("bank_id")
    ):
        job = scoring_job_create(
            scope="bank", scope_id=bank.pk, bank=bank, created_by=modeller, enqueue=False
        )
        for chunk_id in job.chunks.order_by("number").values_list("pk", flat=True):
            scoring_chunk_run(chunk_id=chunk_id, refresh_features=True)


def seed_risk() -> list[DemoLogin]:
    modeller, login = _modeller()
    checker = Staff.objects.select_related("user").get(user__username=CHECKER).user
    features = None
    for code, _name, _description in DEFAULT_SEGMENTS:
        segment = ScoringSegment.objects.get(code=code, bank=None)
        champions = Scorecard.objects.filter(segment=segment, bank=None)
        if champions.filter(status=Scorecard.Status.CHAMPION).exists():
            continue
        features = _demo_features() if features is None else features
        population = demo_population(features, code)
        champion = _train(segment, modeller, {"random_seed": SEGMENT_SEEDS[code]}, population)
        scorecard_submit(scorecard=champion, actor=modeller.user, shadow_percent=100)
        scorecard_promote(scorecard=champion, actor=checker, reason="演示：合成历史数据训练")
        if code == "farmer":
            challenger = _train(segment, modeller, CHALLENGER_SETTINGS, population)
            scorecard_submit(scorecard=challenger, actor=modeller.user, shadow_percent=50)
    _score_demo_households(modeller)
    from risk.decisions.demo import seed_decisions

    seed_decisions()  # the demo banks' households through the default strategy
    if not MonitoringRun.objects.exists():
        monitoring_run_all()
    return [login]
