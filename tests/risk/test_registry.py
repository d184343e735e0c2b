"""Registry: versions with points tables and artefacts; draft → challenger → champion → retired
with maker-checker; training runs queued as a task with progress."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile

from risk.models import (
    Scorecard,
    ScorecardBin,
    ScorecardStatusChange,
    ScorecardTraining,
    ScoringSegment,
)
from risk.registry import (
    scorecard_promote,
    scorecard_register_from_training,
    scorecard_retire,
    scorecard_set_grade_cutoffs,
    scorecard_submit,
    scorecard_training_request,
)
from risk.synthetic import generate_history
from tests.risk.model_setup import trained

CHAMPION, CHALLENGER = Scorecard.Status.CHAMPION, Scorecard.Status.CHALLENGER
DRAFT, RETIRED = Scorecard.Status.DRAFT, Scorecard.Status.RETIRED


def test_register_stores_points_table_metrics_and_artefact(register, staff, media):
    _, result = trained()
    scorecard = register(trained_by=staff["fed_modeller"])
    assert scorecard.status == DRAFT
    assert scorecard.version == 1
    assert scorecard.bank is None
    assert scorecard.name == "农户评分卡"
    assert scorecard.metrics["test"] == result.metrics["test"]
    assert scorecard.metrics["features"] == list(result.features)
    assert scorecard.feature_iv == result.feature_iv
    assert scorecard.training_rows == 4000
    assert scorecard.training_bads == result.bads
    assert scorecard.baseline["score"]["edges"]
    assert [g for g, _ in scorecard.grade_cutoffs] == ["AAA", "AA", "A", "B", "C"]
    bins = ScorecardBin.objects.filter(scorecard=scorecard)
    assert bins.count() == len(result.bins)
    first = bins.get(feature=result.bins[0].feature, bin_index=0)
    assert first.points == Decimal(str(result.bins[0].points))
    assert first.count == result.bins[0].count
    assert len(scorecard.artefact_sha256) == 64
    assert scorecard.artefact.name.endswith(".skops")
    assert (media / scorecard.artefact.name).exists()
    log = ScorecardStatusChange.objects.get(scorecard=scorecard)
    assert (log.action, log.to_status, log.actor) == ("register", DRAFT, staff["fed_modeller"])


def test_versions_count_per_segment_and_bank(register, staff):
    bank1 = staff["b1_risk"].bank
    assert [register().version for _ in range(2)] == [1, 2]
    assert register(bank=bank1).version == 1
    assert register("urban_resident").version == 1


def test_failed_registration_leaves_no_row_and_no_file(register, media, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ScorecardBin.objects, "bulk_create", explode)
    with pytest.raises(RuntimeError):
        register()
    assert not Scorecard.objects.exists()
    assert not list(media.rglob("*.skops"))


def test_bank_segment_takes_only_that_banks_models(register, staff):
    bank1, bank2 = staff["b1_risk"].bank, staff["b2_risk"].bank
    segment = ScoringSegment.objects.create(code="orchard", name="果农", bank=bank1)
    with pytest.raises(ValidationError):
        scorecard_register_from_training(
            segment=segment, result=trained()[1], source="synthetic", bank=bank2
        )


def _champion(register, staff, **kwargs):
    scorecard = register(trained_by=staff["fed_modeller"], **kwargs)
    scorecard_submit(scorecard=scorecard, actor=staff["fed_modeller"].user)
    return scorecard_promote(scorecard=scorecard, actor=staff["fed_admin"].user)


def test_lifecycle_with_maker_checker(register, staff):
    modeller, checker = staff["fed_modeller"], staff["fed_admin"]
    scorecard = register(trained_by=modeller)
    scorecard = scorecard_submit(scorecard=scorecard, actor=modeller.user, shadow_percent=30)
    assert scorecard.status == CHALLENGER
    assert scorecard.shadow_percent == 30
    assert scorecard.submitted_by == modeller

    with pytest.raises(ValidationError) as excinfo:
        scorecard_promote(scorecard=scorecard, actor=modeller.user)
    assert "双人复核" in excinfo.value.message_dict["promoted_by"][0]
    assert Scorecard.objects.get(pk=scorecard.pk).status == CHALLENGER

    scorecard = scorecard_promote(scorecard=scorecard, actor=checker.user, reason="测试集达标")
    assert scorecard.status == CHAMPION
    assert scorecard.promoted_by == checker
    actions = list(
        ScorecardStatusChange.objects.filter(scorecard=scorecard).values_list(
            "action", "from_status", "to_status"
        )
    )
    assert actions == [
        ("register", "", DRAFT),
        ("submit", DRAFT, CHALLENGER),
        ("promote", CHALLENGER, CHAMPION),
    ]


def test_submitter_cannot_promote_either(register, staff):
    scorecard = register(trained_by=None)
    scorecard_submit(scorecard=scorecard, actor=staff["fed_admin"].user)
    with pytest.raises(ValidationError):
        scorecard_promote(scorecard=scorecard, actor=staff["fed_admin"].user)
    assert (
        scorecard_promote(scorecard=scorecard, actor=staff["fed_modeller"].user).status == CHAMPION
    )


def test_new_champion_retires_the_old_one(register, staff):
    old = _champion(register, staff)
    new = _champion(register, staff)
    old.refresh_from_db()
    assert (old.status, new.status) == (RETIRED, CHAMPION)
    assert old.retired_at == new.promoted_at
    replaced = ScorecardStatusChange.objects.get(scorecard=old, action="replace")
    assert replaced.actor == staff["fed_admin"]
    assert str(new) in replaced.reason
    assert Scorecard.objects.filter(status=CHAMPION).count() == 1


def test_one_challenger_per_segment(register, staff):
    modeller = staff["fed_modeller"]
    scorecard_submit(scorecard=register(), actor=modeller.user)
    second = register()
    with pytest.raises(ValidationError) as excinfo:
        scorecard_submit(scorecard=second, actor=modeller.user)
    assert "已有挑战者" in excinfo.value.message_dict["status"][0]
    # Another bank's challenger of the same segment is a different slot.
    own = register(bank=staff["b1_risk"].bank)
    assert scorecard_submit(scorecard=own, actor=staff["b1_risk"].user).status == CHALLENGER


def test_wrong_order_and_bad_percent_are_refused(register, staff):
    modeller = staff["fed_modeller"]
    draft = register()
    with pytest.raises(ValidationError):
        scorecard_promote(scorecard=draft, actor=staff["fed_admin"].user)
    with pytest.raises(ValidationError):
        scorecard_submit(scorecard=draft, actor=modeller.user, shadow_percent=0)
    assert Scorecard.objects.get(pk=draft.pk).status == DRAFT


def test_retire_rules(register, staff):
    modeller = staff["fed_modeller"]
    draft = register()
    with pytest.raises(ValidationError):
        scorecard_retire(scorecard=draft, actor=modeller.user, reason=" ")
    assert (
        scorecard_retire(scorecard=draft, actor=modeller.user, reason="不再需要").status == RETIRED
    )
    with pytest.raises(ValidationError):
        scorecard_retire(scorecard=draft, actor=modeller.user, reason="again")

    federation_champion = _champion(register, staff)
    with pytest.raises(ValidationError) as excinfo:
        scorecard_retire(scorecard=federation_champion, actor=modeller.user, reason="停用")
    assert "兜底" in excinfo.value.message_dict["status"][0]

    bank_champion = register(bank=staff["b1_risk"].bank, trained_by=staff["b1_risk"])
    scorecard_submit(scorecard=bank_champion, actor=staff["b1_risk"].user)
    scorecard_promote(scorecard=bank_champion, actor=staff["b1_risk2"].user)
    retired = scorecard_retire(scorecard=bank_champion, actor=staff["b1_risk"].user, reason="回退")
    assert retired.status == RETIRED


def test_only_the_owner_manages(register, staff):
    federation_model = register()
    bank_model = register(bank=staff["b1_risk"].bank)
    with pytest.raises(PermissionDenied):
        scorecard_submit(scorecard=federation_model, actor=staff["b1_risk"].user)
    with pytest.raises(PermissionDenied):
        scorecard_submit(scorecard=bank_model, actor=staff["b2_risk"].user)
    with pytest.raises(PermissionDenied):
        scorecard_submit(scorecard=bank_model, actor=staff["fed_admin"].user)
    with pytest.raises(PermissionDenied):  # an account manager holds no model permissions
        scorecard_submit(scorecard=bank_model, actor=staff["b1_am1"].user)


def test_grade_cutoffs_only_for_drafts_and_checked(register, staff):
    modeller = staff["fed_modeller"]
    draft = register()
    changed = scorecard_set_grade_cutoffs(
        scorecard=draft, cutoffs=[["优", 640], ["良", 600], ["差", 0]], actor=modeller.user
    )
    assert changed.grade_cutoffs == [["优", 640], ["良", 600], ["差", 0]]
    with pytest.raises(ValidationError):
        scorecard_set_grade_cutoffs(
            scorecard=draft, cutoffs=[["优", 1], ["良", 2]], actor=modeller.user
        )
    scorecard_submit(scorecard=draft, actor=modeller.user)
    with pytest.raises(ValidationError):
        scorecard_set_grade_cutoffs(scorecard=draft, cutoffs=[["A", 1]], actor=modeller.user)


# --- training runs -----------------------------------------------------------------------------


def test_training_request_runs_the_task_with_progress(
    staff,
    media,
    django_capture_on_commit_callbacks,
):
    segment = ScoringSegment.objects.get(code="urban_resident", bank=None)
    csv = generate_history(600, seed=31, segment="urban_resident").frame.to_csv(index=False)
    with django_capture_on_commit_callbacks(execute=True):
        training = scorecard_training_request(
            actor=staff["fed_modeller"].user,
            segment=segment,
            source=Scorecard.Source.UPLOAD,
            dataset=ContentFile(csv.encode(), name="urban.csv"),
            settings={"pdo": 40, "random_seed": 3},
        )
    training.refresh_from_db()
    assert training.status == ScorecardTraining.Status.DONE, training.error
    assert training.progress == 100
    assert training.finished_at is not None
    scorecard = training.scorecard
    assert scorecard.status == DRAFT
    assert scorecard.source == Scorecard.Source.UPLOAD
    assert scorecard.pdo == 40
    assert scorecard.trained_by == staff["fed_modeller"]
    assert training.dataset.name.startswith("training/")


def test_training_request_refuses_bad_requests(staff, media):
    segment = ScoringSegment.objects.get(code="farmer", bank=None)
    with pytest.raises(PermissionDenied):
        scorecard_training_request(
            actor=staff["b1_am1"].user, segment=segment, source="synthetic", synthetic_rows=500
        )
    for kwargs in (
        {"source": "upload"},
        {"source": "synthetic", "synthetic_rows": 50},
        {"source": "synthetic", "synthetic_rows": 500, "settings": {"pdo": -1}},
        {"source": "synthetic", "synthetic_rows": 500, "settings": {"colour": "red"}},
    ):
        with pytest.raises(ValidationError):
            scorecard_training_request(actor=staff["fed_modeller"].user, segment=segment, **kwargs)
    assert not ScorecardTraining.objects.exists()


def test_training_from_the_database_fails_clearly(staff, media):
    from risk.registry import scorecard_training_create, scorecard_training_run

    training = scorecard_training_create(
        segment=ScoringSegment.objects.get(code="farmer", bank=None), source="database"
    )
    training = scorecard_training_run(training_id=training.pk)
    assert training.status == ScorecardTraining.Status.FAILED
    assert "还没有到期的贷款表现数据" in training.error
    assert scorecard_training_run(training_id=training.pk).status == training.status  # not rerun
    assert not Scorecard.objects.exists()


def test_management_command(db, media, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("train_scorecard", "--segment", "individual_business", "--synthetic", "800")
    out = capsys.readouterr().out
    assert "[ 25%]" in out
    assert "已登记 个体工商户评分卡 v1" in out
    assert "HIGHS" not in out
    with pytest.raises(CommandError, match="not a file"):
        call_command("train_scorecard", "--segment", "farmer", "--csv", "/nonexistent.csv")
    with pytest.raises(CommandError, match="还没有到期"):
        call_command("train_scorecard", "--segment", "farmer", "--database")


def test_seed_risk_promotes_a_champion_per_segment_once(villages, media, monkeypatch):
    from org.models import Institution
    from org.services import institution_create
    from risk import demo
    from risk.models import HouseholdScore
    from villages.models import Division, Household
    from villages.services import division_create, village_create

    # A bank that is not the demo's (as the benchmarks' banks are): the demo must not rate it.
    other = institution_create(
        code="OTHER",
        name="他行",
        kind=Institution.Kind.BANK,
        parent=Institution.objects.get(kind=Institution.Kind.FEDERATION),
    )
    branch = institution_create(
        code="OTHER-B1", name="他行支行", kind=Institution.Kind.BRANCH, parent=other
    )
    division = division_create(
        code="141002101299",
        name="他村",
        level=Division.Level.VILLAGE,
        parent=villages["v1"].division.parent,
    )
    Household.objects.create(village=village_create(division=division, branch=branch), bank=other)

    monkeypatch.setattr(demo, "SYNTHETIC_ROWS", 1500)
    logins = demo.seed_risk()
    assert not HouseholdScore.objects.filter(bank=other).exists()
    assert [login.username for login in logins] == ["fed_modeller"]
    champions = Scorecard.objects.filter(status=CHAMPION, bank=None)
    assert sorted(champions.values_list("segment__code", flat=True)) == [
        "farmer",
        "individual_business",
        "urban_resident",
    ]
    assert all(c.promoted_by.user.username == "fed_admin" for c in champions)
    assert Scorecard.objects.get(status=CHALLENGER).segment.code == "farmer"
    scored = HouseholdScore.objects.filter(role="champion").count()
    assert scored == 6
    # The demo rates households the way a campaign does: through a batch job feeding grades.
    assert not Household.objects.exclude(bank=other).filter(credit_grade="").exists()
    # Each scorecard that scored someone has a first PSI point for its chart.
    from risk.models import MonitoringRun

    monitored = set(MonitoringRun.objects.values_list("scorecard__segment__code", flat=True))
    scored_segments = set(HouseholdScore.objects.values_list("scorecard__segment__code", flat=True))
    assert monitored == scored_segments
    before = (
        Scorecard.objects.count(),
        HouseholdScore.objects.count(),
        MonitoringRun.objects.count(),
    )
    demo.seed_risk()
    assert (
        Scorecard.objects.count(),
        HouseholdScore.objects.count(),
        MonitoringRun.objects.count(),
    ) == before
