"""The bank's electronic seal on a signed contract: a PAdES signature (pyHanko) over the whole PDF.

``ContractSealer`` is the interface; ``CONTRACT_SEALER`` names the class. The sandbox sealer signs
with the bank's sandbox certificate (``lending.contracts.pki``); a real deployment signs in the
bank's signing device. The seal is applied as an incremental update, so the sealed file begins
with the exact bytes that were rendered and signed by the parties, and ``seal_check`` can prove
both: the original hash still matches, and the signature covers everything after it.

The seal carries no embedded timestamp: the TSA is an outside service and the seal is made in the
transaction that records the last signature. The chain's 银行电子签章 record names the sealed
file's SHA-256 and receives its RFC 3161 token after commit, which fixes the seal's time as well.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_SEALER = "lending.contracts.sealing.SandboxContractSealer"
FIELD_NAME = "BankSeal"


class ContractSealer:
    """Apply the bank's seal to a PDF and return the sealed bytes."""

    def seal(self, *, bank, pdf: bytes, reason: str, location: str) -> bytes:
        raise NotImplementedError


class SandboxContractSealer(ContractSealer):
    def seal(self, *, bank, pdf: bytes, reason: str, location: str) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko.sign.fields import SigSeedSubFilter
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        from lending.contracts.pki import sandbox_root, sandbox_seal

        seal, root = sandbox_seal(bank), sandbox_root()
        signer = signers.SimpleSigner(
            signing_cert=asn1_x509.Certificate.load(seal.certificate_der),
            signing_key=asn1_keys.PrivateKeyInfo.load(seal.private_key_der),
            cert_registry=SimpleCertificateStore.from_certs(
                [asn1_x509.Certificate.load(root.certificate_der)]
            ),
        )
        metadata = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        return signers.sign_pdf(writer, metadata, signer=signer).getvalue()


@cache
def _sealer_class(path: str) -> type[ContractSealer]:
    return import_string(path)


def contract_sealer() -> ContractSealer:
    return _sealer_class(getattr(settings, "CONTRACT_SEALER", DEFAULT_SEALER))()


@dataclass(frozen=True)
class SealCheck:
    ok: bool
    reason: str = ""
    signer: str = ""


def seal_check(*, sealed_pdf: bytes, original_pdf: bytes, roots=None) -> SealCheck:
    """Whether ``sealed_pdf`` is ``original_pdf`` plus one intact, trusted PAdES seal over the
    whole file."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from lending.contracts.pki import trusted_roots

    if not sealed_pdf.startswith(original_pdf):
        return SealCheck(False, "签章文件不是以签署时的合同原文开头(原文被改动)")
    roots = trusted_roots() if roots is None else roots
    trust = [asn1_x509.Certificate.load(root.public_bytes(_der())) for root in roots]
    try:
        reader = PdfFileReader(io.BytesIO(sealed_pdf), strict=False)
        signatures = reader.embedded_signatures
        if len(signatures) != 1:
            return SealCheck(False, f"应有一个银行签章，实有{len(signatures)}个")
        status = validate_pdf_signature(
            signatures[0], ValidationContext(trust_roots=trust, allow_fetching=False)
        )
    except Exception as error:  # a damaged file fails in the parser; report it, do not crash
        return SealCheck(False, f"签章无法解析：{type(error).__name__}")
    signer = status.signing_cert.subject.human_friendly if status.signing_cert else ""
    if not status.intact:
        return SealCheck(False, "签章覆盖的内容被改动(摘要不符)", signer)
    if not status.valid:
        return SealCheck(False, "签章的签名值无效", signer)
    if not status.trusted:
        return SealCheck(False, "签章证书不能链到可信根证书", signer)
    if status.coverage.name != "ENTIRE_FILE":
        return SealCheck(False, "签章之后文件又被追加了内容", signer)
    return SealCheck(True, "", signer)


def _der():
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER
