"""The scorecard registry: versions per segment, their lifecycle, and training runs.

A trained result becomes a *draft* version of its segment (per bank, or the federation's when
``bank`` is empty) with its points table, metrics and skops artefact. Then:

    draft ──submit──▶ challenger ──promote──▶ champion ──(next promotion)──▶ retired
      └──────────────────retire─────────────────┘

- one champion and one challenger per (segment, bank), also enforced by the database;
- promotion is maker-checker: the promoter is neither the trainer nor the submitter;
- promoting a challenger retires the champion it replaces in the same transaction;
- the federation's champion cannot simply be retired (every bank falls back on it): promote a
  successor instead. A bank's own champion may be retired; its households fall back on the
  federation's.

Every transition locks the segment row (one writer per segment at a time) and the scorecard,
and writes a ``ScorecardStatusChange`` in the same transaction.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from common.errors import describe_error
from org.models import Staff
from org.tenancy import scope_for
from risk.artefacts import artefact_dumps, sha256
from risk.models import (
    Scorecard,
    ScorecardBin,
    ScorecardStatusChange,
    ScorecardTraining,
    ScoringSegment,
)
from risk.scoring import check_grade_cutoffs, default_grade_cutoffs, synthetic_refusal
from risk.scoring import clear_cache as scoring_cache_clear
from risk.training import (
    TrainingDataError,
    TrainingSettings,
    outcomes_training_frame,
    read_training_csv,
    train_scorecard_model,
)

logger = logging.getLogger(__name__)

MANAGE_PERMISSION = "risk.add_scorecard"
PROMOTE_PERMISSION = "risk.promote_scorecard"
MAX_SYNTHETIC_ROWS = 200_000
SETTING_FIELDS = {f.name for f in dataclasses.fields(TrainingSettings)}


# --- who may do what ---------------------------------------------------------------------------


def staff_of(user) -> Staff | None:
    return getattr(user, "staff", None) if user is not None and hasattr(user, "staff") else None


def can_manage(user, bank_id: int | None, *, perm: str = MANAGE_PERMISSION) -> bool:
    """Federation staff manage the federation's scorecards; a bank's risk staff its own."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.has_perm(perm):
        return False
    scope = scope_for(user)
    if scope.sees_nothing:
        return False
    if scope.all_banks:
        return bank_id is None
    return bank_id is not None and bank_id == scope.bank_id


def check_can_manage(user, bank_id: int | None, *, perm: str = MANAGE_PERMISSION) -> None:
    if not can_manage(user, bank_id, perm=perm):
        if bank_id is None:
            raise PermissionDenied("只有省联社的模型管理人员可以维护省联社评分卡")
        raise PermissionDenied("只有本行社的风险管理人员可以维护本行社评分卡")


def _lock(scorecard: Scorecard) -> Scorecard:
    ScoringSegment.objects.select_for_update().get(pk=scorecard.segment_id)
    return Scorecard.objects.select_for_update().select_related("segment").get(pk=scorecard.pk)


def _log(scorecard: Scorecard, action: str, before: str, actor: Staff | None, reason="") -> None:
    # Scoring in this process must see the new status at once (and again after commit, in
    # case it looked in between).
    scoring_cache_clear()
    transaction.on_commit(scoring_cache_clear)
    ScorecardStatusChange.objects.create(
        scorecard=scorecard,
        action=action,
        from_status=before,
        to_status=scorecard.status,
        actor=actor,
        reason=reason[:300],
    )


# --- registering a trained result --------------------------------------------------------------


def scorecard_register_from_training(
    *,
    segment: ScoringSegment,
    result,
    source: str,
    trained_by: Staff | None = None,
    bank=None,
    name: str = "",
    grade_cutoffs: list | None = None,
    target_definition: str = "",
) -> Scorecard:
    """Store a ``risk.training.TrainingResult`` as the segment's next draft version.

    The points table becomes ``ScorecardBin`` rows, the fitted model a skops file whose SHA-256
    is kept on the row. Nothing is left behind if any step fails (the file is removed again).
    """
    bank_id = bank.pk if bank is not None else None
    if segment.bank_id is not None and segment.bank_id != bank_id:
        raise ValidationError({"segment": "本行社自定义客群只能登记本行社的评分卡"})
    if source not in Scorecard.Source.values:
        raise ValidationError({"source": f"未知的训练数据来源 {source}"})
    settings = result.settings
    cutoffs = check_grade_cutoffs(
        grade_cutoffs
        or default_grade_cutoffs(
            base_score=settings.base_score, base_odds=settings.base_odds, pdo=settings.pdo
        )
    )
    data = artefact_dumps(result.model)
    digest = sha256(data)
    stored_name = None
    try:
        with transaction.atomic():
            ScoringSegment.objects.select_for_update().get(pk=segment.pk)
            latest = Scorecard.objects.filter(segment=segment, bank_id=bank_id).aggregate(
                latest=Max("version")
            )["latest"]
            version = (latest or 0) + 1
            scorecard = Scorecard(
                segment=segment,
                bank_id=bank_id,
                version=version,
                name=name or f"{segment.name}评分卡",
                source=source,
                base_score=Decimal(str(settings.base_score)),
                base_odds=Decimal(str(settings.base_odds)),
                pdo=Decimal(str(settings.pdo)),
                random_seed=settings.random_seed,
                training_rows=result.rows,
                training_bads=result.bads,
                metrics={
                    **result.metrics,
                    "features": list(result.features),
                    "training": {
                        "test_share": settings.test_share,
                        "min_bin_share": settings.min_bin_share,
                        "max_bins": settings.max_bins,
                        "min_iv": settings.min_iv,
                        "ignored_columns": list(result.ignored_columns),
                    },
                },
                feature_iv=result.feature_iv,
                grade_cutoffs=cutoffs,
                baseline=result.baseline,
                artefact_sha256=digest,
                trained_by=trained_by,
                trained_at=timezone.now(),
            )
            if target_definition:
                scorecard.target_definition = target_definition
            owner = f"bank{bank_id}" if bank_id else "federation"
            scorecard.artefact.save(
                f"{segment.code}-{owner}-v{version}-{digest[:12]}.skops",
                ContentFile(data),
                save=False,
            )
            stored_name = scorecard.artefact.name
            scorecard.save()
            ScorecardBin.objects.bulk_create(
                ScorecardBin(
                    scorecard=scorecard,
                    feature=row.feature,
                    bin_index=row.bin_index,
                    kind=row.kind,
                    label=row.label,
                    lower=row.lower,
                    upper=row.upper,
                    categories=row.categories,
                    count=row.count,
                    event_rate=row.event_rate,
                    woe=row.woe,
                    points=Decimal(str(round(row.points, 4))),
                )
                for row in result.bins
            )
            _log(scorecard, "register", "", trained_by)
    except BaseException:
        if stored_name:
            Scorecard._meta.get_field("artefact").storage.delete(stored_name)
        raise
    return scorecard


@transaction.atomic
def scorecard_set_grade_cutoffs(*, scorecard: Scorecard, cutoffs, actor) -> Scorecard:
    """Change a draft's grade cut-offs (a scorecard in use changes only by a new version)."""
    scorecard = _lock(scorecard)
    check_can_manage(actor, scorecard.bank_id)
    if scorecard.status != Scorecard.Status.DRAFT:
        raise ValidationError({"grade_cutoffs": "只有草稿可以修改评级分数线，已投用的请训练新版本"})
    scorecard.grade_cutoffs = check_grade_cutoffs(cutoffs)
    scorecard.save(update_fields=["grade_cutoffs", "updated_at"])
    return scorecard


# --- lifecycle ---------------------------------------------------------------------------------


@transaction.atomic
def scorecard_submit(
    *, scorecard: Scorecard, actor, shadow_percent: int | None = None, reason: str = ""
) -> Scorecard:
    """Draft → challenger: it starts scoring in shadow beside the champion."""
    scorecard = _lock(scorecard)
    check_can_manage(actor, scorecard.bank_id, perm=PROMOTE_PERMISSION)
    if scorecard.status != Scorecard.Status.DRAFT:
        raise ValidationError(
            {"status": f"只有草稿可以提交为挑战者，当前为{scorecard.get_status_display()}"}
        )
    existing = (
        Scorecard.objects.filter(
            segment_id=scorecard.segment_id,
            bank_id=scorecard.bank_id,
            status=Scorecard.Status.CHALLENGER,
        )
        .exclude(pk=scorecard.pk)
        .first()
    )
    if existing is not None:
        raise ValidationError({"status": f"该客群已有挑战者 {existing}，请先晋级或退役它"})
    if refusal := synthetic_refusal(scorecard):
        raise ValidationError({"source": refusal})
    if shadow_percent is not None:
        if not 1 <= int(shadow_percent) <= 100:
            raise ValidationError({"shadow_percent": "影子评分样本比例应在 1 到 100 之间"})
        scorecard.shadow_percent = int(shadow_percent)
    before = scorecard.status
    scorecard.submit()
    scorecard.submitted_by = staff_of(actor)
    scorecard.submitted_at = timezone.now()
    scorecard.save(
        update_fields=["status", "shadow_percent", "submitted_by", "submitted_at", "updated_at"]
    )
    _log(scorecard, "submit", before, staff_of(actor), reason)
    return scorecard


@transaction.atomic
def scorecard_promote(*, scorecard: Scorecard, actor, reason: str = "") -> Scorecard:
    """Challenger → champion, checked by someone other than its trainer and submitter; the
    champion it replaces is retired in the same transaction."""
    scorecard = _lock(scorecard)
    check_can_manage(actor, scorecard.bank_id, perm=PROMOTE_PERMISSION)
    if scorecard.status != Scorecard.Status.CHALLENGER:
        raise ValidationError(
            {"status": f"只有挑战者可以晋级为冠军，当前为{scorecard.get_status_display()}"}
        )
    if refusal := synthetic_refusal(scorecard):
        raise ValidationError({"source": refusal})
    checker = staff_of(actor)
    if checker is None:
        raise ValidationError({"promoted_by": "晋级复核须由有员工身份的账号操作(双人复核留痕)"})
    if checker.pk in {scorecard.trained_by_id, scorecard.submitted_by_id}:
        raise ValidationError({"promoted_by": "不能复核晋级自己训练或提交的评分卡(双人复核)"})
    now = timezone.now()
    for champion in Scorecard.objects.select_for_update().filter(
        segment_id=scorecard.segment_id,
        bank_id=scorecard.bank_id,
        status=Scorecard.Status.CHAMPION,
    ):
        champion.retire()
        champion.retired_at = now
        champion.save(update_fields=["status", "retired_at", "updated_at"])
        _log(champion, "replace", Scorecard.Status.CHAMPION, checker, f"由 {scorecard} 替换")
    before = scorecard.status
    scorecard.promote()
    scorecard.promoted_by = checker
    scorecard.promoted_at = now
    scorecard.save(update_fields=["status", "promoted_by", "promoted_at", "updated_at"])
    _log(scorecard, "promote", before, checker, reason)
    return scorecard


@transaction.atomic
def scorecard_retire(*, scorecard: Scorecard, actor, reason: str) -> Scorecard:
    """Take a draft, challenger or bank champion out of use, with the reason."""
    scorecard = _lock(scorecard)
    check_can_manage(actor, scorecard.bank_id, perm=PROMOTE_PERMISSION)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "请填写退役原因"})
    if scorecard.status == Scorecard.Status.RETIRED:
        raise ValidationError({"status": "该评分卡已退役"})
    if scorecard.status == Scorecard.Status.CHAMPION and scorecard.bank_id is None:
        raise ValidationError(
            {"status": "省联社冠军模型是各行社的兜底模型，不能直接退役；请晋级新版本替换"}
        )
    before = scorecard.status
    scorecard.retire()
    scorecard.retired_at = timezone.now()
    scorecard.save(update_fields=["status", "retired_at", "updated_at"])
    _log(scorecard, "retire", before, staff_of(actor), reason.strip())
    return scorecard


# --- training runs -----------------------------------------------------------------------------


def _settings_from(overrides: dict) -> TrainingSettings:
    unknown = set(overrides) - SETTING_FIELDS
    if unknown:
        raise TrainingDataError({NON_FIELD_ERRORS: f"未知的训练参数：{', '.join(sorted(unknown))}"})
    settings = TrainingSettings(**overrides)
    settings.check()
    return settings


def scorecard_training_create(
    *,
    segment: ScoringSegment,
    source: str,
    bank=None,
    dataset=None,
    synthetic_rows: int | None = None,
    settings: dict | None = None,
    requested_by: Staff | None = None,
) -> ScorecardTraining:
    """A pending training run, its dataset kept with it (what a model was trained on is part of
    its record). Callers check who may ask; ``scorecard_training_request`` does for users."""
    scorecard_training_check(
        segment=segment,
        source=source,
        bank=bank,
        dataset=dataset,
        synthetic_rows=synthetic_rows,
        settings=settings,
    )
    training = ScorecardTraining(
        segment=segment,
        bank_id=bank.pk if bank is not None else None,
        source=source,
        synthetic_rows=synthetic_rows if source == Scorecard.Source.SYNTHETIC else None,
        settings=settings or {},
        requested_by=requested_by,
    )
    if source == Scorecard.Source.UPLOAD:
        training.dataset.save(getattr(dataset, "name", "dataset.csv"), dataset, save=False)
    training.save()
    return training


def scorecard_training_check(
    *,
    segment: ScoringSegment,
    source: str,
    bank=None,
    dataset=None,
    synthetic_rows: int | None = None,
    settings: dict | None = None,
) -> None:
    """Raise ``ValidationError`` unless such a training run may be queued. Writes nothing and
    checks no permission: the admin form calls it so a refusal shows beside the field, with
    what the user typed kept. (What the data itself holds is checked when the run reads it.)"""
    bank_id = bank.pk if bank is not None else None
    if segment.bank_id is not None and segment.bank_id != bank_id:
        raise ValidationError({"segment": "本行社自定义客群只能训练本行社的评分卡"})
    if source not in Scorecard.Source.values:
        raise ValidationError({"source": f"未知的训练数据来源 {source}"})
    if source == Scorecard.Source.UPLOAD and not dataset:
        raise ValidationError({"dataset": "请上传带目标列的CSV训练数据"})
    if source == Scorecard.Source.SYNTHETIC and not (
        synthetic_rows and 200 <= synthetic_rows <= MAX_SYNTHETIC_ROWS
    ):
        raise ValidationError(
            {"synthetic_rows": f"合成样本数应在 200 到 {MAX_SYNTHETIC_ROWS} 之间"}
        )
    _settings_from(settings or {})


@transaction.atomic
def scorecard_training_request(*, actor, segment: ScoringSegment, source: str, bank=None, **kwargs):
    """A user asks for a training run; ``risk.tasks.train_scorecard`` runs it after commit."""
    from risk.tasks import train_scorecard

    check_can_manage(actor, bank.pk if bank is not None else None)
    training = scorecard_training_create(
        segment=segment, source=source, bank=bank, requested_by=staff_of(actor), **kwargs
    )
    transaction.on_commit(lambda: train_scorecard.delay(training.pk))
    return training


def _progress_of(training_id: int, echo: Callable[[int, str], None] | None):
    def report(percent: int, step: str) -> None:
        ScorecardTraining.objects.filter(pk=training_id).update(
            progress=min(int(percent), 99), step=step[:200]
        )
        if echo is not None:
            echo(percent, step)

    return report


def _training_frame(training: ScorecardTraining, settings):
    from risk.synthetic import SEGMENT_BAD_RATES, generate_history

    if training.source == Scorecard.Source.UPLOAD:
        with training.dataset.open("rb") as handle:
            return read_training_csv(handle)
    if training.source == Scorecard.Source.SYNTHETIC:
        code = training.segment.code if training.segment.code in SEGMENT_BAD_RATES else "farmer"
        return generate_history(
            training.synthetic_rows,
            seed=settings.random_seed,
            segment=code,
            population=settings.synthetic_population,
        ).frame.rename(columns={"bad": settings.target})
    return outcomes_training_frame(
        segment=training.segment, bank=training.bank, target=settings.target
    )


def scorecard_training_run(
    *, training_id: int, echo: Callable[[int, str], None] | None = None
) -> ScorecardTraining:
    """Run a queued training: dataset → trained result → draft scorecard, progress on the row.

    Bad data ends the run as failed with the reason (naming the column) and registers nothing;
    a run that is not pending (already taken by another worker) is left alone.
    """
    taken = ScorecardTraining.objects.filter(
        pk=training_id, status=ScorecardTraining.Status.PENDING
    ).update(status=ScorecardTraining.Status.RUNNING, progress=1, step="读取数据")
    training = ScorecardTraining.objects.select_related("segment", "bank", "requested_by").get(
        pk=training_id
    )
    if not taken:
        return training
    report = _progress_of(training_id, echo)
    try:
        settings = _settings_from(training.settings)
        frame = _training_frame(training, settings)
        result = train_scorecard_model(frame, settings=settings, progress=report)
        report(90, "登记评分卡")
        scorecard = scorecard_register_from_training(
            segment=training.segment,
            result=result,
            source=training.source,
            trained_by=training.requested_by,
            bank=training.bank,
        )
    except (TrainingDataError, ValidationError) as exc:
        _finish(training_id, error=describe_error(exc))
    except Exception as exc:
        _finish(training_id, error=f"训练失败：{type(exc).__name__}: {exc}")
        raise
    else:
        _finish(training_id, scorecard=scorecard)
    training.refresh_from_db()
    return training


def _finish(training_id: int, *, scorecard: Scorecard | None = None, error: str = "") -> None:
    ScorecardTraining.objects.filter(pk=training_id).update(
        status=ScorecardTraining.Status.FAILED if error else ScorecardTraining.Status.DONE,
        progress=100 if scorecard else 0,
        step="完成" if scorecard else "失败",
        error=error,
        scorecard=scorecard,
        finished_at=timezone.now(),
    )
