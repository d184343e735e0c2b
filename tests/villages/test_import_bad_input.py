"""Every bad input of the issue: a clear message naming sheet, row, column and reason, and
nothing written."""

import datetime
import io
import time
import zipfile

import pytest
from openpyxl import load_workbook

from tests.villages.import_files import (  # noqa: F401  (fixtures)
    FOREIGN_VILLAGE,
    archive_row,
    build_xlsx,
    families,
    family,
    household_row,
    import_media_root_fixture,
    import_staff_fixture,
    import_villages_fixture,
    make_id,
    member_row,
    run_import,
    upload,
    validate,
    written_rows,
)
from villages.imports.reader import ImportFileError
from villages.imports.services import import_job_create
from villages.models import ImportJob, Member

pytestmark = pytest.mark.usefixtures("import_media_root", "import_villages")


def only_error(job) -> dict:
    assert job.status == ImportJob.Status.INVALID, job.status
    assert job.error_count == len(job.errors) == 1, job.errors
    assert written_rows() == (0, 0, 0)
    return job.errors[0]


def test_id_with_wrong_checksum(import_staff):
    households, members, archives = family(1)
    bad = members[1][2][:17] + ("0" if members[1][2][17] != "0" else "1")
    members[1][2] = bad

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert error == {
        "sheet": "家庭成员",
        "row": 3,
        "column": "身份证号",
        "reason": "身份证号校验位错误",
    }


def test_id_stored_by_excel_as_a_number(import_staff):
    households, members, archives = family(1)
    members[1][2] = float(members[1][2])  # what Excel keeps: 15 significant digits

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert error["row"] == 3
    assert error["column"] == "身份证号"
    assert "被Excel存成了数字" in error["reason"]
    assert "E+17" in error["reason"]


def test_fifteen_digit_id(import_staff):
    households, members, archives = family(1)
    members[2][2] = "110101000301123"

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert (error["row"], error["column"]) == (4, "身份证号")
    assert "15位旧身份证号" in error["reason"]


def test_full_width_digits_and_spaces_are_normalised(import_staff):
    households, members, archives = family(1)
    spouse = members[1][2]
    members[1][2] = (
        "  " + spouse.translate(str.maketrans("0123456789", "０１２３４５６７８９")) + " "
    )
    members[1][1] = " 配偶1\u3000"
    households[0][1] = " " + households[0][1] + " "

    job = run_import(import_staff, build_xlsx(households, members, archives))

    assert job.status == ImportJob.Status.DONE, job.errors
    member = Member.objects.with_id_number(spouse).get()
    assert member.name == "配偶1"


def test_duplicate_id_within_the_file(import_staff):
    households, members, archives = family(1)
    members.append(member_row(households[0][0], "重复", members[2][2], "子女"))

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert (error["sheet"], error["row"], error["column"]) == ("家庭成员", 5, "身份证号")
    assert "与第4行重复" in error["reason"]


def test_duplicate_head_within_the_file(import_staff):
    households, members, archives = family(1)
    households.append(household_row(households[0][0], address="另一处"))

    job = validate(import_staff, build_xlsx(households, members, archives))

    assert job.status == ImportJob.Status.INVALID
    assert job.errors[0]["row"] == 3
    assert "与第2行重复" in job.errors[0]["reason"]
    assert written_rows() == (0, 0, 0)


def test_id_already_in_another_household_of_the_bank(import_staff):
    first = family(1)
    run_import(import_staff, build_xlsx(*first))
    rows = written_rows()
    households, members, archives = family(2)
    members.append(member_row(households[0][0], "外户", first[1][2][2], "其他"))

    job = validate(import_staff, build_xlsx(households, members, archives))

    assert job.status == ImportJob.Status.INVALID
    assert job.errors == [
        {
            "sheet": "家庭成员",
            "row": 5,
            "column": "身份证号",
            "reason": job.errors[0]["reason"],
        }
    ]
    assert "已登记在本行社另一户" in job.errors[0]["reason"]
    assert "**********" in job.errors[0]["reason"]  # the other head's ID is masked
    assert written_rows() == rows


def test_id_already_in_the_same_household_is_updated(import_staff):
    households, members, archives = family(1)
    run_import(import_staff, build_xlsx(households, members, archives))
    members[2][1] = "改名"

    job = run_import(import_staff, build_xlsx(households, members, archives))

    assert job.status == ImportJob.Status.DONE
    assert job.counts["members"]["updated"] == 1
    assert Member.objects.with_id_number(members[2][2]).get().name == "改名"


@pytest.mark.parametrize("code", ["141002990099", FOREIGN_VILLAGE])
def test_unknown_or_other_banks_village_code(import_staff, code):
    households, members, archives = family(1)
    households[0][1] = code

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert (error["sheet"], error["row"], error["column"]) == ("农户", 2, "村级区划代码")
    assert "不是本行社已建立的行政村" in error["reason"]


@pytest.mark.parametrize(
    ("field", "value", "column", "reason"),
    [
        ("income_crops", -100, "种植收入(元/年)", "不能小于0"),
        ("land_contracted_mu", 10000.5, "承包地(亩)", "超出合理范围"),
        ("land_leased_mu", "20000", "流转土地(亩)", "超出合理范围"),
        ("deposits", "12.345", "存款(元)", "最多保留2位小数"),
        ("livestock_heads", 2.5, "存栏合计(头/只)", "应为整数"),
        ("has_business", "也许", "个体工商户", "只能填“是”或“否”"),
        ("housing_structure", "茅草", "房屋结构", "无法识别"),
        ("survey_date", "2099-01-01", "调查日期", "晚于今天"),
        ("survey_date", "三月", "调查日期", "不是有效日期"),
    ],
)
def test_negative_or_absurd_figures(import_staff, field, value, column, reason):
    households, members, archives = family(1)
    archives[0] = archive_row(households[0][0], **{field: value})

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert (error["sheet"], error["row"], error["column"]) == ("经济档案", 2, column)
    assert reason in error["reason"]


def test_head_younger_than_sixteen(import_staff):
    head = make_id(datetime.date.today().replace(year=datetime.date.today().year - 12), 3)
    content = build_xlsx(
        [household_row(head)], [member_row(head, "小户主", head, "户主")], [archive_row(head)]
    )

    error = only_error(validate(import_staff, content))

    assert (error["sheet"], error["row"], error["column"]) == ("农户", 2, "户主身份证号")
    assert "未满16周岁" in error["reason"]


def test_new_household_without_its_head_in_the_members_sheet(import_staff):
    households, members, archives = family(1)

    error = only_error(validate(import_staff, build_xlsx(households, members[1:], archives)))

    assert (error["sheet"], error["row"]) == ("农户", 2)
    assert "登记户主本人" in error["reason"]


def test_member_of_a_household_that_exists_nowhere(import_staff):
    households, members, archives = family(1)
    stranger = make_id(datetime.date(1960, 1, 1), 9)
    members.append(member_row(stranger, "无户", make_id(datetime.date(1961, 1, 1), 9), "配偶"))

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert (error["row"], error["column"]) == (5, "户主身份证号")
    assert "找不到这位户主的农户" in error["reason"]


def test_empty_file_is_refused_before_anything_is_stored(import_staff):
    with pytest.raises(ImportFileError, match="文件为空"):
        import_job_create(uploaded_by=import_staff, upload=upload(b""))
    assert ImportJob.objects.count() == 0


def test_workbook_without_any_rows(import_staff):
    error = only_error(validate(import_staff, build_xlsx()))

    assert "没有任何数据行" in error["reason"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,id\n张三,110101\n".encode(), "不是有效的Excel"),
        (b"%PDF-1.7 not a spreadsheet", "不是有效的Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, r"旧版Excel\(\.xls\)"),
    ],
)
def test_wrong_file_type_renamed_to_xlsx(import_staff, content, message):
    with pytest.raises(ImportFileError, match=message):
        import_job_create(uploaded_by=import_staff, upload=upload(content, "村民.xlsx"))
    assert ImportJob.objects.count() == 0


def test_corrupt_zip_with_an_xlsx_signature(import_staff):
    error = only_error(validate(import_staff, b"PK\x03\x04" + b"garbage" * 100))

    assert "无法读取" in error["reason"]


def test_file_over_the_size_limit_is_refused_before_parsing(import_staff, settings):
    settings.VILLAGE_IMPORT_MAX_BYTES = 10 * 1024
    content = build_xlsx(*families(40))
    assert len(content) > 10 * 1024

    with pytest.raises(ImportFileError, match="超过10KB的上限"):
        import_job_create(uploaded_by=import_staff, upload=upload(content))
    assert ImportJob.objects.count() == 0


def test_a_sheet_missing(import_staff):
    households, members, archives = family(1)

    job = validate(
        import_staff, build_xlsx(households, members, archives, omit_sheets=["经济档案"])
    )

    error = only_error(job)
    assert error["sheet"] == "经济档案"
    assert "缺少工作表“经济档案”" in error["reason"]


def test_a_column_missing(import_staff):
    households, members, archives = family(1)
    headers = {"农户": ["户主身份证号*", "村级区划代码*", "村民小组", "住址"]}

    error = only_error(
        validate(import_staff, build_xlsx(households, members, archives, headers=headers))
    )

    assert (error["sheet"], error["row"], error["column"]) == ("农户", 1, "联系电话")
    assert "缺少列" in error["reason"]


def test_extra_unknown_columns_are_warned_and_ignored(import_staff):
    households, members, archives = family(1)
    households[0].append("随便写写")

    job = run_import(
        import_staff, build_xlsx(households, members, archives, extra_columns={"农户": ["备注"]})
    )

    assert job.status == ImportJob.Status.DONE
    assert job.warnings == [
        {
            "sheet": "农户",
            "row": 1,
            "column": "备注",
            "reason": "模板中没有这一列，已忽略该列的内容",
        }
    ]


def test_formulas_are_refused_with_their_cell(import_staff):
    households, members, archives = family(1)
    archives[0] = archive_row(households[0][0], income_crops="=1000*3")

    error = only_error(validate(import_staff, build_xlsx(households, members, archives)))

    assert (error["sheet"], error["row"], error["column"]) == ("经济档案", 2, "种植收入(元/年)")
    assert "公式" in error["reason"]


def _with_blank_rows(content: bytes, sheet_name: str, rows: int) -> bytes:
    """Append ``rows`` rows of empty strings (not just formatting) after the data of a sheet,
    the worst case: calamine has to keep every one of them."""
    workbook = load_workbook(io.BytesIO(content))
    index = workbook.sheetnames.index(sheet_name) + 1
    source = zipfile.ZipFile(io.BytesIO(content))
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == f"xl/worksheets/sheet{index}.xml":
                head, tail = data.split(b"</sheetData>")
                start = workbook[sheet_name].max_row + 1
                blank = b"".join(
                    b'<row r="%d"><c r="A%d" t="inlineStr"><is><t></t></is></c>'
                    b'<c r="B%d" t="inlineStr"><is><t> </t></is></c></row>' % (n, n, n)
                    for n in range(start, rows + 1)
                )
                data = head + blank + b"</sheetData>" + tail
            out.writestr(item, data)
    return target.getvalue()


def test_a_million_blank_rows_are_not_walked_to_the_end(import_staff):
    households, members, archives = family(1)
    content = _with_blank_rows(build_xlsx(households, members, archives), "家庭成员", 2**20)

    started = time.perf_counter()
    job = validate(import_staff, content)
    elapsed = time.perf_counter() - started

    assert job.status == ImportJob.Status.VALID, job.errors
    assert job.counts["members"]["rows"] == 3
    assert "连续1000行为空" in job.warnings[0]["reason"]
    assert elapsed < 30
