"""Helpers of the contract tests: a household whose members have phones, an application with a
co-borrower and a guarantor, submitted and auto-approved, and the code a signer's phone received
(the sandbox SMS outbox)."""

from __future__ import annotations

import uuid

from lending.applications import services as applications
from lending.contracts.demo import latest_code_texted, signature_png
from tests.lending.test_lines import MODEST
from tests.risk.decisions.test_outcomes import _household


def _phone(sequence: int, n: int) -> str:
    return f"139{sequence:04d}{n:04d}"


def household_with_phone(world, sequence: int):
    """A modest household (the strategy approves it) whose head has a phone."""
    from villages.services import member_upsert

    household = _household(world, figures=MODEST, sequence=sequence)
    head = household.head
    member_upsert(
        member_id=head.pk,
        household=household,
        name=head.name,
        id_number=head.id_number,
        relation="head",
        phone=f"139{sequence:04d}0001",
    )
    household.refresh_from_db()
    return household


def approved_application(world, sequence: int, *, with_parties: bool = True):
    """Created on the PAD and auto-approved: the borrower, and with ``with_parties`` a
    co-borrower and a guarantor (heads of two other households)."""
    household = household_with_phone(world, sequence)
    parties = {}
    if with_parties:
        parties = {
            "co_borrowers": [household_with_phone(world, sequence + 1).head],
            "guarantors": [household_with_phone(world, sequence + 2).head],
        }
    application, _ = applications.application_create(
        client_uuid=uuid.uuid4(),
        household=household,
        applicant=household.head,
        product=world["product"],
        amount="20000",
        term_months=12,
        repayment_method="equal_instalment",
        purpose="购买化肥种子",
        channel="pad",
        actor=world["staff"]["b1_am2"].user,
        **parties,
    )
    return applications.application_submit(
        application=application, actor=world["staff"]["b1_am2"].user
    )


def code_for(member) -> str:
    return latest_code_texted(member.phone)


SIGNATURE = signature_png("测试签名")


def sign_all(contract, capture, actor=None, device_id: str = "PAD-7"):
    """Every signer asks for a code (texted on commit) and signs with it; the contract as it ends."""
    from lending.contracts import services

    for signer in contract.signers.select_related("member").order_by("order"):
        with capture(execute=True):
            services.signing_code_request(contract=contract, member=signer.member, actor=actor)
        with capture(execute=True):
            contract = services.contract_sign(
                contract=contract,
                member=signer.member,
                code=code_for(signer.member),
                signature=SIGNATURE,
                device_id=device_id,
                document_sha256=contract.sha256,
                actor=actor,
            )
    return contract
