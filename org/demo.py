"""The demo province: one federation, two banks, four branches each, staff for every role.

Every later app adds its own demo data in a ``<app>/demo.py`` and ``seed_demo`` calls them in
layer order. Each function is idempotent: it looks rows up by their natural key first.
"""

from __future__ import annotations

from dataclasses import dataclass

from org.models import Institution, Staff
from org.roles import Role
from org.services import institution_create, staff_create

DEMO_PASSWORD = "Demo@2026"

FEDERATION = ("SXRCU", "山西省农村信用社联合社")
BANKS = [
    (
        "SXRCU-YD",
        "尧都农村商业银行",
        ["城区支行", "魏村支行", "屯里支行", "县底支行"],
    ),
    (
        "SXRCU-XF",
        "襄汾农村商业银行",
        ["新城支行", "汾城支行", "邓庄支行", "古城支行"],
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    full_name: str
    institution: str
    role: str


def _institution(code: str, name: str, kind: str, parent: Institution | None) -> Institution:
    existing = Institution.objects.filter(code=code).first()
    return existing or institution_create(code=code, name=name, kind=kind, parent=parent)


def _staff(username, full_name, institution, employee_no, phone, roles) -> DemoLogin:
    if not Staff.objects.filter(user__username=username).exists():
        staff_create(
            username=username,
            password=DEMO_PASSWORD,
            full_name=full_name,
            institution=institution,
            employee_no=employee_no,
            phone=phone,
            roles=roles,
        )
    return DemoLogin(username, full_name, institution.name, "、".join(r.label for r in roles))


_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = [
    "建国",
    "海燕",
    "志强",
    "秀英",
    "晓明",
    "丽娟",
    "文博",
    "春花",
    "国庆",
    "雪梅",
    "立新",
    "红霞",
]


def _name(n: int) -> str:
    return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n * 7) % len(_GIVEN)]


def seed_org() -> list[DemoLogin]:
    logins: list[DemoLogin] = []
    federation = _institution(*FEDERATION, Institution.Kind.FEDERATION, None)
    logins.append(
        _staff(
            "fed_admin", "省联社管理员", federation, "F0001", "13900000001", [Role.FEDERATION_ADMIN]
        )
    )
    person = 0
    for bank_no, (code, name, branch_names) in enumerate(BANKS, start=1):
        bank = _institution(code, name, Institution.Kind.BANK, federation)
        review = _institution(
            f"{code}-RC", f"{name}集中审查中心", Institution.Kind.REVIEW_CENTRE, bank
        )
        approval = _institution(
            f"{code}-AC", f"{name}授信审批中心", Institution.Kind.APPROVAL_CENTRE, bank
        )
        prefix = f"b{bank_no}"
        phone_base = 13800000000 + bank_no * 100000

        def next_person(phone_base: int = phone_base) -> tuple[str, str]:
            nonlocal person
            person += 1
            return _name(person), str(phone_base + person)

        full_name, phone = next_person()
        logins.append(
            _staff(
                f"{prefix}_admin", full_name, bank, f"{prefix.upper()}001", phone, [Role.BANK_ADMIN]
            )
        )
        full_name, phone = next_person()
        logins.append(
            _staff(
                f"{prefix}_risk",
                full_name,
                bank,
                f"{prefix.upper()}002",
                phone,
                [Role.RISK_OFFICER],
            )
        )
        full_name, phone = next_person()
        logins.append(
            _staff(
                f"{prefix}_central",
                full_name,
                review,
                f"{prefix.upper()}003",
                phone,
                [Role.CENTRAL_REVIEWER],
            )
        )
        full_name, phone = next_person()
        logins.append(
            _staff(
                f"{prefix}_approver",
                full_name,
                approval,
                f"{prefix.upper()}004",
                phone,
                [Role.APPROVAL_OFFICER],
            )
        )
        for branch_no, branch_name in enumerate(branch_names, start=1):
            branch = _institution(
                f"{code}-B{branch_no:02d}", f"{name}{branch_name}", Institution.Kind.BRANCH, bank
            )
            full_name, phone = next_person()
            logins.append(
                _staff(
                    f"{prefix}_am{branch_no}",
                    full_name,
                    branch,
                    f"{prefix.upper()}1{branch_no:02d}",
                    phone,
                    [Role.ACCOUNT_MANAGER],
                )
            )
            full_name, phone = next_person()
            logins.append(
                _staff(
                    f"{prefix}_reviewer{branch_no}",
                    full_name,
                    branch,
                    f"{prefix.upper()}2{branch_no:02d}",
                    phone,
                    [Role.BRANCH_REVIEWER],
                )
            )
    return logins
