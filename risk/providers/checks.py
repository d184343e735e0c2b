"""System checks of the provider configuration: a bad class path stops start-up naming the
source; a sandbox provider in the production profile is a warning."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

from risk.providers.base import ExternalDataProvider


@register()
def check_providers(app_configs=None, **kwargs):
    from risk.providers.registry import provider_settings

    problems = []
    configured = getattr(settings, "RISK_EXTERNAL_PROVIDERS", None) or {}
    for source in configured:
        if source not in provider_settings():
            problems.append(
                Error(f"RISK_EXTERNAL_PROVIDERS 中的数据源 {source!r} 未知", id="risk.E101")
            )
    for source, entry in provider_settings().items():
        where = f"RISK_EXTERNAL_PROVIDERS[{source!r}]"
        try:
            cls = import_string(entry["class"])
        except ImportError as error:
            problems.append(Error(f"{where}：无法导入 {entry['class']}：{error}", id="risk.E102"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, ExternalDataProvider)):
            problems.append(Error(f"{where}：{entry['class']} 不是外部数据接口", id="risk.E103"))
            continue
        if cls.source != source:
            problems.append(
                Error(f"{where}：{entry['class']} 提供的是 {cls.source} 数据", id="risk.E104")
            )
        for key in ("timeout_seconds", "ttl_seconds"):
            value = entry.get(key)
            if value is not None and (
                not isinstance(value, (int, float))
                or value < 0
                or (key == "timeout_seconds" and value == 0)
            ):
                problems.append(Error(f"{where}：{key} 必须是正数", id="risk.E105"))
        if (
            cls.sandbox
            and getattr(settings, "PRODUCTION", False)
            and not settings.RISK_SANDBOX_PROVIDERS_ACCEPTED
        ):
            problems.append(
                Warning(
                    f"{where}：生产环境使用的是沙箱数据源 {cls.label}，请配置真实接口",
                    id="risk.W101",
                )
            )
    return problems
