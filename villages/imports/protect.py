"""What the import keeps of ID numbers and phones between the check and the confirmation, and how
it turns them into the stored columns (``common.pii``).

- The staged rows (``staging``) carry only keyed hashes of ID numbers and phones — what the
  joins and the lookup of existing members need — as bytes in a binary COPY file (the
  archives' CSV as ``bytea`` text).
- The numbers themselves (ID number and phone of each member row, phone of each household row)
  go into a second file, ``{sheet}.secrets``, sealed whole with AES-GCM (``pii.seal``): no staged
  file holds a plain ID number or phone.
- Their ciphertexts are computed when the import is confirmed (:class:`SecretColumns`), a column
  at a time, and only for the rows that are written with a new value: new members and
  households, and those whose phone changed (by its hash). A file imported again unchanged
  decrypts and encrypts nothing.

Measured on 350,000 members: the ID numbers' hashes and ciphertexts and the phones' hashes and
ciphertexts, column by column, about 0.3 s together; value by value (AES-SIV and BLAKE2b, before
``common.pii`` packed canonical values into one AES block) they took 3.5 s and made the
100,000-household import 25 % slower.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress

import numpy as np

from common import pii
from villages.imports.binary_copy import binary_copy, bytea, int4

# The sealed secrets of a staged sheet: its row numbers, then these columns, each column one
# line per row (ID numbers and phones never hold a line break), columns apart by NUL — split and
# joined a whole column at a time.
SECRET_COLUMNS = {"households": ("phone",), "members": ("id_number", "phone")}


class StagedCrypto:
    """Keyed hashes of the file's ID numbers, each distinct number hashed once however many
    sheets name it (one AES call for all of them, ``common.pii``), for the lookup of existing
    members and the staged rows; and the phones' hashes."""

    def __init__(self, numbers: Iterable[str]) -> None:
        self.ids = pii.ColumnCrypto(pii.ID_NUMBER)
        self.phones = pii.ColumnCrypto(pii.PHONE)
        self.numbers = list(numbers)  # every ID number of the file, once
        self.hashes, _ = self.ids.hash_blocks(self.numbers)  # row i: hash of numbers[i]
        self._position: dict[str, int] | None = None

    def id_hash_blocks(self, numbers: list[str]) -> np.ndarray:
        """The hash of each of ``numbers`` (all among ``self.numbers``), a row each."""
        if self._position is None:
            self._position = dict(zip(self.numbers, range(len(self.numbers)), strict=True))
        positions = np.fromiter(map(self._position.__getitem__, numbers), np.intp, len(numbers))
        return self.hashes[positions]

    def id_hash_texts(self, numbers: list[str]) -> list[str]:
        """The same as COPY-ready ``bytea`` text."""
        return pii.bytea_texts(self.id_hash_blocks(numbers))

    def phone_hash_blocks(self, phones: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each phone's hash, a row each, and its length (0 for no phone)."""
        matrix, present = self.phones.hash_blocks(phones)
        return matrix, present * pii.HASH_BYTES


def secrets_text(row_numbers: list[str], columns: list[list]) -> bytes:
    """The sealed file of one sheet's secrets."""
    text = "\0".join(_lines(column) for column in [row_numbers, *columns])
    return pii.seal(text.encode(), pii.STAGED_IMPORT)


def _lines(column: list) -> str:
    try:
        return "\n".join(column)
    except TypeError:  # an empty cell read as None
        return "\n".join(value or "" for value in column)


class SecretColumns:
    """The ciphertexts of the sealed secrets of each sheet, for the rows that need them: binary
    COPY files (``binary_copy``) of households ``(row_no, phone)`` and members ``(row_no,
    id_number, phone)`` — the ciphertexts go as bytes, not as hex text to be parsed again."""

    def __init__(self, sealed: dict[str, bytes]) -> None:
        self._plain = {
            code: pii.unseal(blob, pii.STAGED_IMPORT).decode().split("\0")
            for code, blob in sealed.items()
        }

    def rows(self, code: str) -> int:
        columns = self._plain.get(code)
        return columns[0].count("\n") + 1 if columns and columns[0] else 0

    def copy(self, code: str, row_numbers: set[int] | None) -> bytes | None:
        """The rows ``row_numbers`` (all with None) of sheet ``code``."""
        columns = self._plain.get(code)
        if columns is None or not columns[0] or (row_numbers is not None and not row_numbers):
            return None
        numbers, *values = columns
        numbers = np.array(numbers.split("\n")).astype(np.int64)
        values = [column.split("\n") for column in values]
        if row_numbers is not None and len(row_numbers) < len(numbers):
            keep = np.isin(numbers, np.fromiter(row_numbers, dtype=np.int64)).tolist()
            numbers = numbers[np.asarray(keep)]
            values = [list(compress(column, keep)) for column in values]
        crypto = {name: pii.ColumnCrypto(name) for name in (pii.ID_NUMBER, pii.PHONE)}
        ciphers = [
            bytea(*crypto[name].ciphertext_blocks(column))
            for name, column in zip(SECRET_COLUMNS[code], values, strict=True)
        ]
        return binary_copy([int4(numbers), *ciphers])
