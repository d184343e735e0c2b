"""The proof of a contract: the hash chain, the bank's PAdES seal and each RFC 3161 timestamp
each notice one changed byte; ``verify_contracts`` names the first broken record and fails; the
evidence report lists the events with their hashes."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from lending.contracts import services
from lending.contracts.evidence import chain_check
from lending.contracts.models import Contract, ContractStatus, EvidenceKind, EvidenceRecord
from lending.contracts.report import evidence_report_pdf
from lending.contracts.sealing import seal_check
from lending.contracts.timestamps import TimestampError, timestamp_verify
from lending.contracts.verification import contract_verify
from tests.lending.contract_setup import approved_application, sign_all


@pytest.fixture
def signed(world, local_flow, django_capture_on_commit_callbacks):
    application = approved_application(world, 1000)
    actor = world["staff"]["b1_am2"].user
    with django_capture_on_commit_callbacks(execute=True):
        contract = services.contract_render(application=application, actor=actor)
    sign_all(contract, django_capture_on_commit_callbacks, actor)
    contract = Contract.objects.get(pk=contract.pk)
    assert contract.status == ContractStatus.SIGNED
    assert not contract.evidence.filter(tsa_token__isnull=True).exists()
    return contract


def _flip(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def test_a_signed_contract_verifies(signed):
    kinds = list(signed.evidence.values_list("kind", flat=True))
    assert kinds[0] == EvidenceKind.RENDERED
    assert kinds[-1] == EvidenceKind.SEALED
    assert kinds.count(EvidenceKind.SIGNED) == 3
    verdict = contract_verify(signed)
    assert verdict.ok, verdict.problems
    assert bytes(signed.signed_pdf).startswith(bytes(signed.pdf))


def test_the_chain_notices_a_changed_byte(signed):
    record = signed.evidence.get(sequence=3)
    payload = dict(record.payload)
    payload["device_id"] = payload.get("device_id", "") + "x" if "device_id" in payload else "x"
    EvidenceRecord.objects.filter(pk=record.pk).update(payload=payload)
    broken = chain_check(signed)
    assert broken.sequence == 3
    assert "改动" in broken.reason
    verdict = contract_verify(signed)
    assert verdict.first_broken.startswith("第3条记录")


def test_the_seal_notices_a_changed_byte(signed):
    original, sealed = bytes(signed.pdf), bytes(signed.signed_pdf)
    assert seal_check(sealed_pdf=sealed, original_pdf=original).ok
    inside_the_original = _flip(sealed, len(original) // 2)
    assert not seal_check(sealed_pdf=inside_the_original, original_pdf=original).ok
    doctored_original = _flip(original, len(original) // 2)
    refused = seal_check(
        sealed_pdf=_flip(sealed, len(original) // 2), original_pdf=doctored_original
    )
    assert not refused.ok
    assert "改动" in refused.reason
    appended = sealed + b"\n%tail\n"
    assert not seal_check(sealed_pdf=appended, original_pdf=original).ok


def test_the_timestamp_notices_a_changed_byte(signed):
    record = signed.evidence.get(sequence=1)
    token, digest = bytes(record.tsa_token), bytes.fromhex(record.record_hash)
    assert timestamp_verify(token, digest) == record.tsa_time
    with pytest.raises(TimestampError):
        timestamp_verify(token, _flip(digest, 0))
    with pytest.raises(TimestampError):
        timestamp_verify(_flip(token, len(token) - 20), digest)  # inside the TSA's signature


def test_verify_contracts_names_the_first_broken_record(signed, capsys):
    call_command("verify_contracts")
    assert "通过 1 份，有问题 0 份" in capsys.readouterr().out
    EvidenceRecord.objects.filter(contract=signed, sequence=2).update(prev_hash="f" * 64)
    Contract.objects.filter(pk=signed.pk).update(signed_pdf=_flip(bytes(signed.signed_pdf), 200))
    with pytest.raises(CommandError):
        call_command("verify_contracts", "--contract", signed.number)
    out = capsys.readouterr().out
    assert f"✗ {signed.number}" in out
    assert "首个问题记录：第2条记录(发送签署验证码)" in out
    assert "签章" in out


def test_the_evidence_report_lists_events_hashes_and_times(signed):
    reader = PdfReader(io.BytesIO(evidence_report_pdf(signed)))
    text = "".join(page.extract_text() for page in reader.pages).replace("\n", "")
    assert "电子合同存证报告" in text
    assert signed.number in text
    for record in signed.evidence.all():
        assert record.record_hash in text
    assert "通过：存证链完整" in text
    borrower = signed.application.applicant
    assert borrower.id_number not in text  # masked, as the report is shown around
    assert hashlib.sha256(bytes(signed.pdf)).hexdigest() in text
