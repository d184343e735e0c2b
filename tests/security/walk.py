"""What the tenancy and personal-data matrices walk: the API schema's paths, the admin registry's
URLs and filters, and a fingerprint of every table to show that a refused request wrote nothing.

The tables below name, for each object path of the API and each shared (bank-less) admin model,
how the matrix finds a foreign object. A path or model the walker meets without an entry fails
the matrix by name, so a new endpoint or admin cannot slip past it.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.db import connection
from django.urls import URLPattern, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from tests.security.world import jpeg_bytes
from villages.demo import make_id_number

ID_NUMBER = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
# Bounded by anything but letters and digits: inside a hex digest (a device token's id in an
# admin link) eleven digits starting with 1 are not a mobile; beside Chinese text they are.
MOBILE = re.compile(r"(?<![\dA-Za-z])1[3-9]\d{9}(?![\dA-Za-z])")
# Record ids in links and JSON: a random UUID's last group is now and then a letter and eleven
# digits that look like a mobile, which made the check fail on a different page each run.
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
WRITE_METHODS = ("post", "put", "patch", "delete")

# Admin models that hold no bank's data: reference data and operations' schedules, read or
# edited province-wide on purpose. A model listed here is not probed for another bank's rows.
SHARED_ADMIN_MODELS = {
    "auth.Group": "roles are the same for every bank",
    "django_celery_beat.PeriodicTask": "schedules are operations' (superusers only)",
    "django_celery_beat.ClockedSchedule": "schedules are operations' (superusers only)",
    "django_celery_beat.CrontabSchedule": "schedules are operations' (superusers only)",
    "django_celery_beat.SolarSchedule": "schedules are operations' (superusers only)",
    "django_celery_beat.IntervalSchedule": "schedules are operations' (superusers only)",
    "villages.Division": "statistical divisions are province-wide reference data",
    "products.LoanPrimeRate": "the LPR is published for everyone",
    "risk.ScoringSegment": "segments are province-wide reference data",
    "pghistory.Events": "pghistory's own event browser (no bank scoping; see the PII matrix)",
    "org.LoginLockout": "login locks name a login and an address, not a bank (federation only)",
    "common.SandboxSmsMessage": "the sandbox SMS outbox holds sign-in codes (superusers only)",
    "lending.ContractTemplate": "contract templates are the federation's text for every bank's products",
}


@dataclass(frozen=True)
class ApiCase:
    """One way to aim a path at an object the user must not reach.

    ``target`` names the model of the object aimed at (looked up in the kit being probed: bank
    2's objects, or bank 1's objects in a village the account manager does not serve);
    ``kwargs(target_kit, own_kit)`` fills the path; ``body(own_kit)`` is a body that would be
    accepted for an object of one's own, so only tenancy can refuse it; ``as_evaluator`` sends
    the request as bank 1's peer-review evaluator instead of the staff member.
    """

    target: str
    kwargs: Callable[[dict, dict], dict]
    body: Callable[[dict], dict] | None = None
    multipart: bool = False
    as_evaluator: bool = False


def _pk(kit: dict, label: str):
    return kit[label].pk


def _household_body(own: dict) -> dict:
    return {"village": own["villages.Village"].pk, "group_name": "第九组", "address": "改写"}


def _member_body(own: dict) -> dict:
    return {
        "household": str(own["villages.Household"].pk),
        "name": "改写",
        "id_number": make_id_number("141002", datetime.date(1990, 1, 1), 977, True),
        "relation": "other",
    }


def _archive_body(own: dict) -> dict:
    return {
        "household": str(own["villages.Household"].pk),
        "survey_date": "2026-10-02",
        "income_crops": "1",
    }


def _visit_body(own: dict) -> dict:
    return {
        "household": str(own["villages.Household"].pk),
        "visited_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
        "purpose": "archive",
    }


def _attachment_body(own: dict) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "client_uuid": str(uuid.uuid4()),
        "kind": "id_card",
        "file": SimpleUploadedFile("身份证.jpg", jpeg_bytes(), content_type="image/jpeg"),
    }


def _photo_body(own: dict) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "kind": "house",
        "captured_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
        "image": SimpleUploadedFile("p.jpg", jpeg_bytes((9, 9, 9)), content_type="image/jpeg"),
    }


API_CASES: dict[str, list[ApiCase]] = {
    "/api/v1/archives/{id}/": [
        ApiCase(
            "villages.EconomicArchive",
            lambda t, o: {"id": _pk(t, "villages.EconomicArchive")},
            _archive_body,
        )
    ],
    "/api/v1/field-visits/{id}/": [
        ApiCase(
            "villages.FieldVisit", lambda t, o: {"id": _pk(t, "villages.FieldVisit")}, _visit_body
        )
    ],
    "/api/v1/field-visits/{visit_pk}/photos/{id}/": [
        # another's photo id under one's own visit, and a new photo under another's visit
        ApiCase(
            "villages.VisitPhoto",
            lambda t, o: {
                "visit_pk": _pk(o, "villages.FieldVisit"),
                "id": _pk(t, "villages.VisitPhoto"),
            },
            _photo_body,
            multipart=True,
        ),
        ApiCase(
            "villages.FieldVisit",
            lambda t, o: {"visit_pk": _pk(t, "villages.FieldVisit"), "id": uuid.uuid4()},
            _photo_body,
            multipart=True,
        ),
    ],
    "/api/v1/photos/{id}/image/": [
        ApiCase("villages.VisitPhoto", lambda t, o: {"id": _pk(t, "villages.VisitPhoto")})
    ],
    "/api/v1/households/{id}/": [
        ApiCase(
            "villages.Household", lambda t, o: {"id": _pk(t, "villages.Household")}, _household_body
        )
    ],
    "/api/v1/households/{id}/score/": [
        ApiCase("villages.Household", lambda t, o: {"id": _pk(t, "villages.Household")})
    ],
    "/api/v1/households/{id}/decisions/": [
        ApiCase(
            "villages.Household",
            lambda t, o: {"id": _pk(t, "villages.Household")},
            lambda o: {"product": o["products.Product"].pk},
        )
    ],
    "/api/v1/households/{id}/decisions/what-if/": [
        ApiCase(
            "villages.Household",
            lambda t, o: {"id": _pk(t, "villages.Household")},
            lambda o: {"product": o["products.Product"].pk},
        )
    ],
    "/api/v1/applications/{id}/": [
        ApiCase("lending.Application", lambda t, o: {"id": _pk(t, "lending.Application")})
    ],
    "/api/v1/applications/{id}/submit/": [
        ApiCase("lending.Application", lambda t, o: {"id": _pk(t, "lending.Application")})
    ],
    "/api/v1/applications/{id}/attachments/": [
        ApiCase(
            "lending.Application",
            lambda t, o: {"id": _pk(t, "lending.Application")},
            _attachment_body,
            multipart=True,
        )
    ],
    "/api/v1/applications/{id}/investigation/": [
        # another's application with one's own visit: tenancy must refuse before the visit
        ApiCase(
            "lending.Application",
            lambda t, o: {"id": _pk(t, "lending.Application")},
            lambda o: {"visit": str(o["villages.FieldVisit"].pk)},
        )
    ],
    "/api/v1/applications/{id}/resubmit/": [
        ApiCase(
            "lending.Application",
            lambda t, o: {"id": _pk(t, "lending.Application")},
            lambda o: {"comment": "已补充资料"},
        )
    ],
    "/api/v1/applications/{id}/withdraw/": [
        ApiCase(
            "lending.Application",
            lambda t, o: {"id": _pk(t, "lending.Application")},
            lambda o: {"reason": "测试"},
        )
    ],
    "/api/v1/applications/{id}/contract/": [
        ApiCase("lending.Application", lambda t, o: {"id": _pk(t, "lending.Application")})
    ],
    "/api/v1/contracts/{id}/pdf/": [
        ApiCase("lending.Contract", lambda t, o: {"id": _pk(t, "lending.Contract")})
    ],
    "/api/v1/contracts/{id}/signing-codes/": [
        ApiCase(
            "lending.Contract",
            lambda t, o: {"id": _pk(t, "lending.Contract")},
            lambda o: {"member": str(o["lending.Contract"].application.applicant_id)},
        )
    ],
    "/api/v1/contracts/{id}/sign/": [
        ApiCase(
            "lending.Contract",
            lambda t, o: {"id": _pk(t, "lending.Contract")},
            lambda o: {
                "member": str(o["lending.Contract"].application.applicant_id),
                "code": "123456",
                "document_sha256": o["lending.Contract"].sha256,
                "signature": "iVBORw0KGgo=",
                "device_id": "matrix",
            },
        )
    ],
    "/api/v1/credit-lines/{id}/": [
        ApiCase("lending.CreditLine", lambda t, o: {"id": _pk(t, "lending.CreditLine")})
    ],
    "/api/v1/credit-lines/{id}/drawdowns/": [
        ApiCase(
            "lending.CreditLine",
            lambda t, o: {"id": _pk(t, "lending.CreditLine")},
            lambda o: {
                "client_uuid": str(uuid.uuid4()),
                "amount": "1000.00",
                "term_months": 6,
                "method": "equal_instalment",
                "deposit_account": o["lending.SandboxDepositAccount"].account,
            },
        )
    ],
    "/api/v1/loans/{id}/": [ApiCase("lending.Loan", lambda t, o: {"id": _pk(t, "lending.Loan")})],
    "/api/v1/loans/{id}/quote/": [
        ApiCase("lending.Loan", lambda t, o: {"id": _pk(t, "lending.Loan")})
    ],
    "/api/v1/loans/{id}/repayments/": [
        ApiCase(
            "lending.Loan",
            lambda t, o: {"id": _pk(t, "lending.Loan")},
            lambda o: {"amount": "10.00"},
        )
    ],
    "/api/v1/decisions/{id}/": [
        ApiCase("risk.Decision", lambda t, o: {"id": _pk(t, "risk.Decision")})
    ],
    "/api/v1/members/{id}/": [
        ApiCase("villages.Member", lambda t, o: {"id": _pk(t, "villages.Member")}, _member_body)
    ],
    "/api/v1/org/institutions/{id}/": [
        ApiCase("org.Institution", lambda t, o: {"id": _pk(t, "org.Institution")})
    ],
    "/api/v1/org/staff/{id}/": [ApiCase("org.Staff", lambda t, o: {"id": _pk(t, "org.Staff")})],
    "/api/v1/peer-review/rounds/{round_pk}/close/": [
        ApiCase(
            "villages.PeerReviewRound",
            lambda t, o: {"round_pk": _pk(t, "villages.PeerReviewRound")},
        )
    ],
    "/api/v1/peer-review/rounds/{round_pk}/evaluators/": [
        ApiCase(
            "villages.PeerReviewRound",
            lambda t, o: {"round_pk": _pk(t, "villages.PeerReviewRound")},
            lambda o: {"name": "越权评议员", "kind": "elder", "phone": "13903579876"},
        )
    ],
    "/api/v1/peer-review/rounds/{round_pk}/households/": [
        ApiCase(
            "villages.PeerReviewRound",
            lambda t, o: {"round_pk": _pk(t, "villages.PeerReviewRound")},
            as_evaluator=True,
        )
    ],
    "/api/v1/peer-review/rounds/{round_pk}/votes/{household_pk}/": [
        # a household outside the evaluator's round, and another's round
        ApiCase(
            "villages.Household",
            lambda t, o: {
                "round_pk": _pk(o, "villages.PeerReviewRound"),
                "household_pk": _pk(t, "villages.Household"),
            },
            lambda o: {"colour": "black", "reason": "测试"},
            as_evaluator=True,
        ),
        ApiCase(
            "villages.PeerReviewRound",
            lambda t, o: {
                "round_pk": _pk(t, "villages.PeerReviewRound"),
                "household_pk": _pk(t, "villages.Household"),
            },
            lambda o: {"colour": "black", "reason": "测试"},
            as_evaluator=True,
        ),
    ],
    "/api/v1/products/{id}/": [
        ApiCase("products.Product", lambda t, o: {"id": _pk(t, "products.Product")})
    ],
    "/api/v1/products/{id}/clone/": [
        ApiCase(
            "products.Product",
            lambda t, o: {"id": _pk(t, "products.Product")},
            lambda o: {"code": "T-CLONE", "name": "克隆测试"},
        )
    ],
    "/api/v1/products/versions/{id}/schedule-preview/": [
        ApiCase("products.ProductVersion", lambda t, o: {"id": _pk(t, "products.ProductVersion")})
    ],
    "/api/v1/risk/scoring-jobs/{id}/": [
        ApiCase("risk.ScoringJob", lambda t, o: {"id": _pk(t, "risk.ScoringJob")})
    ],
    "/api/v1/villages/{id}/households/": [
        ApiCase("villages.Village", lambda t, o: {"id": _pk(t, "villages.Village")})
    ],
    "/api/v1/villages/imports/{id}/": [
        ApiCase("villages.ImportJob", lambda t, o: {"id": _pk(t, "villages.ImportJob")})
    ],
    "/api/v1/villages/imports/{id}/confirm/": [
        ApiCase(
            "villages.ImportJob",
            lambda t, o: {"id": _pk(t, "villages.ImportJob")},
            lambda o: {"valid_rows_only": True},
        )
    ],
    "/api/v1/villages/imports/{id}/errors/": [
        ApiCase("villages.ImportJob", lambda t, o: {"id": _pk(t, "villages.ImportJob")})
    ],
}


def api_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def api_operations(schema: dict) -> list[tuple[str, str]]:
    """``(path, method)`` for every operation in the schema."""
    return [
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def admin_object_urls(model_admin) -> list[URLPattern]:
    """The model admin's URL patterns that take an object id: change, delete, history and any
    view the admin adds (exports, comparisons, confirmations)."""
    return [
        pattern
        for pattern in model_admin.urls
        if isinstance(pattern, URLPattern)
        and "object_id" in str(pattern.pattern)
        and pattern.name  # the unnamed catch-all only redirects to the change page
    ]


def admin_url(pattern: URLPattern, object_id) -> str:
    return reverse(f"admin:{pattern.name}", args=[str(object_id)])


def registered_admins():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def village_bound(model, model_admin) -> bool:
    return bool(
        getattr(model_admin, "tenant_village_field", None)
        or getattr(model, "tenant_village_field", None)
    )


def unknown_id(model):
    field = model._meta.pk
    if field.get_internal_type() == "UUIDField":
        return uuid.uuid4()
    if field.get_internal_type() in ("CharField", "TextField"):
        return "f" * 64
    return 2_000_000_000


# Written for the caller, about the caller's own request: the session, and the stored answer
# an Idempotency-Key replays (a refused request's 404 replays as a 404).
NOT_DATA_TABLES = {"django_session", "common_idempotencyrecord"}


def db_fingerprint() -> dict[str, str]:
    """An md5 of every table's rows: equal fingerprints, nothing written."""
    tables = sorted(
        name for name in connection.introspection.table_names() if name not in NOT_DATA_TABLES
    )
    parts = [
        f"SELECT '{name}', md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) "
        f'FROM "{name}" t'
        for name in tables
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return dict(cursor.fetchall())


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in after if before.get(name) != after[name])


def clear_identity(text: str, work_phones: frozenset[str] = frozenset()) -> list[str]:
    """ID numbers and mobiles in clear in ``text``, shown by their last four digits only.

    ``work_phones`` are staff members' work numbers, which a bank administrator edits on the
    staff form and each user sees on their own profile; every other mobile counts."""
    text = UUID.sub("<uuid>", text)
    found = [f"ID …{m[-4:]}" for m in ID_NUMBER.findall(text)]
    found += [f"mobile …{m[-4:]}" for m in MOBILE.findall(text) if m not in work_phones]
    return found
