"""The role x endpoint matrix is generated from the URL configuration (issue 11): every
API operation (from the OpenAPI document) and every page (from the URL resolver) must
have a row in the one table, tests/integration/endpoints.py, and every row is exercised
for every role (here, in test_roles_matrix.py or in test_care_api.py). A new endpoint
without a row fails here; docs/roles.md prints the same table."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from heart.accounts.roles import ROLES
from tests.integration import test_care_api, test_roles_matrix
from tests.integration.endpoints import ENDPOINTS, access_for, key_for, render_markdown
from tests.integration.test_care_api import world  # noqa: F401 (the care world)
from tests.integration.test_public_site import published  # noqa: F401 (a published month)

ROOT = Path(__file__).resolve().parents[2]

# the pages and operations the two matrices do not reach: (method, url, body)
EXTRA = [
    ("post", "/api/care/tasks/{task}/release", {}),
    ("post", "/api/care/merges/{merge}/undo", {}),
    ("get", "/", None),
    ("get", "/about/", None),
    ("get", "/hours-and-area/", None),
    ("get", "/privacy/", None),
    ("get", "/feedback/", None),
    ("get", "/reports/", None),
    ("get", "/reports/2024-03/", None),
    ("get", "/reports/2024-03/summary.json", None),
    ("get", "/public/area.geojson", None),
    ("get", "/staff/reports/", None),
    ("get", "/staff/reports/data/by_route.csv", None),
    ("get", "/board/", None),
    ("get", "/board/state", None),
    ("get", "/board/areas.geojson", None),
    ("get", "/board/tiles/0/0/0", None),
    ("get", "/live/events?scope=board", None),
    ("get", "/responder/", None),
    ("get", "/responder/sw.js", None),
    ("post", "/responder/status", {"status": "en_route"}),
    ("post", "/responder/backup", {"note": ""}),
    ("post", "/responder/clear", {"outcome": "refused"}),
    ("get", "/ccd/", None),
    ("post", "/ccd/{call}/outcome", {"outcome": "hand_back"}),
    ("post", "/ccd/{call}/claim", {}),
    ("post", "/ccd/{call}/release", {}),
    ("get", "/care/sla", None),
    ("post", "/staff/shifts", {}),
    ("post", "/staff/shifts/999999/end", {}),
    ("post", "/staff/shifts/999999/until", {}),
    ("post", "/staff/training", {}),
    ("post", "/staff/training/999999/remove", {}),
    ("get", "/staff/teams", None),
    ("post", "/staff/teams/new", {}),
    ("get", "/staff/teams/999999", None),
    ("get", "/accounts/users", None),
    ("post", "/accounts/users/new", {}),
    ("post", "/accounts/users/999999/role", {}),
    ("post", "/accounts/users/999999/active", {}),
    ("get", "/staff/cad/", None),
    ("post", "/staff/cad/999999/replay", {}),
    ("post", "/staff/cad/999999/discard", {}),
    ("get", "/api/cad/dead-letters", None),
    ("post", "/api/cad/dead-letters/999999/replay", {}),
    ("post", "/api/cad/dead-letters/999999/discard", {}),
    ("get", "/plan/", None),
    ("get", "/plan/charts/nothing.png", None),
    ("get", "/accounts/security", None),
    ("get", "/accounts/otp/", None),
    ("get", "/accounts/otp/qr.svg", None),
    ("get", "/accounts/otp/verify", None),
    ("get", "/accounts/alive", None),
    ("get", "/accounts/password_change/", None),
    ("get", "/accounts/password_change/done/", None),
    ("get", "/accounts/login/", None),
    ("get", "/healthz", None),
    ("post", "/csp-report", {}),
    ("get", "/api/docs", None),
    ("get", "/api/openapi.json", None),
    ("post", "/accounts/logout/", {}),  # last: it ends the session
]


def routes() -> set[str]:
    """Every route of the service, as table keys."""
    from heart.web.api import api

    keys = {
        f"{method.upper()} {path}"
        for path, ops in api.get_openapi_schema()["paths"].items()
        for method in ops
    }

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern).replace("^", ""))
            else:
                yield (prefix + str(p.pattern)).replace("^", "")  # as key_for writes it

    for route in walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue  # Django superusers only (test_admin.py)
        if route.startswith("api/") and route not in ("api/docs", "api/openapi.json"):
            continue  # the operations above
        keys.add("PAGE /" + route)
    return keys


def exercised() -> set[str]:
    cases = [(m, u) for _, m, u, *_ in test_roles_matrix.ROWS]
    cases += [(m, u) for _, m, u, *_ in test_care_api.ROWS]
    cases += [(m, u) for m, u, _ in EXTRA]
    return {key_for(m, u) for m, u in cases}


def test_every_route_has_a_row_in_the_table():
    have, declared = routes(), set(ENDPOINTS)
    assert not have - declared, (
        f"add rows to tests/integration/endpoints.py: {sorted(have - declared)}"
    )
    assert not declared - have, f"rows for routes that no longer exist: {sorted(declared - have)}"


def test_every_row_is_exercised_for_every_role():
    missing = set(ENDPOINTS) - exercised()
    assert not missing, f"no request case for {sorted(missing)} (add one to EXTRA)"


def test_docs_print_the_table():
    docs = (ROOT / "docs" / "roles.md").read_text()
    table = render_markdown()
    assert table in docs, "docs/roles.md is out of step; paste:\n\n" + table


def _request(client, method, url, body, ids):
    url = test_care_api._fill(url, ids)
    if method == "get":
        return client.get(url, REMOTE_ADDR="10.1.2.3")
    if url.startswith("/api/"):
        return client.post(url, data="{}", content_type="application/json")
    return client.post(url, body or {})


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_extra_rows_role_by_role(role, person, world, published):  # noqa: F811
    """One world per role, every extra row in turn (sign-out last: it ends the session)."""
    user = person(role)
    ids = world(user)
    client = Client()
    client.force_login(user)
    wrong = []
    for method, url, body in EXTRA:
        r = _request(client, method, url, body, ids)
        who = access_for(method, url)
        if role in who:
            ok = r.status_code not in (401, 403) and r.status_code < 500
            if ok and r.status_code == 302 and "anonymous" not in who:
                ok = "/accounts/login" not in r["Location"]
        else:
            ok = r.status_code == 403
        if not ok:
            wrong.append((method, url, r.status_code, r.content[:120]))
    assert not wrong, (role, wrong)


@pytest.mark.django_db
def test_extra_rows_anonymous(world, published):  # noqa: F811
    ids = world(None)
    wrong = []
    for method, url, body in EXTRA:
        r = _request(Client(), method, url, body, ids)
        if "anonymous" in access_for(method, url):
            ok = r.status_code < 400 or r.status_code == 405
        else:
            ok = r.status_code == 401 or (
                r.status_code == 302 and "/accounts/login/" in r["Location"]
            )
        if not ok:
            wrong.append((method, url, r.status_code))
    assert not wrong, wrong
