"""``manage.py train_scorecard --segment farmer (--csv PATH | --synthetic N | --database)``."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from common.audit import audit_context
from common.errors import describe_error
from org.models import Institution, Staff
from risk.models import Scorecard, ScoringSegment
from risk.registry import scorecard_training_create, scorecard_training_run


class Command(BaseCommand):
    help = "Train a scorecard for a segment and register it as a draft version (训练评分卡)."

    def add_arguments(self, parser):
        parser.add_argument("--segment", required=True, help="segment code, e.g. farmer")
        parser.add_argument("--bank", help="bank code for a bank's own model (default: federation)")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", help="CSV with feature columns and a 0/1 target column")
        source.add_argument("--synthetic", type=int, metavar="N", help="N synthetic households")
        source.add_argument("--database", action="store_true", help="matured loan outcomes")
        parser.add_argument("--target", default="bad", help="target column (1 = bad)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--base-score", type=float, default=600)
        parser.add_argument("--base-odds", type=float, default=50)
        parser.add_argument("--pdo", type=float, default=20)
        parser.add_argument("--test-share", type=float, default=0.3)
        parser.add_argument("--trained-by", help="username of the staff member training it")

    def handle(self, *args, **options):
        bank = None
        if options["bank"]:
            bank = Institution.objects.filter(code=options["bank"]).first()
            if bank is None:
                raise CommandError(f"bank {options['bank']} does not exist")
        segment = (
            ScoringSegment.objects.filter(code=options["segment"], bank=bank).first()
            or ScoringSegment.objects.filter(code=options["segment"], bank=None).first()
        )
        if segment is None:
            raise CommandError(f"segment {options['segment']} does not exist")
        trained_by = None
        if options["trained_by"]:
            trained_by = Staff.objects.filter(user__username=options["trained_by"]).first()
            if trained_by is None:
                raise CommandError(f"staff {options['trained_by']} does not exist")
        settings = {
            "target": options["target"],
            "random_seed": options["seed"],
            "base_score": options["base_score"],
            "base_odds": options["base_odds"],
            "pdo": options["pdo"],
            "test_share": options["test_share"],
        }
        if options["csv"]:
            path = Path(options["csv"])
            if not path.is_file():
                raise CommandError(f"{path} is not a file")
            source, dataset = Scorecard.Source.UPLOAD, File(path.open("rb"), name=path.name)
        elif options["synthetic"] is not None:
            source, dataset = Scorecard.Source.SYNTHETIC, None
        else:
            source, dataset = Scorecard.Source.DATABASE, None

        def echo(percent: int, step: str) -> None:
            if options["verbosity"] > 0:
                self.stdout.write(f"[{percent:3d}%] {step}")

        with audit_context(command="train_scorecard"):
            try:
                training = scorecard_training_create(
                    segment=segment,
                    source=source,
                    bank=bank,
                    dataset=dataset,
                    synthetic_rows=options["synthetic"],
                    settings=settings,
                    requested_by=trained_by,
                )
            except ValidationError as exc:
                raise CommandError(describe_error(exc)) from exc
            finally:
                if dataset is not None:
                    dataset.close()
            training = scorecard_training_run(training_id=training.pk, echo=echo)
        if training.status != training.Status.DONE:
            raise CommandError(f"训练失败 (training failed): {training.error}")
        scorecard = training.scorecard
        test = scorecard.metrics["test"]
        self.stdout.write(
            self.style.SUCCESS(
                f"已登记 {scorecard}（草稿, id={scorecard.pk}）: "
                f"test AUC {test['auc']:.3f}, KS {test['ks']:.3f}, Gini {test['gini']:.3f}; "
                f"{len(scorecard.metrics['features'])} features"
            )
        )
