"""The sandbox trust services: a demo root CA, a timestamp authority's certificate and one seal
certificate per bank, made with ``cryptography`` and kept in ``TrustCertificate``.

Sandbox only. The root is made on this machine, so nothing outside the system trusts it; a real
deployment replaces the sealer (``CONTRACT_SEALER``) and the TSA (``CONTRACT_TIMESTAMP_AUTHORITY``)
with the bank's signing device and a licensed TSA. Each piece is made the first time it is needed
(``seed_demo`` makes them all up front) and then reused: running the demo twice creates nothing.

The TSA key is RSA because the in-process timestamper signs with PKCS#1 v1.5; the root and the
bank seals are ECDSA P-256, which is quick to generate and to verify.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common import pii
from lending.contracts.models import TrustCertificate

KEY_PURPOSE = "contracts.sandbox_key"
VALIDITY = datetime.timedelta(days=3650)
Kind = TrustCertificate.Kind


@dataclass(frozen=True)
class KeyPair:
    certificate: x509.Certificate
    private_key: object
    record: TrustCertificate

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def private_key_der(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _load(record: TrustCertificate) -> KeyPair:
    certificate = x509.load_pem_x509_certificate(record.certificate_pem.encode())
    key = serialization.load_der_private_key(
        pii.unseal(bytes(record.sealed_key), KEY_PURPOSE), password=None
    )
    return KeyPair(certificate=certificate, private_key=key, record=record)


def _store(kind: str, bank, certificate: x509.Certificate, key) -> KeyPair:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
    try:
        with transaction.atomic():
            record = TrustCertificate.objects.create(
                kind=kind,
                bank=bank,
                subject=certificate.subject.rfc4514_string(),
                certificate_pem=pem,
                sealed_key=pii.seal(der, KEY_PURPOSE),
                fingerprint=fingerprint,
                valid_until=certificate.not_valid_after_utc,
            )
    except IntegrityError:
        # Another process made it first; theirs is the one every later signature uses.
        return _load(TrustCertificate.objects.get(kind=kind, bank=bank))
    return KeyPair(certificate=certificate, private_key=key, record=record)


def _issue(
    subject: x509.Name,
    public_key,
    issuer: KeyPair | None,
    signing_key,
    *,
    ca: bool,
    usage: x509.KeyUsage,
    extended: list | None = None,
) -> x509.Certificate:
    now = timezone.now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()),
            critical=False,
        )
    if extended:
        # RFC 3161 §2.3: a TSA certificate carries exactly id-kp-timeStamping, marked critical.
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=sign and not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def sandbox_root() -> KeyPair:
    if (record := TrustCertificate.objects.filter(kind=Kind.ROOT).first()) is not None:
        return _load(record)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("整村授信平台演示根证书(沙箱)", "整村授信平台沙箱")
    certificate = _issue(
        name, key.public_key(), None, key, ca=True, usage=_usage(sign=False, ca=True)
    )
    return _store(Kind.ROOT, None, certificate, key)


def sandbox_tsa() -> KeyPair:
    if (record := TrustCertificate.objects.filter(kind=Kind.TSA).first()) is not None:
        return _load(record)
    root = sandbox_root()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = _issue(
        _name("整村授信平台时间戳服务(沙箱)", "整村授信平台沙箱"),
        key.public_key(),
        root,
        root.private_key,
        ca=False,
        usage=_usage(sign=True, ca=False),
        extended=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    return _store(Kind.TSA, None, certificate, key)


def sandbox_seal(bank) -> KeyPair:
    if (record := TrustCertificate.objects.filter(kind=Kind.SEAL, bank=bank).first()) is not None:
        return _load(record)
    root = sandbox_root()
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _issue(
        _name(f"{bank.name}电子合同专用章(沙箱)", bank.name),
        key.public_key(),
        root,
        root.private_key,
        ca=False,
        usage=_usage(sign=True, ca=False),
    )
    return _store(Kind.SEAL, bank, certificate, key)


def trusted_roots() -> list[x509.Certificate]:
    """The roots a verification trusts: the PEM bundle named by ``CONTRACT_TRUST_ROOTS_PEM`` (a
    licensed TSA's and the bank's CA in production) and the sandbox root when one exists."""
    roots = [
        x509.load_pem_x509_certificate(record.certificate_pem.encode())
        for record in TrustCertificate.objects.filter(kind=Kind.ROOT)
    ]
    bundle = getattr(settings, "CONTRACT_TRUST_ROOTS_PEM", "")
    if bundle:
        roots += x509.load_pem_x509_certificates(Path(bundle).read_bytes())
    return roots


def sandbox_pki_ensure(banks) -> None:
    """The root, the TSA and a seal for each of ``banks`` (``seed_demo``)."""
    sandbox_root()
    sandbox_tsa()
    for bank in banks:
        sandbox_seal(bank)


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()
