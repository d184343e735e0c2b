"""Which class answers each source, with which timeout and time to live: the setting
``RISK_EXTERNAL_PROVIDERS`` (``{source: {"class": dotted path, "timeout_seconds": s,
"ttl_seconds": s, "options": {...}}}``, sandbox classes by default). A bank plugs its real
credit-report client by naming its class there; nothing else changes."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from risk.external_features import EXTERNAL_SOURCES
from risk.providers.base import ExternalDataProvider
from risk.providers.sandbox import SANDBOX_PROVIDERS

DEFAULT_TIMEOUT_SECONDS = 3.0
DEFAULT_TTL_SECONDS = {
    "credit_report": 30 * 86400,  # a credit report is re-pulled monthly
    "court": 7 * 86400,
    "borrowing": 7 * 86400,
    "antifraud": 86400,
    "tax_social": 30 * 86400,
}


@dataclass(frozen=True)
class Configured:
    source: str
    path: str
    provider: ExternalDataProvider
    timeout: float
    ttl: float


_configured: dict[str, Configured] = {}


def provider_settings() -> dict[str, dict]:
    configured = getattr(settings, "RISK_EXTERNAL_PROVIDERS", None) or {}
    return {
        source: {"class": SANDBOX_PROVIDERS[source], **configured.get(source, {})}
        for source in EXTERNAL_SOURCES
    }


def provider_for(source: str) -> Configured:
    """The configured provider of ``source``, built once per process."""
    if source not in _configured:
        entry = provider_settings()[source]
        cls = import_string(entry["class"])
        _configured[source] = Configured(
            source=source,
            path=entry["class"],
            provider=cls(**(entry.get("options") or {})),
            timeout=float(entry.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
            ttl=float(entry.get("ttl_seconds", DEFAULT_TTL_SECONDS[source])),
        )
    return _configured[source]


def clear(**kwargs) -> None:
    if kwargs.get("setting") in (None, "RISK_EXTERNAL_PROVIDERS"):
        _configured.clear()


setting_changed.connect(clear, dispatch_uid="risk.providers.registry")
