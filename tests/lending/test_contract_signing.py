"""Signing: a code texted to the signer's phone, a wrong one counted and the fifth locking signing
for 30 minutes, expired and reused codes refused, and a re-render superseding the old render so
that nothing aimed at the old one (its id, its hash, its codes) can sign."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from common.models import SandboxSmsMessage
from lending.contracts import services
from lending.contracts.models import ContractSigner, ContractStatus, EvidenceKind
from tests.lending.contract_setup import SIGNATURE, approved_application, code_for


@pytest.fixture
def contract(world, local_flow, django_capture_on_commit_callbacks):
    application = approved_application(world, 990, with_parties=False)
    with django_capture_on_commit_callbacks(execute=True):
        return services.contract_render(
            application=application, actor=world["staff"]["b1_am2"].user
        )


def _request(contract, member, capture):
    with capture(execute=True):
        return services.signing_code_request(contract=contract, member=member)


def _sign(contract, member, code, **overrides):
    fields = {
        "contract": contract,
        "member": member,
        "code": code,
        "signature": SIGNATURE,
        "device_id": "PAD-7",
        "document_sha256": contract.sha256,
        **overrides,
    }
    return services.contract_sign(**fields)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_is_texted_and_a_wrong_one_counts(contract, django_capture_on_commit_callbacks):
    borrower = contract.application.applicant
    _request(contract, borrower, django_capture_on_commit_callbacks)
    message = SandboxSmsMessage.objects.get()
    assert contract.number in message.text
    code = code_for(borrower)
    assert code
    assert len(code) == 6
    assert code not in str(list(contract.signers.get().codes.values()))  # only its hash is kept

    with pytest.raises(ValidationError) as wrong:
        _sign(contract, borrower, _wrong(code))
    assert wrong.value.message_dict["code"] == ["验证码错误，还可尝试4次"]
    signer = contract.signers.get()
    assert (signer.status, signer.failed_attempts) == (ContractSigner.Status.PENDING, 1)
    assert not contract.evidence.filter(kind=EvidenceKind.SIGNED).exists()


def test_five_wrong_codes_lock_signing_for_thirty_minutes(
    contract, django_capture_on_commit_callbacks
):
    borrower = contract.application.applicant
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _request(contract, borrower, django_capture_on_commit_callbacks)
        code = code_for(borrower)
        for _ in range(4):
            with pytest.raises(ValidationError):
                _sign(contract, borrower, _wrong(code))
        with pytest.raises(ValidationError) as locked:
            _sign(contract, borrower, _wrong(code))
        until = timezone.localtime(start + datetime.timedelta(minutes=30))
        assert (
            f"锁定至 {until:%Y-%m-%d %H:%M:%S}（北京时间）" in locked.value.message_dict["code"][0]
        )
        # Locked: even the right code, and a new code, are refused until the time has passed.
        with pytest.raises(ValidationError) as still:
            _sign(contract, borrower, code)
        assert "锁定" in still.value.message_dict["code"][0]
        with pytest.raises(ValidationError):
            services.signing_code_request(contract=contract, member=borrower)
    with time_machine.travel(start + datetime.timedelta(minutes=31), tick=False):
        _request(contract, borrower, django_capture_on_commit_callbacks)
        signed = _sign(contract, borrower, code_for(borrower))
    assert signed.status == ContractStatus.SIGNED


def test_expired_and_reused_codes_are_refused(contract, django_capture_on_commit_callbacks):
    borrower = contract.application.applicant
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _request(contract, borrower, django_capture_on_commit_callbacks)
        code = code_for(borrower)
    with time_machine.travel(start + datetime.timedelta(minutes=6), tick=False):
        with pytest.raises(ValidationError) as expired:
            _sign(contract, borrower, code)
        assert expired.value.message_dict["code"] == ["验证码已过期，请重新获取"]
        _request(contract, borrower, django_capture_on_commit_callbacks)
        fresh = code_for(borrower)
        with django_capture_on_commit_callbacks(execute=True):
            _sign(contract, borrower, fresh)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.SIGNED
    with pytest.raises(ValidationError) as reused:
        _sign(contract, borrower, fresh)
    assert "contract" in reused.value.message_dict  # signed already: nothing left to sign


def test_a_reused_code_is_refused_while_others_still_sign(
    world, local_flow, django_capture_on_commit_callbacks
):
    application = approved_application(world, 993)
    with django_capture_on_commit_callbacks(execute=True):
        contract = services.contract_render(application=application)
    borrower = application.applicant
    _request(contract, borrower, django_capture_on_commit_callbacks)
    code = code_for(borrower)
    _sign(contract, borrower, code)
    signer = contract.signers.get(member=borrower)
    assert signer.status == ContractSigner.Status.SIGNED
    with pytest.raises(ValidationError) as again:
        _sign(contract, borrower, code)
    assert "已签署" in again.value.message_dict["member"][0]
    other = contract.signers.exclude(member=borrower).first().member
    _request(contract, other, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as borrowed:
        _sign(contract, other, code)  # the borrower's spent code is not the co-borrower's
    assert "code" in borrowed.value.message_dict


def test_a_re_render_supersedes_and_the_old_render_cannot_sign(
    contract, django_capture_on_commit_callbacks
):
    # A resent render request returns the waiting contract; only an explicit re-render replaces it.
    assert services.contract_render(application=contract.application).pk == contract.pk
    borrower = contract.application.applicant
    _request(contract, borrower, django_capture_on_commit_callbacks)
    old_code = code_for(borrower)
    with django_capture_on_commit_callbacks(execute=True):
        newer = services.contract_render(application=contract.application, rerender=True)
    contract.refresh_from_db()
    assert (contract.status, contract.superseded_by_id) == (ContractStatus.VOID, newer.pk)
    assert newer.number.endswith("-2")
    assert newer.is_latest
    assert contract.evidence.last().kind == EvidenceKind.SUPERSEDED
    assert newer.evidence.first().payload["supersedes"]["number"] == contract.number

    with pytest.raises(ValidationError) as old_id:
        _sign(contract, borrower, old_code)
    assert "已作废" in old_id.value.message_dict["contract"][0]
    with pytest.raises(ValidationError) as old_hash:
        _sign(newer, borrower, old_code, document_sha256=contract.sha256)
    assert "document_sha256" in old_hash.value.message_dict
    with pytest.raises(ValidationError) as old_code_on_new:
        _sign(newer, borrower, old_code)  # the code was bound to the old render's hash
    assert "code" in old_code_on_new.value.message_dict
    assert not newer.signers.filter(status=ContractSigner.Status.SIGNED).exists()


def test_bad_signing_input_names_the_field_and_changes_nothing(
    contract, django_capture_on_commit_callbacks
):
    borrower = contract.application.applicant
    _request(contract, borrower, django_capture_on_commit_callbacks)
    code = code_for(borrower)
    records = contract.evidence.count()
    for overrides, field in [
        ({"signature": b"not an image"}, "signature"),
        ({"signature": "%%%"}, "signature"),
        ({"device_id": "  "}, "device_id"),
        ({"code": "12ab"}, "code"),
        ({"document_sha256": "0" * 64}, "document_sha256"),
    ]:
        with pytest.raises(ValidationError) as refused:
            _sign(contract, borrower, **{"code": code, **overrides})
        assert field in refused.value.message_dict, overrides
    signer = contract.signers.get()
    assert (signer.status, signer.failed_attempts) == (ContractSigner.Status.PENDING, 0)
    assert contract.evidence.count() == records
    stranger = contract.application.household.members.exclude(pk=borrower.pk).first()
    with pytest.raises(ValidationError) as not_a_party:
        services.signing_code_request(contract=contract, member=stranger)
    assert "member" in not_a_party.value.message_dict
