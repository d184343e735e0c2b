"""The evidence chain: how a record is hashed, appended and checked.

A record's hash is SHA-256 over its canonical serialisation: JSON with sorted keys, no spaces,
non-ASCII kept as UTF-8, of ``{"contract", "sequence", "kind", "at", "payload", "prev_hash"}``
(``at`` in UTC ISO 8601 to the microsecond). Anyone holding the rows can recompute it with any JSON
library; nothing in it depends on this code. Payloads hold digests and masked identities, never
a full ID number or phone, so the chain can be shown to anyone the contract can.

Appending takes the contract row's lock first (``select_for_update``), so two signatures at the
same moment get consecutive sequence numbers and the second names the first's hash. Timestamps are
added after commit (``evidence_timestamp_pending``): the TSA is an outside service and is never
called while the contract row is locked.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.utils import timezone

from lending.contracts.models import Contract, EvidenceRecord

GENESIS = "0" * 64


def canonical_bytes(
    *, contract_number: str, sequence: int, kind: str, at, payload: dict, prev_hash: str
) -> bytes:
    document = {
        "contract": contract_number,
        "sequence": sequence,
        "kind": kind,
        "at": at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_digest(record: EvidenceRecord, contract_number: str) -> str:
    return hashlib.sha256(
        canonical_bytes(
            contract_number=contract_number,
            sequence=record.sequence,
            kind=record.kind,
            at=record.at,
            payload=record.payload,
            prev_hash=record.prev_hash,
        )
    ).hexdigest()


def evidence_append(
    *, contract: Contract, kind: str, payload: dict, signer=None, at=None
) -> EvidenceRecord:
    """Append one record to ``contract``'s chain. The caller holds the contract's row lock (every
    service that appends locks the contract first) and is inside a transaction."""
    last = EvidenceRecord.objects.filter(contract=contract).order_by("-sequence").first()
    record = EvidenceRecord(
        contract=contract,
        sequence=(last.sequence + 1) if last else 1,
        kind=kind,
        signer=signer,
        # Stored as the database keeps it (microseconds), so the hash recomputes identically.
        at=(at or timezone.now()).replace(tzinfo=timezone.UTC)
        if (at or timezone.now()).tzinfo is None
        else (at or timezone.now()),
        payload=json.loads(json.dumps(payload, ensure_ascii=False)),
        prev_hash=last.record_hash if last else GENESIS,
    )
    record.record_hash = record_digest(record, contract.number)
    record.save()
    return record


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    reason: str


def chain_check(
    contract: Contract, records: list[EvidenceRecord] | None = None
) -> ChainBreak | None:
    """The first record whose hash or link does not hold, or ``None`` when the chain is whole."""
    records = records if records is not None else list(contract.evidence.order_by("sequence"))
    previous = GENESIS
    for expected, record in enumerate(records, start=1):
        if record.sequence != expected:
            return ChainBreak(record.sequence, f"序号不连续：应为第{expected}条")
        if record.prev_hash != previous:
            return ChainBreak(record.sequence, "上一条摘要与前一条记录不符(链条断开)")
        if record_digest(record, contract.number) != record.record_hash:
            return ChainBreak(record.sequence, "记录内容与其摘要不符(记录被改动)")
        previous = record.record_hash
    return None
