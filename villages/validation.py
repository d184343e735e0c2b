"""Field validation shared by the spreadsheet import, the API and the admin.

Each ``clean_*`` takes raw text as a person typed it (or as Excel stored it) and returns the
normalised value, or raises ``FieldError`` with a Chinese message saying what is wrong. Callers add
where (sheet, row, column, or the API field name).
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from decimal import Decimal, InvalidOperation

import phonenumbers
from stdnum import exceptions as stdnum_exceptions
from stdnum import numdb
from stdnum.cn import ric

from common.masking import redact_text

MIN_HEAD_AGE = 16
MAX_LAND_MU = Decimal("10000")
MAX_MONEY = Decimal("100000000")  # 1亿元: beyond this a household figure is a typo
# Archives older than this are typos (e.g. 0026 for 2026), whether imported or sent by a PAD.
EARLIEST_SURVEY = datetime.date(1990, 1, 1)


class FieldError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_EXCEL_NUMBER = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)
# What a person may type for a mobile once spaces and dashes are gone (ASCII digits only).
_MOBILE_TYPED = re.compile(r"(?:\+86)?[0-9]+")


def normalise_text(value) -> str:
    """Full-width → half-width (NFKC), trimmed; ``None`` → empty."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def clean_id_number(value, *, today: datetime.date) -> tuple[str, str, datetime.date]:
    """A GB 11643 ID number → ``(id_number, sex "M"/"F", birth_date)``."""
    text = normalise_text(value).upper().replace(" ", "")
    if not text:
        raise FieldError("身份证号不能为空")
    if _EXCEL_NUMBER.match(text) or (text.endswith(".0") and text[:-2].isdigit()):
        raise FieldError(
            f"身份证号被Excel存成了数字({text})，末尾数字已丢失；请把该列设为文本格式后重新填写"
        )
    if len(text) == 15 and text.isdigit():
        raise FieldError("15位旧身份证号不再受理，请填写18位身份证号")
    if len(text) != 18:
        raise FieldError(f"身份证号应为18位，实际为{len(text)}位")
    if not re.fullmatch(r"\d{17}[\dX]", text):
        raise FieldError("身份证号只能包含数字，末位可为X")
    if text[-1] != ric.calc_check_digit(text):
        raise FieldError("身份证号校验位错误")
    try:
        birth_date = ric.get_birth_date(text)
    except stdnum_exceptions.ValidationError as exc:
        raise FieldError("身份证号中的出生日期无效") from exc
    if not _region_known(text[:6]):
        raise FieldError(f"身份证号前6位地区码 {text[:6]} 不存在")
    if birth_date > today:
        raise FieldError(f"身份证号中的出生日期 {birth_date:%Y-%m-%d} 晚于今天")
    if birth_date.year < 1900:
        raise FieldError(f"身份证号中的出生日期 {birth_date:%Y-%m-%d} 不合理")
    sex = "M" if int(text[16]) % 2 == 1 else "F"
    return text, sex, birth_date


def _region_known(code: str) -> bool:
    """Whether the region code was ever in use. python-stdnum's own ``validate`` also demands
    that the code was current in the birth year, which rejects real people: a number is issued
    where the person registers (e.g. 尧都区 141002, created in 2000, for someone born in 1980)."""
    return any(props for _, props in numdb.get("cn/loc").info(code))


def age_on(birth_date: datetime.date, day: datetime.date) -> int:
    years = day.year - birth_date.year
    return years - ((day.month, day.day) < (birth_date.month, birth_date.day))


def clean_mobile(value, *, required: bool = False) -> str:
    """A mainland mobile number → 11 digits (``+86``/spaces/dashes removed).

    Only digits, spaces, dashes and a leading ``+86`` are taken: phonenumbers reads letters as a
    keypad would (``1381234abcd`` → ``13812342223``), which would store a number nobody typed."""
    text = normalise_text(value).replace(" ", "").replace("-", "")
    if not text:
        if required:
            raise FieldError("手机号不能为空")
        return ""
    if _EXCEL_NUMBER.match(text) or text.endswith(".0"):
        raise FieldError(f"手机号被Excel存成了数字({redact_text(text)})，请把该列设为文本格式")
    if not _MOBILE_TYPED.fullmatch(text):
        raise FieldError("手机号只能包含数字、空格和短横线(可以+86开头)")
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise FieldError(f"手机号格式不正确：{redact_text(text)}") from exc
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise FieldError(f"手机号无效：{redact_text(text)}")
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise FieldError(f"不是手机号：{redact_text(text)}")
    return str(number.national_number)


def clean_decimal(
    value,
    *,
    label: str,
    places: int = 2,
    minimum: Decimal = Decimal("0"),
    maximum: Decimal = MAX_MONEY,
    default: Decimal | None = Decimal("0"),
) -> Decimal | None:
    """A non-negative amount or area, at most ``places`` decimals, within ``[minimum, maximum]``."""
    text = normalise_text(value).replace(",", "")
    if text == "":
        return default
    if text.startswith("="):
        raise FieldError(f"{label}不能是公式，请填写数值")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise FieldError(f"{label}应为数字，收到“{text}”") from exc
    if not number.is_finite():
        raise FieldError(f"{label}应为数字，收到“{text}”")
    if number < minimum:
        raise FieldError(f"{label}不能小于{minimum}")
    if number > maximum:
        raise FieldError(f"{label}超出合理范围(不超过{maximum})")
    if -number.as_tuple().exponent > places and number != number.quantize(Decimal(10) ** -places):
        raise FieldError(f"{label}最多保留{places}位小数")
    return number.quantize(Decimal(10) ** -places)


def clean_village_code(value) -> str:
    text = normalise_text(value)
    if text.endswith(".0"):
        text = text[:-2]
    if not re.fullmatch(r"\d{12}", text):
        raise FieldError(f"村级区划代码应为12位数字，收到“{text}”")
    return text
