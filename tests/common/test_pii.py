"""Encryption at rest: the column path the import uses writes exactly the bytes the model fields
write; canonical ID numbers and mobiles are packed into one AES block, anything else takes
AES-SIV; a value opens only in its own kind of column and a tampered one not at all."""

from __future__ import annotations

import pytest

from common import pii

MIXED = [
    "14100219800101203X",
    "141002198001012034",
    "13912345678",
    "0357-2123456",  # a landline: not canonical for either purpose
    "14100219800101203x",  # lower-case x is not the canonical form: general path
    "１３９１２３４５６７８",  # full-width digits, 11 characters of non-ASCII
    "",
    None,
]


@pytest.mark.parametrize("purpose", [pii.ID_NUMBER, pii.PHONE])
def test_column_crypto_matches_the_one_value_path(purpose):
    column = pii.ColumnCrypto(purpose)
    hashes = column.hash_hex(MIXED)
    ciphers = column.encrypt_hex(MIXED)
    for value, hashed, cipher in zip(MIXED, hashes, ciphers, strict=True):
        if value is None:
            assert hashed is None
            assert cipher is None
            continue
        assert hashed == "\\x" + pii.blind_index(value, purpose).hex()
        assert cipher == "\\x" + pii.encrypt(value, purpose).hex()
        assert pii.decrypt(bytes.fromhex(cipher[2:]), purpose) == value


def test_a_column_of_odd_lengths_is_not_read_as_one_of_canonical_ones():
    # 17 + 19 characters make two 18-character values' worth of text.
    values = ["1" * 17, "1" * 19]
    column = pii.ColumnCrypto(pii.ID_NUMBER)
    ciphers = column.encrypt_hex(values)
    assert ciphers == ["\\x" + pii.encrypt(v, pii.ID_NUMBER).hex() for v in values]
    for value, cipher in zip(values, ciphers, strict=True):
        assert pii.decrypt(bytes.fromhex(cipher[2:]), pii.ID_NUMBER) == value


@pytest.mark.parametrize(
    ("value", "purpose", "packed"),
    [
        ("14100219800101203X", pii.ID_NUMBER, True),
        ("000000000000000000", pii.ID_NUMBER, True),
        ("99999999999999999X", pii.ID_NUMBER, True),
        ("13912345678", pii.PHONE, True),
        ("19999999999", pii.PHONE, True),
        ("23912345678", pii.PHONE, False),  # no mobile starts with 2
        ("0357-2123456", pii.PHONE, False),
        ("1410021980010120", pii.ID_NUMBER, False),
    ],
)
def test_canonical_values_are_one_block_and_open_again(value, purpose, packed):
    cipher = pii.encrypt(value, purpose)
    assert (len(cipher) == pii.PACKED_BYTES) is packed
    assert value.encode() not in cipher
    assert pii.decrypt(cipher, purpose) == value
    assert len(pii.blind_index(value, purpose)) == pii.HASH_BYTES


def test_a_value_does_not_open_in_another_kind_of_column():
    for value, purpose, other in (
        ("13912345678", pii.PHONE, pii.ID_NUMBER),
        ("14100219800101203X", pii.ID_NUMBER, pii.PHONE),
        ("0357-2123456", pii.PHONE, pii.ID_NUMBER),
    ):
        with pytest.raises(pii.DecryptionError):
            pii.decrypt(pii.encrypt(value, purpose), other)


@pytest.mark.parametrize("value", ["14100219800101203X", "0357-2123456"])
def test_a_tampered_ciphertext_is_refused(value):
    cipher = bytearray(pii.encrypt(value, pii.ID_NUMBER))
    cipher[5] ^= 0x01
    with pytest.raises(pii.DecryptionError):
        pii.decrypt(bytes(cipher), pii.ID_NUMBER)


def test_deterministic_so_an_unchanged_save_records_no_change():
    assert pii.encrypt("13912345678", pii.PHONE) == pii.encrypt("13912345678", pii.PHONE)
    assert pii.blind_index("13912345678", pii.PHONE) != pii.blind_index(
        "13912345678", pii.ID_NUMBER
    )
    # The lookup hash is not the ciphertext's block: two keys, two blocks.
    assert pii.blind_index("13912345678", pii.PHONE) != pii.encrypt("13912345678", pii.PHONE)[1:]


def test_a_sealed_file_opens_only_for_its_purpose():
    sealed = pii.seal(b"141002198001012034,13912345678\n", pii.STAGED_IMPORT)
    assert b"141002198001012034" not in sealed
    assert pii.unseal(sealed, pii.STAGED_IMPORT) == b"141002198001012034,13912345678\n"
    with pytest.raises(pii.DecryptionError):
        pii.unseal(sealed, "another purpose")


@pytest.mark.parametrize("purpose", [pii.ID_NUMBER, pii.PHONE])
def test_the_blocks_of_a_column_are_the_bytes_of_each_value(purpose):
    column = pii.ColumnCrypto(purpose)
    ciphers, lengths = column.ciphertext_blocks(MIXED)
    hashes, present = column.hash_blocks(MIXED)
    for i, value in enumerate(MIXED):
        assert bytes(ciphers[i, : lengths[i]]) == pii.encrypt(value, purpose)
        assert not ciphers[i, lengths[i] :].any(), "a shorter ciphertext is padded with zeros"
        assert (bytes(hashes[i]) if present[i] else b"") == pii.blind_index(value, purpose)
    # The landline takes AES-SIV, longer than one block: the matrix is as wide as it.
    assert ciphers.shape[1] > pii.PACKED_BYTES
    assert lengths.tolist().count(pii.PACKED_BYTES) >= 1
