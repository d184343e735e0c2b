"""Model files: skops with an explicit trusted list and a recorded digest; never pickle."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import skops.io as sio

from risk.artefacts import (
    TRUSTED_TYPES,
    ArtefactCorrupt,
    ArtefactTampered,
    ArtefactUntrusted,
    artefact_dumps,
    artefact_load,
    artefact_loads,
    sha256,
)
from tests.risk.model_setup import trained


class Payload:
    """A type nobody trusted: a doctored file could carry anything like it."""

    def __init__(self):
        self.command = "rm -rf /"


@pytest.fixture(scope="module")
def data():
    return artefact_dumps(trained()[1].model)


def test_file_is_a_skops_zip_listing_only_trusted_types(data):
    assert zipfile.is_zipfile(__import__("io").BytesIO(data))
    assert not data.startswith(b"\x80")  # not a pickle stream
    assert set(sio.get_untrusted_types(data=data)) <= set(TRUSTED_TYPES)


def test_round_trip_scores_like_the_fitted_model(data):
    _, result = trained()
    model = artefact_loads(data, expected_sha256=sha256(data))
    assert np.array_equal(model.score(result.X_test), result.model.score(result.X_test))
    assert np.allclose(
        model.predict_proba(result.X_test), result.model.predict_proba(result.X_test)
    )


def test_changed_byte_is_refused_before_loading(data):
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0xFF
    with pytest.raises(ArtefactTampered, match="篡改"):
        artefact_loads(bytes(tampered), expected_sha256=sha256(data))


def test_untrusted_type_is_refused_even_with_a_matching_digest():
    evil = sio.dumps({"format": 1, "payload": Payload()})
    with pytest.raises(ArtefactUntrusted, match="未经信任"):
        artefact_loads(evil, expected_sha256=sha256(evil))


def test_garbage_and_foreign_files_are_refused():
    with pytest.raises(ArtefactCorrupt):
        artefact_loads(b"definitely not a model")
    foreign = sio.dumps({"format": 1, "weights": np.zeros(3)})
    with pytest.raises(ArtefactCorrupt, match="格式不符"):
        artefact_loads(foreign)


def test_registered_artefact_loads_and_a_swapped_file_does_not(db, register):
    scorecard = register()
    _, result = trained()
    model = artefact_load(scorecard)
    assert np.array_equal(model.score(result.X_test), result.model.score(result.X_test))

    path = scorecard.artefact.path
    with open(path, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ArtefactTampered):
        artefact_load(scorecard)

    scorecard.artefact_sha256 = ""
    with pytest.raises(ArtefactTampered, match="没有登记"):
        artefact_load(scorecard)
