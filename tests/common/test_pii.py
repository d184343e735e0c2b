"""The column path the import uses writes exactly the bytes the model fields write."""

from __future__ import annotations

import pytest

from common import pii


@pytest.mark.parametrize("purpose", [pii.ID_NUMBER, pii.PHONE])
def test_column_crypto_matches_the_one_value_path(purpose):
    values = ["14100219800101203X", "13912345678", "", None]
    column = pii.ColumnCrypto(purpose)
    hashes = column.hash_hex(values)
    ciphers = column.encrypt_hex(values)
    for value, hashed, cipher in zip(values, hashes, ciphers, strict=True):
        if value is None:
            assert hashed is None
            assert cipher is None
            continue
        assert hashed == "\\x" + pii.blind_index(value, purpose).hex()
        assert cipher == "\\x" + pii.encrypt(value, purpose).hex()
        assert pii.decrypt(bytes.fromhex(cipher[2:]), purpose) == value


def test_a_value_does_not_open_in_another_kind_of_column():
    cipher = pii.encrypt("13912345678", pii.PHONE)
    with pytest.raises(pii.DecryptionError):
        pii.decrypt(cipher, pii.ID_NUMBER)


def test_deterministic_so_an_unchanged_save_records_no_change():
    assert pii.encrypt("13912345678", pii.PHONE) == pii.encrypt("13912345678", pii.PHONE)
    assert pii.blind_index("13912345678", pii.PHONE) != pii.blind_index(
        "13912345678", pii.ID_NUMBER
    )
