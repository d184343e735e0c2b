"""The downloadable import template: three data sheets and a 说明 (instructions) sheet.

ID-number, phone and village-code columns are formatted as text ("@") for the whole column, so an
18-digit ID typed into them stays 18 digits instead of becoming ``1.10101E+17``.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from common.spreadsheets import spreadsheet_cell
from villages.imports.columns import NOTES_SHEET, SHEETS, Kind
from villages.imports.reader import MAX_BLANK_RUN, human_size, max_file_bytes

TEMPLATE_FILENAME = "整村农户导入模板.xlsx"
TEXT_FORMAT = "@"
# Rows pre-formatted as text below the header; Excel applies a column's format to new cells
# too, but LibreOffice and WPS only honour cells that carry it.
FORMATTED_ROWS = 2000

_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQUIRED_FONT = Font(bold=True, color="C00000")
_HEADER_FONT = Font(bold=True)


def template_workbook_bytes() -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for spec in SHEETS:
        sheet = workbook.create_sheet(spec.name)
        for index, column in enumerate(spec.columns, start=1):
            cell = sheet.cell(row=1, column=index, value=spreadsheet_cell(column.template_header))
            cell.font = _REQUIRED_FONT if column.required else _HEADER_FONT
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = max(12, len(column.header) * 2 + 4)
            if column.as_text:
                sheet.column_dimensions[letter].number_format = TEXT_FORMAT
                for row in range(2, FORMATTED_ROWS + 2):
                    sheet.cell(row=row, column=index).number_format = TEXT_FORMAT
            if column.kind == Kind.CHOICE:
                _add_list(sheet, letter, list(column.labels))
            elif column.kind == Kind.BOOLEAN:
                _add_list(sheet, letter, ["是", "否"])
        sheet.freeze_panes = "B2"
    _notes(workbook.create_sheet(NOTES_SHEET))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _add_list(sheet, letter: str, labels: list[str]) -> None:
    formula = '"' + ",".join(labels) + '"'
    if len(formula) > 255:  # Excel's limit for an inline list; the column note still says it
        return
    validation = DataValidation(type="list", formula1=formula, allow_blank=True)
    validation.error = "请从下拉列表中选择"
    validation.showErrorMessage = False  # aliases (e.g. 儿子 for 子女) are accepted as well
    sheet.add_data_validation(validation)
    validation.add(f"{letter}2:{letter}{FORMATTED_ROWS + 1}")


def _notes(sheet) -> None:
    lines = [
        ("整村农户信息导入说明", ""),
        ("", ""),
        ("1", "本文件有三张表：农户、家庭成员、经济档案。表名和表头请勿修改；带*的列必须填写。"),
        (
            "2",
            "身份证号、手机号、村级区划代码列已设为文本格式。请勿改为数值格式，否则18位身份证号会被Excel改成1.10101E+17并丢失末尾数字。",
        ),
        ("3", "全角数字和首尾空格会自动处理；15位旧身份证号不再受理。性别和出生日期取自身份证号。"),
        ("4", "单元格不能是公式(系统拒绝含公式的文件)。如需计算，请计算后“选择性粘贴→数值”。"),
        ("5", "户主须年满16周岁；承包地、流转土地不超过10000亩；金额不能为负数，单位为元。"),
        ("6", "同一身份证号在本行社只能属于一户：若此人已登记在另一户，该行会报错。"),
        (
            "7",
            "再次导入同一文件不会产生任何变化；修改了数字的文件再次导入即更新相应记录。文件中留空的单元格会把系统中的对应内容清空(金额为0)。",
        ),
        (
            "8",
            "上传后系统先逐行校验并列出所有错误(表、行号、列、原因)；全部无误才可导入，或在确认时选择“仅导入有效行”(依赖错误行的成员和档案行会一并跳过)。",
        ),
        (
            "9",
            f"文件不超过{human_size(max_file_bytes())}；连续{MAX_BLANK_RUN}个空行之后的内容不再读取。表外多出的列会被忽略并提示。",
        ),
        ("", ""),
        ("表", "列"),
    ]
    for spec in SHEETS:
        for column in spec.columns:
            required = "必填" if column.required else "选填"
            lines.append((spec.name, f"{column.header}（{required}）{column.note}"))
    for row, (first, second) in enumerate(lines, start=1):
        sheet.cell(row=row, column=1, value=spreadsheet_cell(first))
        sheet.cell(row=row, column=2, value=spreadsheet_cell(second))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 120
