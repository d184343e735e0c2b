"""Decrypting a whole column gives what decrypting each value gives, and refuses tampering."""

from __future__ import annotations

import pytest

from common import pii


def test_a_column_decrypts_as_each_value_does():
    values = ["141002198103152033", "11010519491231002X", "", "护照E1234567", "141002198103152033"]
    blobs = [pii.encrypt(v, pii.ID_NUMBER) for v in values]
    assert pii.decrypt_column(blobs, pii.ID_NUMBER) == [
        pii.decrypt(b, pii.ID_NUMBER) for b in blobs
    ]
    assert pii.decrypt_column(blobs, pii.ID_NUMBER) == values


def test_a_value_of_another_column_does_not_open():
    phone = pii.encrypt("13912345678", pii.PHONE)
    with pytest.raises(pii.DecryptionError):
        pii.decrypt_column([phone], pii.ID_NUMBER)
