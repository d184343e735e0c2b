"""From a template version and an application to PDF bytes.

A template's body is an HTML fragment with Django template syntax; ``document_html`` puts it in a
page shell whose stylesheet declares the contract font with ``@font-face`` and a ``file://`` URL,
so WeasyPrint embeds that file whatever fontconfig has installed. The font is the project's own
(``make fonts`` unpacks Debian's WenQuanYi Micro Hei into ``var/fonts/``; ``CONTRACT_FONT_PATH``
names it): a fresh machine with no system fonts prints Chinese.

The values a contract shows are gathered once into ``terms`` (plain JSON, stored on the contract
as rendered) and the template reads only those, so a stored contract can be re-read knowing
exactly what it said. The contract shows the parties' full ID numbers: it is the instrument the
parties sign and must name them; pages and API answers around it show masked values, and only
staff holding 可下载合同PDF (the roles that may see identities in full) download it.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone

from common.money import FEN

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def amount_in_capitals(amount) -> str:
    """大写金额 as cheques and contracts write it: ``Decimal("10010.50")`` → 壹万零壹拾元伍角整."""
    amount = Decimal(str(amount)).quantize(FEN, rounding=ROUND_HALF_UP)
    if amount < 0 or amount >= Decimal("1e16"):
        raise ValueError(f"金额超出大写范围：{amount}")
    yuan = int(amount)
    jiao, fen = divmod(int((amount - yuan) * 100), 10)
    text = _integer_in_capitals(yuan) + "元" if yuan else ""
    if jiao == 0 and fen == 0:
        return (text or "零元") + "整"
    if jiao:
        text += DIGITS[jiao] + "角"
    elif text:
        text += "零"
    return text + (DIGITS[fen] + "分" if fen else "整")


def _integer_in_capitals(number: int) -> str:
    groups = []
    while number:
        number, group = divmod(number, 10000)
        groups.append(group)
    text, gap = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            gap = bool(text)
            continue
        # A skipped group, or a group under a thousand after a higher one, reads with a 零.
        if text and (gap or group < 1000):
            text += "零"
        gap = False
        part, zero = "", False
        for place in range(3, -1, -1):
            digit = group // 10**place % 10
            if digit == 0:
                zero = bool(part)
                continue
            if zero:
                part += "零"
                zero = False
            part += DIGITS[digit] + _PLACES[place]
        text += part + _GROUPS[index]
    return text


def font_path() -> Path:
    path = Path(settings.CONTRACT_FONT_PATH)
    if not path.is_file():
        raise ImproperlyConfigured(
            f"合同字体文件不存在：{path}。请运行 make fonts (the CJK contract font is missing)"
        )
    return path


PAGE_CSS = """
@font-face { font-family: "ContractCJK"; src: url("%(font)s"); }
@page { size: A4; margin: 22mm 20mm 20mm 20mm;
  @bottom-center { content: "第 " counter(page) " 页 共 " counter(pages) " 页";
    font-family: "ContractCJK"; font-size: 9pt; color: #555; } }
html { font-family: "ContractCJK"; font-size: 10.5pt; line-height: 1.65; color: #111; }
h1 { font-size: 17pt; text-align: center; margin: 0 0 4mm; letter-spacing: 1pt; }
h2 { font-size: 11.5pt; margin: 5mm 0 1mm; }
p { margin: 1mm 0; text-align: justify; }
table { border-collapse: collapse; width: 100%%; margin: 2mm 0; }
td, th { border: 0.6pt solid #444; padding: 1.2mm 2mm; vertical-align: top; text-align: left; }
.number { text-align: right; font-size: 9.5pt; }
.signatures td { height: 24mm; width: 50%%; }
"""


def document_html(body_html: str, title: str) -> str:
    css = PAGE_CSS % {"font": font_path().resolve().as_uri()}
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{css}</style></head><body>{body_html}</body></html>"
    )


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


@cache
def _engine() -> Engine:
    # Templates are edited by staff in the admin: autoescape on, and no {% load %} of
    # libraries beyond Django's built-ins.
    return Engine(autoescape=True, libraries={}, builtins=[])


def render_body(body: str, terms: dict) -> str:
    """The template body filled with ``terms``; a syntax error names the field ``body``."""
    try:
        template = _engine().from_string(body)
    except TemplateSyntaxError as error:
        raise ValidationError({"body": f"模板语法错误：{error}"}) from error
    return template.render(Context(terms))


def render_pdf(*, body: str, title: str, terms: dict) -> bytes:
    return html_to_pdf(document_html(render_body(body, terms), title))


def date_text(value: datetime.date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else ""


def _party(member, role_label: str) -> dict:
    return {
        "name": member.name,
        "id_number": member.id_number,
        "role": role_label,
        "address": getattr(member.household, "address", "") or "",
    }


def contract_terms(*, application, number: str, template, rendered_at) -> dict:
    """Everything the template may show, as JSON-ready values."""
    from lending.contracts.models import SignerRole

    line = application.line
    amount = application.approved_amount or application.amount
    rate = application.approved_rate
    borrower = _party(application.applicant, SignerRole.BORROWER.label)
    parties = list(application.parties.select_related("member__household").order_by("pk"))
    co_borrowers = [
        _party(p.member, SignerRole.CO_BORROWER.label) for p in parties if p.role == "co_borrower"
    ]
    guarantors = [
        _party(p.member, SignerRole.GUARANTOR.label) for p in parties if p.role == "guarantor"
    ]
    local = timezone.localtime(rendered_at)
    return {
        "contract": {
            "number": number,
            "title": template.title,
            "template": f"{template.code} 第{template.version}版",
            "date": date_text(local.date()),
        },
        "bank": {"name": application.bank.name},
        "product": {"name": application.product.name},
        "borrower": borrower,
        "co_borrowers": co_borrowers,
        "guarantors": guarantors,
        "signers": [borrower, *co_borrowers, *guarantors],
        "amount": f"{amount:,.2f}",
        "amount_capital": amount_in_capitals(amount),
        "rate": f"{rate:.4f}" if rate is not None else "",
        "term_months": application.term_months,
        "repayment_method": application.get_repayment_method_display(),
        "purpose": application.purpose,
        "valid_from": date_text(line.valid_from) if line else "",
        "valid_until": date_text(line.valid_until) if line else "",
        "revolving": bool(line),
    }


def sample_terms(template) -> dict:
    """Made-up values for the admin's preview: nobody real, obviously a sample."""
    borrower = {
        "name": "张示例",
        "id_number": "110101199001010000",
        "role": "借款人",
        "address": "示例县示例镇示例村一组",
    }
    guarantor = {
        "name": "李示例",
        "id_number": "110101198502020000",
        "role": "保证人",
        "address": "示例县示例镇示例村二组",
    }
    co_borrower = {
        "name": "王示例",
        "id_number": "110101199203030000",
        "role": "共同借款人",
        "address": "示例县示例镇示例村一组",
    }
    amount = Decimal("50000.00")
    return {
        "contract": {
            "number": "HT-示例-00000000-000000-1",
            "title": template.title,
            "template": f"{template.code} 第{template.version}版",
            "date": date_text(timezone.localdate()),
        },
        "bank": {"name": "示例农村商业银行"},
        "product": {"name": "农户信用贷(示例)"},
        "borrower": borrower,
        "co_borrowers": [co_borrower],
        "guarantors": [guarantor],
        "signers": [borrower, co_borrower, guarantor],
        "amount": f"{amount:,.2f}",
        "amount_capital": amount_in_capitals(amount),
        "rate": "4.3500",
        "term_months": 12,
        "repayment_method": "等额本息",
        "purpose": "购买化肥种子(示例)",
        "valid_from": date_text(timezone.localdate()),
        "valid_until": date_text(timezone.localdate().replace(year=timezone.localdate().year + 3)),
        "revolving": True,
    }
