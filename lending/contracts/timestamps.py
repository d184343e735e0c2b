"""Trusted timestamps (RFC 3161) behind one interface, so a licensed TSA can replace the sandbox.

A ``TimestampAuthority`` answers a DER ``TimeStampReq`` with a DER ``TimeStampResp``, exactly what
an HTTP TSA does with ``application/timestamp-query``. The setting
``CONTRACT_TIMESTAMP_AUTHORITY`` names the class. ``SandboxTimestampAuthority`` answers
in-process with real tokens signed by the sandbox TSA certificate (``lending.contracts.pki``),
which chains to the demo root; ``HttpTimestampAuthority`` posts to a TSA's URL.

``timestamp_digest`` builds the request and checks the answer with rfc3161-client;
``timestamp_verify`` checks a stored token against a digest and the trusted roots, and fails on
any changed byte of the digest, the token or its signature.
"""

from __future__ import annotations

import asyncio
import datetime
import secrets
import urllib.request
from functools import cache

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from django.utils.module_loading import import_string
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

DEFAULT_AUTHORITY = "lending.contracts.timestamps.SandboxTimestampAuthority"


class TimestampError(Exception):
    """The TSA did not answer, or its token does not prove what it should."""


class TimestampAuthority:
    """An RFC 3161 timestamp authority."""

    def respond(self, request: bytes) -> bytes:
        raise NotImplementedError


class SandboxTimestampAuthority(TimestampAuthority):
    """Answers in-process, signing with the sandbox TSA certificate (made on first use)."""

    def respond(self, request: bytes) -> bytes:
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

        from lending.contracts.pki import sandbox_root, sandbox_tsa

        tsa, root = sandbox_tsa(), sandbox_root()
        stamper = DummyTimeStamper(
            tsa_cert=asn1_x509.Certificate.load(tsa.certificate_der),
            tsa_key=asn1_keys.PrivateKeyInfo.load(tsa.private_key_der),
            certs_to_embed=[asn1_x509.Certificate.load(root.certificate_der)],
        )
        response = asyncio.run(
            stamper.async_request_tsa_response(asn1_tsp.TimeStampReq.load(request))
        )
        return response.dump()


class HttpTimestampAuthority(TimestampAuthority):
    """A TSA reached over HTTP (RFC 3161 §3.4); the URL is ``CONTRACT_TSA_URL``."""

    def respond(self, request: bytes) -> bytes:
        http_request = urllib.request.Request(
            settings.CONTRACT_TSA_URL,
            data=request,
            headers={"Content-Type": "application/timestamp-query"},
        )
        with urllib.request.urlopen(http_request, timeout=10) as answer:
            return answer.read()


@cache
def _authority_class(path: str) -> type[TimestampAuthority]:
    return import_string(path)


def timestamp_authority() -> TimestampAuthority:
    return _authority_class(getattr(settings, "CONTRACT_TIMESTAMP_AUTHORITY", DEFAULT_AUTHORITY))()


def timestamp_digest(digest: bytes) -> tuple[bytes, datetime.datetime]:
    """A token over the SHA-256 ``digest`` and the time it names: ``(response DER, gen_time)``."""
    # Built by hand: rfc3161-client's request builder hashes data itself, and we stamp a digest
    # we already hold (the record's hash), never the data behind it.
    nonce = secrets.randbits(63)
    der = _request_for_digest(digest, nonce)
    try:
        response_der = timestamp_authority().respond(der)
        response = decode_timestamp_response(response_der)
    except (OSError, ValueError) as error:
        raise TimestampError(f"时间戳服务无应答：{error}") from error
    if response.tst_info.nonce != nonce:
        raise TimestampError("时间戳应答与请求不符(nonce)")
    timestamp_verify(response_der, digest)
    return response_der, response.tst_info.gen_time


def _request_for_digest(digest: bytes, nonce: int) -> bytes:
    return asn1_tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()


def timestamp_verify(token: bytes, digest: bytes, roots=None) -> datetime.datetime:
    """The time a stored token proves for ``digest``; ``TimestampError`` when it does not."""
    from lending.contracts.pki import trusted_roots

    roots = trusted_roots() if roots is None else roots
    if not roots:
        raise TimestampError("没有可信根证书，无法验证时间戳")
    try:
        response = decode_timestamp_response(bytes(token))
    except ValueError as error:
        raise TimestampError(f"时间戳凭证无法解析：{error}") from error
    failures = []
    for root in roots:
        try:
            VerifierBuilder().add_root_certificate(root).build().verify(response, digest)
        except VerificationError as error:
            failures.append(str(error))
        else:
            return response.tst_info.gen_time
    raise TimestampError("时间戳凭证验证失败：" + "；".join(failures))
