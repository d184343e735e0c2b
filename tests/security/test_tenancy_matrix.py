"""The tenancy matrix: every object endpoint of the API and every object page of the admin,
aimed at another bank's object (and, for an account manager, at a household of a village they do
not serve), with every method it allows, answers 404 and writes nothing; no admin list or filter
offers another bank's rows; no response to a role without the identity permission shows an ID
number or a mobile in clear.

It walks the OpenAPI schema and the admin registry as they are, so a new endpoint or admin model
is covered without anyone remembering to: one the walker has no foreign object for fails by name.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import resolve
from rest_framework.test import APIClient

from org.tenancy import scope_queryset
from tests.security.walk import (
    API_CASES,
    SHARED_ADMIN_MODELS,
    WRITE_METHODS,
    admin_object_urls,
    admin_url,
    api_operations,
    api_schema,
    changed_tables,
    clear_identity,
    db_fingerprint,
    registered_admins,
    unknown_id,
    village_bound,
)
from tests.security.world import BANK1_ATTACKER, MANAGER_ATTACKER

User = get_user_model()
COUNTS: dict[str, int] = {}


def pytest_terminal_summary_line() -> str:
    return (
        f"tenancy matrix: {COUNTS.get('api', 0)} API endpoints × methods, "
        f"{COUNTS.get('admin_models', 0)} admin models ({COUNTS.get('admin_requests', 0)} "
        f"requests), {COUNTS.get('filters', 0)} filters checked"
    )


def _user(username: str):
    return User.objects.get(username=username)


def _api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _send(client, method: str, url: str, body, multipart: bool):
    call = getattr(client, method)
    if method in WRITE_METHODS:
        # A key, so that endpoints honouring Idempotency-Key get as far as their lookup.
        return call(
            url,
            body or {},
            format="multipart" if multipart else "json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    return call(url)


# --- the API ----------------------------------------------------------------------------------


def _api_walk(world, attacker: str, target: dict, failures: list[str]) -> int:
    """Aim every object path at the objects of ``target``; returns the requests made."""
    staff_client = _api_client(_user(attacker))
    evaluator_client = _api_client(world.own["villages.PeerReviewEvaluator"].user)
    schema = api_schema()
    checked = 0
    for path, method in api_operations(schema):
        if "{" not in path:
            continue
        cases = API_CASES.get(path)
        if cases is None:
            failures.append(f"API {path}: the matrix has no foreign object for this path")
            continue
        for case in cases:
            if case.target not in target:
                if target is world.foreign:
                    failures.append(f"API {path}: no foreign {case.target} in the world")
                continue  # not village-bound: the account manager sees the whole bank's
            url = path.format(**case.kwargs(target, world.own))
            body = case.body(world.own) if case.body and method in WRITE_METHODS else None
            client = evaluator_client if case.as_evaluator else staff_client
            before = db_fingerprint() if method in WRITE_METHODS else None
            response = _send(client, method, url, body, case.multipart)
            checked += 1
            if response.status_code != 404:
                failures.append(
                    f"API {method.upper()} {url} as {attacker} ({case.target}): "
                    f"{response.status_code} {response.content.decode()[:200]}"
                )
            if before is not None and (changed := changed_tables(before, db_fingerprint())):
                failures.append(f"API {method.upper()} {url} as {attacker} wrote {changed}")
    return checked


def _api_filter_oracles(world, attacker: str, target: dict, failures: list[str]) -> int:
    """Every list endpoint's foreign-key filter answers another bank's id exactly as an id that
    does not exist."""
    client = _api_client(_user(attacker))
    checked = 0
    for path, method in api_operations(api_schema()):
        if method != "get" or "{" in path:
            continue
        view = resolve(path).func.cls(request=None, format_kwarg=None)
        filterset_class = _filterset_class(view)
        if filterset_class is None:
            continue
        for name, declared in filterset_class.base_filters.items():
            related = getattr(declared, "queryset", None)
            model = getattr(related, "model", None)
            if model is None or not getattr(model, "tenant_bank_field", None):
                continue
            foreign = target.get(model._meta.label)
            if foreign is None:
                if target is world.foreign:
                    failures.append(f"API {path}?{name}=: no foreign {model._meta.label}")
                continue
            unknown = client.get(path, {name: unknown_id(model)})
            answer = client.get(path, {name: foreign.pk})
            checked += 1
            if (answer.status_code, answer.json()) != (unknown.status_code, unknown.json()):
                failures.append(
                    f"API {path}?{name}=<{model._meta.label} of another> as {attacker}: "
                    f"{answer.status_code} where an unknown id answers {unknown.status_code}"
                )
    return checked


def _filterset_class(view):
    from django_filters.rest_framework import DjangoFilterBackend

    queryset = getattr(view, "queryset", None)
    if queryset is None:
        return None
    return DjangoFilterBackend().get_filterset_class(view, queryset)


# --- the admin --------------------------------------------------------------------------------


def _admin_walk(world, attacker: str, target: dict, failures: list[str]) -> tuple[int, int, int]:
    """Object pages with another's id, changelists and their filters; returns (models, requests,
    filters) checked."""
    user = _user(attacker)
    client = _admin_client(user)
    markers = _foreign_markers(target)
    models = requests = filters = 0
    for model, model_admin in registered_admins():
        label = model._meta.label
        if label in SHARED_ADMIN_MODELS:
            continue
        if target is not world.foreign and not village_bound(model, model_admin):
            continue
        obj = target.get(label)
        if obj is None:
            failures.append(f"admin {label}: the matrix has no foreign object for this model")
            continue
        models += 1
        for pattern in admin_object_urls(model_admin):
            for method in ("get", "post"):
                url = admin_url(pattern, obj.pk)
                body = {"post": "yes"} if pattern.name.endswith("_delete") else {}
                before = db_fingerprint() if method == "post" else None
                response = getattr(client, method)(url, body)
                requests += 1
                if response.status_code != 404:
                    unknown = getattr(client, method)(admin_url(pattern, unknown_id(model)), body)
                    if response.status_code != unknown.status_code or unknown.status_code == 200:
                        failures.append(
                            f"admin {method.upper()} {url} as {attacker}: "
                            f"{response.status_code} (unknown id: {unknown.status_code})"
                        )
                if before is not None and (changed := changed_tables(before, db_fingerprint())):
                    failures.append(f"admin POST {url} as {attacker} wrote {changed}")
        changelist = client.get(admin_url_changelist(model))
        requests += 1
        if changelist.status_code != 200:
            continue
        cl = changelist.context_data["cl"]
        if cl.queryset.filter(pk=obj.pk).exists():
            failures.append(f"admin {label} list as {attacker} shows another's row {obj.pk}")
        for spec in cl.filter_specs:
            filters += 1
            failures.extend(
                f"admin {label} filter {spec.title!r} as {attacker}: {problem}"
                for problem in _filter_problems(spec, cl, user, markers)
            )
    return models, requests, filters


def admin_url_changelist(model) -> str:
    from django.urls import reverse

    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _foreign_markers(target: dict) -> set[str]:
    markers = {str(obj) for obj in target.values() if obj is not None}
    staff = target.get("org.Staff")
    if staff is not None:
        markers |= {staff.employee_no, staff.bank.name}
    return {marker for marker in markers if marker}


def _filter_problems(spec, cl, user, markers: set[str]) -> list[str]:
    problems = []
    if isinstance(spec, RelatedFieldListFilter):
        related = spec.field.remote_field.model
        if getattr(related, "tenant_bank_field", None):
            offered = {str(pk) for pk, _ in spec.lookup_choices}
            visible = {
                str(pk)
                for pk in scope_queryset(related._default_manager.all(), user).values_list(
                    "pk", flat=True
                )
            }
            if offered - visible:
                problems.append(f"offers {len(offered - visible)} {related._meta.label} not theirs")
    for choice in spec.choices(cl):
        display = str(choice.get("display", ""))
        hit = next((m for m in markers if m == display or (len(m) > 4 and m in display)), None)
        if hit:
            problems.append(f"offers another's {display!r}")
    return problems


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attacker", "kit"),
    [(BANK1_ATTACKER, "foreign"), (MANAGER_ATTACKER, "unassigned"), (MANAGER_ATTACKER, "foreign")],
)
def test_another_banks_objects_are_not_found_and_nothing_is_written(world, attacker, kit):
    target = getattr(world, kit)
    failures: list[str] = []
    api = _api_walk(world, attacker, target, failures)
    api_filters = _api_filter_oracles(world, attacker, target, failures)
    models, admin_requests, admin_filters = _admin_walk(world, attacker, target, failures)

    COUNTS["api"] = max(COUNTS.get("api", 0), api)
    COUNTS["admin_models"] = max(COUNTS.get("admin_models", 0), models)
    COUNTS["admin_requests"] = max(COUNTS.get("admin_requests", 0), admin_requests)
    COUNTS["filters"] = max(COUNTS.get("filters", 0), api_filters + admin_filters)
    print(
        f"\n{attacker} → {kit}: {api} API requests, {api_filters} API filters, "
        f"{models} admin models, {admin_requests} admin requests, {admin_filters} admin filters"
    )
    assert not failures, "\n".join(failures)
    if kit == "foreign":
        # Every object path and every bank-owned admin model registered today, at least.
        object_paths = {path for path, _ in api_operations(api_schema()) if "{" in path}
        assert object_paths <= set(API_CASES)
        assert api >= 22
        assert models >= 21 if attacker == BANK1_ATTACKER else models >= 9


# Roles whose users do not see ID numbers and phones in full: a bank administrator, a risk
# officer and the federation (villages.api.serializers.sees_full_identity).
WITHOUT_IDENTITY = ["b1_admin", "b1_risk", "fed_admin"]


@pytest.mark.parametrize("username", WITHOUT_IDENTITY)
def test_no_id_number_or_mobile_in_clear_for_roles_without_identity(world, username):
    from org.models import Staff

    user = _user(username)
    work_phones = frozenset(Staff.objects.exclude(phone="").values_list("phone", flat=True))
    failures: list[str] = []
    checked = 0

    api = _api_client(user)
    for path, method in api_operations(api_schema()):
        if method != "get":
            continue
        urls = [path]
        if "{" in path:
            urls = [path.format(**case.kwargs(world.own, world.own)) for case in API_CASES[path]]
        for url in urls:
            response = api.get(url)
            checked += 1
            if getattr(response, "streaming", False):
                continue  # a photo's picture (villages.api.photos): image bytes, not text
            if found := clear_identity(response.content.decode(errors="replace"), work_phones):
                failures.append(f"API GET {url} as {username}: {found}")

    client = _admin_client(user)
    for model, model_admin in registered_admins():
        obj = world.own.get(model._meta.label) or model._default_manager.order_by("pk").first()
        urls = [admin_url_changelist(model)]
        if obj is not None:
            urls += [
                admin_url(pattern, obj.pk)
                for pattern in admin_object_urls(model_admin)
                if not pattern.name.endswith("_delete")
            ]
        for url in urls:
            response = client.get(url)
            checked += 1
            if response.status_code >= 500:
                failures.append(f"admin GET {url} as {username}: {response.status_code}")
            if response.status_code != 200:
                continue
            text = response.content.decode(errors="replace")
            if found := clear_identity(text, work_phones):
                failures.append(f"admin GET {url} as {username}: {found}")
    print(f"\n{username}: {checked} pages checked for ID numbers and mobiles in clear")
    assert not failures, "\n".join(failures)
