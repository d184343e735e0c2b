"""Batch scoring: jobs, chunks, idempotent retries, progress, tenancy, ratings, a real worker."""

from __future__ import annotations

import os

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from org.models import Staff
from risk import batch
from risk.batch import chunk_features, scoring_chunk_run, scoring_job_create
from risk.batch_tasks import score_chunk
from risk.bulk_scoring import SOURCE_FIELDS
from risk.features import FEATURE_NAMES, features_materialise, household_feature_row
from risk.models import HouseholdFeatures, HouseholdScore, Scorecard, ScoringChunk, ScoringJob
from risk.scoring import (
    PointsTable,
    challenger_assigned,
    clear_cache,
    shadow_bucket,
)
from tests.risk.batch_setup import business_bins, expected_score, grade_of, make_scorecard
from villages.models import Household
from villages.services import campaign_create

pytest_plugins = ("celery.contrib.pytest",)

BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "memory://")
CHAMPION, CHALLENGER = HouseholdScore.Role.CHAMPION, HouseholdScore.Role.CHALLENGER


@pytest.fixture
def points_table():
    clear_cache()
    return PointsTable


@pytest.fixture
def scored_world(villages):
    """Feature rows for both villages and a federation farmer champion."""
    features_materialise()
    return {"champion": make_scorecard("farmer"), **villages}


def staff(username: str) -> Staff:
    return Staff.objects.get(user__username=username)


def run_job(job: ScoringJob) -> None:
    for chunk_id in job.chunks.order_by("number").values_list("pk", flat=True):
        scoring_chunk_run(chunk_id=chunk_id)


def expected(points_table, scorecard, household) -> tuple[float, str]:
    """What the points table gives the household's feature row (the single-household path)."""
    table = points_table.load(scorecard)
    row = household_feature_row(household)
    X = np.array([[np.nan if row[f] is None else row[f] for f in table.features]], dtype=float)
    score = table.scores(X)
    return float(score[0]), str(table.grades(score)[0])


# --- creating a job ----------------------------------------------------------------------------


def test_job_is_split_into_chunks_by_id_range_and_enqueued_after_commit(
    scored_world, django_capture_on_commit_callbacks
):
    village = scored_world["v1"]
    with django_capture_on_commit_callbacks() as enqueued:
        job = scoring_job_create(
            scope="village", scope_id=village.pk, created_by=staff("b1_admin"), chunk_size=2
        )
    assert (job.status, job.total_households, job.bank_id) == ("pending", 3, village.bank_id)
    chunks = list(job.chunks.order_by("number"))
    assert [c.size for c in chunks] == [2, 1]
    ids = sorted(str(h.pk) for h in scored_world["v1_households"])
    assert [str(c.first_household) for c in chunks] == [ids[0], ids[2]]
    assert [str(c.last_household) for c in chunks] == [ids[1], ids[2]]
    assert len(enqueued) == 2  # one task per chunk, sent only once the job is committed


def test_an_empty_scope_is_done_at_once(scored_world):
    Household.objects.filter(village=scored_world["v1"]).delete()
    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)
    assert (job.status, job.total_households, job.chunks.count()) == ("done", 0, 0)


def test_tenancy_of_jobs(scored_world):
    v1, v2 = scored_world["v1"], scored_world["v2"]
    with pytest.raises(ValidationError) as foreign:
        scoring_job_create(scope="village", scope_id=v2.pk, created_by=staff("b1_admin"))
    assert "scope_id" in foreign.value.message_dict  # another bank's village: not found
    with pytest.raises(ValidationError):  # an account manager outside their villages
        scoring_job_create(scope="village", scope_id=v1.pk, created_by=staff("b1_am3"))
    with pytest.raises(ValidationError):
        scoring_job_create(scope="bank", scope_id=v2.bank_id, created_by=staff("b1_risk"))
    with pytest.raises(PermissionDenied):
        scoring_job_create(scope="province", created_by=staff("b1_admin"))
    with pytest.raises(PermissionDenied):  # an account manager scores villages, not the bank
        scoring_job_create(scope="bank", scope_id=v1.bank_id, created_by=staff("b1_am2"))
    with pytest.raises(ValidationError):
        scoring_job_create(scope="village", scope_id="北杜村", created_by=None)
    with pytest.raises(ValidationError):
        scoring_job_create(scope="village", scope_id=v1.pk, bank=v2.bank, created_by=None)
    with pytest.raises(ValidationError):
        scoring_job_create(scope="galaxy", created_by=None)
    with pytest.raises(ValidationError):
        scoring_job_create(scope="province", created_by=None, chunk_size=0)
    assert not ScoringJob.objects.exists()

    mine = scoring_job_create(scope="village", scope_id=v1.pk, created_by=staff("b1_am2"))
    bank = scoring_job_create(scope="bank", scope_id=v1.bank_id, created_by=staff("b1_risk"))
    province = scoring_job_create(scope="province", created_by=staff("fed_admin"))
    assert (mine.total_households, bank.total_households) == (3, 3)
    assert (province.bank_id, province.total_households) == (None, 6)
    assert set(ScoringJob.objects.for_user(staff("b2_admin").user)) == set()
    assert set(ScoringJob.objects.for_user(staff("b1_admin").user)) == {mine, bank}


def test_campaign_scope_scores_its_village(scored_world, points_table):
    import datetime

    campaign = campaign_create(
        village=scored_world["v2"],
        name="魏村整村授信",
        starts_on=datetime.date(2026, 11, 1),
        ends_on=datetime.date(2026, 12, 31),
        lead=staff("b2_am1"),
    )
    job = scoring_job_create(scope="campaign", scope_id=campaign.pk, created_by=staff("b2_am1"))
    run_job(job)
    scored = set(HouseholdScore.objects.filter(job=job).values_list("household_id", flat=True))
    assert scored == {h.pk for h in scored_world["v2_households"]}


# --- running chunks ----------------------------------------------------------------------------


def test_chunk_scores_equal_the_single_household_path_and_feed_credit_grades(
    scored_world, points_table
):
    # the fixture households: net income 30000, no debt, not reviewed
    assert expected_score(30000, 0.0, None) == 20 + 30 + 5
    assert grade_of(55) == "A"
    champion = scored_world["champion"]
    job = scoring_job_create(scope="bank", scope_id=scored_world["v1"].bank_id, created_by=None)
    run_job(job)
    job.refresh_from_db()
    assert (job.status, job.scored_households, job.progress_percent) == ("done", 3, 100)
    assert job.finished_at is not None
    for household in scored_world["v1_households"]:
        score = HouseholdScore.objects.get(job=job, household=household)
        assert (score.role, score.scorecard, score.bank_id) == (
            CHAMPION,
            champion,
            household.bank_id,
        )
        value, grade = expected(points_table, champion, household)
        assert (value, grade) == (55, "A")  # the hand-computed points and cut-offs
        assert float(score.score) == pytest.approx(value, abs=0.005)
        assert score.grade == grade
        assert 0 < score.probability_of_default < 1
        assert set(score.features) == set(points_table.load(champion).features)
        assert isinstance(score.reason_codes, list)
        household.refresh_from_db()
        assert household.credit_grade == grade  # the campaign rating
    assert not HouseholdScore.objects.filter(household__village=scored_world["v2"]).exists()
    assert Household.objects.filter(village=scored_world["v2"], credit_grade="").count() == 3


def test_a_chunk_run_twice_rewrites_its_rows_and_counts_once(scored_world, points_table):
    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)
    chunk = job.chunks.get()
    assert scoring_chunk_run(chunk_id=chunk.pk) == 3
    first = {s.household_id: s for s in HouseholdScore.objects.filter(job=job)}

    household = scored_world["v1_households"][0]
    HouseholdFeatures.objects.filter(household=household).update(net_income=80000, debt_ratio=0.9)
    assert scoring_chunk_run(chunk_id=chunk.pk) == 3

    again = {s.household_id: s for s in HouseholdScore.objects.filter(job=job)}
    assert len(again) == HouseholdScore.objects.filter(job=job).count() == 3
    assert {s.pk for s in again.values()} == {s.pk for s in first.values()}  # same rows
    assert again[household.pk].features["net_income"] == 80000
    assert again[household.pk].score != first[household.pk].score
    job.refresh_from_db()
    chunk.refresh_from_db()
    assert (chunk.status, chunk.attempts) == ("done", 2)
    assert (job.status, job.scored_households) == ("done", 3)


def test_a_first_write_racing_another_falls_back_to_the_upsert(scored_world):
    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)
    chunk = job.chunks.get()
    scoring_chunk_run(chunk_id=chunk.pk)
    # A duplicate delivery that also believes it is the first attempt: its COPY hits the
    # unique (job, household, role) and it upserts instead.
    ScoringChunk.objects.filter(pk=chunk.pk).update(attempts=0)
    assert scoring_chunk_run(chunk_id=chunk.pk) == 3
    assert HouseholdScore.objects.filter(job=job).count() == 3


def test_a_killed_workers_chunk_is_rerun_without_duplicates(scored_world):
    job = scoring_job_create(
        scope="village", scope_id=scored_world["v1"].pk, created_by=None, chunk_size=2
    )
    first, second = job.chunks.order_by("number")
    scoring_chunk_run(chunk_id=first.pk)
    rated = Household.objects.filter(village=scored_world["v1"]).exclude(credit_grade="")
    assert rated.count() == 2  # each chunk rates its own households as it commits
    # The worker took the second chunk, wrote nothing durable and died: the chunk is left
    # RUNNING with one attempt, and the broker redelivers the task (acks_late).
    ScoringChunk.objects.filter(pk=second.pk).update(status="running", attempts=1)
    ScoringJob.objects.filter(pk=job.pk).update(status="running")
    job.refresh_from_db()
    assert (job.status, job.scored_households, job.progress_percent) == ("running", 2, 66)
    assert score_chunk.apply(args=(second.pk,)).get() == 1

    job.refresh_from_db()
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("done", 2)
    assert (job.status, job.scored_households) == ("done", 3)
    assert HouseholdScore.objects.filter(job=job).count() == 3
    assert all(h.credit_grade for h in Household.objects.filter(village=scored_world["v1"]))


def test_job_finishing_is_retried_by_a_redelivered_chunk(scored_world, monkeypatch):
    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)
    chunk = job.chunks.get()

    def die(**kwargs):
        raise SystemExit("worker killed while finishing")

    finish = batch.scoring_job_finish
    monkeypatch.setattr(batch, "scoring_job_finish", die)
    with pytest.raises(SystemExit):
        scoring_chunk_run(chunk_id=chunk.pk)
    job.refresh_from_db()
    assert (job.status, job.chunks.get().status) == ("running", "done")
    monkeypatch.setattr(batch, "scoring_job_finish", finish)
    scoring_chunk_run(chunk_id=chunk.pk)
    job.refresh_from_db()
    assert (job.status, job.scored_households) == ("done", 3)


def test_challenger_shadow_scores_the_households_assigned_to_it(scored_world):
    households = scored_world["v1_households"] + scored_world["v2_households"]
    challenger = make_scorecard("farmer", status=Scorecard.Status.CHALLENGER, version=2, shift=5)
    # a share that puts the three lowest hash buckets in and the highest out
    buckets = sorted(shadow_bucket(h.pk) for h in households)
    challenger.shadow_percent = buckets[2] + 1
    challenger.save(update_fields=["shadow_percent"])
    job = scoring_job_create(scope="province", created_by=None)
    run_job(job)
    shadow = HouseholdScore.objects.filter(job=job, role=CHALLENGER)
    assigned = {h.pk for h in households if challenger_assigned(h.pk, challenger)}
    assert 3 <= len(assigned) < 6 or buckets[2] == buckets[5]
    assert {s.household_id for s in shadow} == assigned
    assert {s.scorecard_id for s in shadow} == {challenger.pk}
    assert HouseholdScore.objects.filter(job=job, role=CHAMPION).count() == 6
    for score in shadow:  # shadow scores never become the rating
        champion = HouseholdScore.objects.get(job=job, household=score.household, role=CHAMPION)
        assert score.household.credit_grade == champion.grade
        assert score.score == champion.score + 15


def test_segments_banks_own_champion_and_farmer_fallback(scored_world):
    v1, v2 = scored_world["v1"], scored_world["v2"]
    own = make_scorecard("farmer", bank=v2.bank, shift=1)
    urban_household = scored_world["v1_households"][0]
    HouseholdFeatures.objects.filter(household=urban_household).update(segment="urban_resident")
    job = scoring_job_create(scope="province", created_by=None)
    run_job(job)
    cards = dict(HouseholdScore.objects.filter(job=job).values_list("household_id", "scorecard"))
    assert cards[urban_household.pk] == scored_world["champion"].pk  # no urban champion
    assert {cards[h.pk] for h in scored_world["v2_households"]} == {own.pk}
    assert v1.bank_id != v2.bank_id


def test_households_without_features_are_skipped_unless_refreshed(scored_world):
    HouseholdFeatures.objects.filter(household__village=scored_world["v1"]).delete()
    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)
    run_job(job)
    job.refresh_from_db()
    assert (job.status, job.scored_households, job.total_households) == ("done", 0, 3)

    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)
    for chunk in job.chunks.all():
        scoring_chunk_run(chunk_id=chunk.pk, refresh_features=True)
    job.refresh_from_db()
    assert job.scored_households == 3
    assert HouseholdFeatures.objects.filter(household__village=scored_world["v1"]).count() == 3


def test_eager_job_runs_end_to_end_after_commit(scored_world, django_capture_on_commit_callbacks):
    HouseholdFeatures.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        job = scoring_job_create(scope="province", created_by=staff("fed_admin"), chunk_size=4)
    job.refresh_from_db()
    assert (job.status, job.scored_households, job.chunks.count()) == ("done", 6, 2)


def test_chunk_features_is_one_query(scored_world, django_assert_num_queries):
    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)
    chunk = ScoringChunk.objects.select_related("job").get(job=job)
    with django_assert_num_queries(1):  # the COPY
        frame = chunk_features(chunk)
    assert list(frame.columns) == [
        "household_id",
        "bank_id",
        "segment",
        *FEATURE_NAMES,
        SOURCE_FIELDS,
    ]
    assert len(frame) == 3
    # each row's printed line, from which the stored feature values are cut
    for line, household_id in zip(frame[SOURCE_FIELDS], frame["household_id"], strict=True):
        assert line.split(",")[0] == str(household_id)
        assert len(line.split(",")) == 3 + len(FEATURE_NAMES)
    assert frame["net_income"].dtype == np.float64


def test_a_failing_chunk_fails_the_job(scored_world, monkeypatch):
    job = scoring_job_create(scope="village", scope_id=scored_world["v1"].pk, created_by=None)

    def broken(frame, scorecards=None):
        raise ValueError("bad points table")

    monkeypatch.setattr(batch, "score_rows", broken)
    with pytest.raises(ValueError, match="bad points table"):
        score_chunk.apply(args=(job.chunks.get().pk,), throw=True)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "bad points table" in job.error


# --- through a real worker ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def celery_config():
    return {
        "broker_url": BROKER,
        "result_backend": BROKER if BROKER.startswith("redis") else "cache+memory://",
        "task_always_eager": False,
    }


@pytest.fixture(scope="session")
def celery_parameters():
    return {"task_cls": "celery.contrib.django.task:DjangoTask"}


@pytest.fixture(scope="session")
def celery_worker_pool():
    return "solo"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_small_job_through_a_real_worker(villages, celery_app, celery_worker):
    import time

    features_materialise()
    make_scorecard("farmer")
    job = scoring_job_create(scope="province", created_by=staff("fed_admin"), chunk_size=2)
    assert job.chunks.count() == 3
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == "done":
            break
        time.sleep(0.1)
    assert (job.status, job.scored_households) == ("done", 6)
    assert HouseholdScore.objects.filter(job=job).count() == 6
    assert not Household.objects.filter(credit_grade="").exists()


def test_vectorised_reason_codes_equal_the_points_tables_own(db, points_table):
    import json

    from risk.bulk_scoring import array_text, reason_codes_text
    from risk.models import ScorecardBin

    card = make_scorecard("farmer")
    # a gap between numeric bins (values there fall to the missing bin), specials, categories
    card.bins.filter(feature="net_income", bin_index=1).update(lower=20000)
    ScorecardBin.objects.bulk_create(
        [
            *business_bins(card),
            ScorecardBin(
                scorecard=card,
                feature="deposits",
                bin_index=0,
                kind="numeric",
                label="[-inf, 5000)",
                upper=5000,
                points=1,
            ),
            ScorecardBin(
                scorecard=card,
                feature="deposits",
                bin_index=1,
                kind="numeric",
                label="[5000, inf)",
                lower=5000,
                points=9,
            ),
            ScorecardBin(
                scorecard=card,
                feature="deposits",
                bin_index=2,
                kind="special",
                label="未调查",
                categories=[-1],
                points=4,
            ),
        ]
    )
    table = points_table.load(card)
    rng = np.random.default_rng(11)
    n = 3000
    columns = {
        "net_income": rng.choice([np.nan, 5000.0, 15000.0, 30000.0, 90000.0, 12345.67], n),
        "debt_ratio": rng.choice([np.nan, 0.1, 0.29999, 0.3, 0.8], n),
        "peer_colour_rank": rng.choice([np.nan, 0.0, 1.0, 2.0, 3.0, 7.0], n),
        "has_business": rng.choice([np.nan, 0.0, 1.0, 2.0], n),
        "deposits": rng.choice([np.nan, -1.0, 100.0, 5000.0, 1e6], n),
    }
    X = np.column_stack([columns[f] for f in table.features])
    positions = table.bin_positions(X)
    points = table.points_at(positions)
    texts = reason_codes_text(table, points, positions)
    arrays = array_text(X)
    for i in range(n):
        codes = json.loads(texts[i])
        assert codes == table.codes(points[i], positions[i]), i
        # rendered from what is stored, they read as the table's own reason codes
        stored = [None if v == "NULL" else float(v) for v in arrays[i][1:-1].split(",")]
        assert table.stored_reasons(codes, stored) == table.reason_codes(points[i], X[i]), i
    assert reason_codes_text(table, points[:0], positions[:0]) == []
