import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from common.audit import audit_context
from products.services import lpr_import_rows


class Command(BaseCommand):
    help = "Load LPR publications from a CSV shaped like data/lpr.csv (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        with path.open(newline="", encoding="utf-8") as handle, audit_context(command="load_lpr"):
            try:
                created = lpr_import_rows(rows=csv.DictReader(handle))
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"LPR: {created} new publication(s) loaded."))
