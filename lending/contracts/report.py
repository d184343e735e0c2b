"""The evidence report (证据报告) of one contract, as a court asks for it: the contract's hashes,
who signed and when (Beijing time, identities masked), every record of the chain with its hash,
the previous record's hash and the trusted time, and the result of checking them all now."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.utils import timezone

from common.clock import local_text
from common.masking import mask_id_number, mask_phone
from lending.contracts import rendering
from lending.contracts.models import Contract
from lending.contracts.verification import contract_verify

REPORT_TEMPLATE = Path(__file__).with_name("report_template.html")
REPORT_CSS = (
    "<style>.hash { font-family: monospace; font-size: 7.5pt; word-break: break-all; }</style>"
)


def evidence_report_pdf(contract: Contract) -> bytes:
    verdict = contract_verify(contract)
    signers = contract.signers.select_related("member").order_by("order")
    records = contract.evidence.select_related("signer__member").order_by("sequence")
    terms = {
        "generated_at": local_text(timezone.now()),
        "verdict": "通过：存证链完整，时间戳与签章有效"
        if verdict.ok
        else "未通过：" + "；".join(verdict.problems),
        "contract": {
            "number": contract.number,
            "title": contract.template.title,
            "template": f"{contract.template.code} 第{contract.template.version}版",
            "bank": contract.bank.name,
            "status": contract.get_status_display(),
            "rendered_at": local_text(contract.rendered_at),
            "sha256": contract.sha256,
            "signed_sha256": contract.signed_sha256,
            "sealed_at": local_text(contract.sealed_at) if contract.sealed_at else "",
        },
        "signers": [
            {
                "role": s.get_role_display(),
                "name": s.member.name,
                "id_number": mask_id_number(s.member.id_number),
                "phone": mask_phone(s.member.phone),
                "signed_at": local_text(s.signed_at),
                "device_id": s.device_id or "—",
                "signature_sha256": s.signature_sha256,
            }
            for s in signers
        ],
        "records": [
            {
                "sequence": r.sequence,
                "kind": r.get_kind_display(),
                "who": f"{r.signer.get_role_display()} {r.signer.member.name}" if r.signer else "",
                "at": local_text(r.at),
                "tsa_time": local_text(r.tsa_time),
                "prev_hash": r.prev_hash,
                "record_hash": r.record_hash,
                "token_sha256": hashlib.sha256(bytes(r.tsa_token)).hexdigest()
                if r.tsa_token
                else "—",
            }
            for r in records
        ],
    }
    body = REPORT_CSS + rendering.render_body(REPORT_TEMPLATE.read_text(encoding="utf-8"), terms)
    return rendering.html_to_pdf(rendering.document_html(body, f"存证报告 {contract.number}"))
