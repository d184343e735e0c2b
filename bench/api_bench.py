"""Request overhead of the API base: a tenancy-scoped list and the /me endpoint.

Baseline: the bare SQL the list needs, run through the same connection; the ratio shows what
Django, DRF, tenancy and serialisation add on top.
"""

from __future__ import annotations

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _time(fn, repeat: int) -> list[float]:
    fn()  # warm caches and connections
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def run(*, quick: bool) -> list[dict]:
    repeat = 30 if quick else 200
    user = get_user_model().objects.get(username="b1_admin")
    client = APIClient()
    client.force_authenticate(user)

    def staff_list():
        response = client.get("/api/v1/org/staff/")
        assert response.status_code == 200

    def staff_sql():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.id, s.full_name, s.employee_no, s.phone, i.code, i.name "
                "FROM org_staff s JOIN org_institution i ON i.id = s.institution_id "
                "WHERE s.bank_id = %s ORDER BY i.code, s.employee_no LIMIT 50",
                [user.staff.bank_id],
            )
            cursor.fetchall()

    list_ms = _p50(_time(staff_list, repeat))
    sql_ms = _p50(_time(staff_sql, repeat))

    me_ms = _p50(_time(lambda: client.get("/api/v1/me/"), repeat))

    return [
        {
            "name": "api_staff_list_p50",
            "value": round(list_ms, 3),
            "unit": "ms",
            "goal": 50.0,
            "baseline": round(sql_ms, 3),
            "ratio": round(list_ms / sql_ms, 2),
        },
        {
            "name": "api_me_p50",
            "value": round(me_ms, 3),
            "unit": "ms",
            "goal": 30.0,
            "baseline": round(sql_ms, 3),
            "ratio": round(me_ms / sql_ms, 2),
        },
    ]
