"""System checks of the contract settings: the font file is there, and a production profile is
told when contracts are still sealed and timestamped by the sandbox."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Warning, register


@register()
def contract_settings_check(app_configs, **kwargs):
    problems = []
    if not Path(settings.CONTRACT_FONT_PATH).is_file():
        problems.append(
            Warning(
                f"合同字体文件不存在：{settings.CONTRACT_FONT_PATH}，合同PDF无法生成",
                hint="运行 make fonts (the contract PDFs' CJK font is missing)",
                id="lending.W201",
            )
        )
    sandbox = [
        name
        for name in ("CONTRACT_SEALER", "CONTRACT_TIMESTAMP_AUTHORITY")
        if ".Sandbox" in getattr(settings, name, "")
    ]
    accepted = getattr(settings, "CONTRACT_SANDBOX_ACCEPTED", False)
    if getattr(settings, "PRODUCTION", False) and sandbox and not accepted:
        problems.append(
            Warning(
                "电子合同仍使用沙箱签章/时间戳服务：" + "、".join(sandbox),
                hint="配置银行的签章设备与受信任的时间戳服务，或设置 CONTRACT_SANDBOX_ACCEPTED=true "
                "(contracts are sealed by the sandbox)",
                id="lending.W202",
            )
        )
    return problems
