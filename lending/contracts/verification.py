"""Checking a contract's proof: the hash chain, each record's RFC 3161 token, the PDF's hash and
the bank's PAdES seal. Read-only; ``manage.py verify_contracts`` and the admin call it.

A problem found in a record names the record (序号 and event); ``first_broken`` is the lowest
such record, the one to look at first: every later record depends on it through the chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lending.contracts.evidence import chain_check
from lending.contracts.models import Contract, ContractStatus, EvidenceKind
from lending.contracts.sealing import seal_check
from lending.contracts.timestamps import TimestampError, timestamp_verify


@dataclass
class Verdict:
    contract: Contract
    records: int = 0
    problems: list[str] = field(default_factory=list)
    first_broken: str | None = None
    _first_sequence: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def broken_record(self, record, reason: str) -> None:
        label = f"第{record.sequence}条记录({record.get_kind_display()})"
        self.problems.append(f"{label}：{reason}")
        if self._first_sequence is None or record.sequence < self._first_sequence:
            self._first_sequence = record.sequence
            self.first_broken = label


def contract_verify(contract: Contract, *, roots=None) -> Verdict:
    from lending.contracts.pki import trusted_roots

    roots = trusted_roots() if roots is None else roots
    verdict = Verdict(contract=contract)
    records = list(contract.evidence.order_by("sequence"))
    verdict.records = len(records)
    if not records:
        verdict.problems.append("没有存证记录")
        return verdict
    broken = chain_check(contract, records)
    if broken is not None:
        record = next(r for r in records if r.sequence == broken.sequence)
        verdict.broken_record(record, broken.reason)
    for record in records:
        if record.tsa_token is None:
            verdict.broken_record(record, "缺少可信时间戳")
            continue
        try:
            timestamp_verify(bytes(record.tsa_token), bytes.fromhex(record.record_hash), roots)
        except (TimestampError, ValueError) as error:
            verdict.broken_record(record, f"时间戳无效：{str(error)[:120]}")
    pdf = bytes(contract.pdf)
    if hashlib.sha256(pdf).hexdigest() != contract.sha256:
        verdict.problems.append("合同PDF与其摘要不符(文件被改动)")
    rendered = records[0]
    if (
        rendered.kind != EvidenceKind.RENDERED
        or rendered.payload.get("document_sha256") != contract.sha256
    ):
        verdict.broken_record(rendered, "首条记录不是本合同的生成记录，或其摘要与合同不符")
    if contract.status == ContractStatus.SIGNED:
        _check_seal(contract, pdf, records, verdict, roots)
    return verdict


def _check_seal(contract, pdf: bytes, records, verdict: Verdict, roots) -> None:
    sealed = bytes(contract.signed_pdf or b"")
    if not sealed:
        verdict.problems.append("已签署合同缺少签章文件")
        return
    if hashlib.sha256(sealed).hexdigest() != contract.signed_sha256:
        verdict.problems.append("签章后PDF与其摘要不符(文件被改动)")
    sealed_records = [r for r in records if r.kind == EvidenceKind.SEALED]
    if not sealed_records:
        verdict.problems.append("存证链中没有银行签章记录")
    elif sealed_records[-1].payload.get("sealed_sha256") != contract.signed_sha256:
        verdict.broken_record(sealed_records[-1], "签章记录中的摘要与签章后PDF不符")
    check = seal_check(sealed_pdf=sealed, original_pdf=pdf, roots=roots)
    if not check.ok:
        verdict.problems.append(f"银行电子签章：{check.reason}")
