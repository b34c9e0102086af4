"""The one table of who may reach what: every API operation and every page, with the
roles allowed (docs/roles.md prints it; tests/integration/test_endpoint_table.py checks
that it lists exactly the routes of the URL configuration and that every row is
exercised role by role).

Keys: ``"METHOD /api/path"`` as in the OpenAPI document for API operations,
``"PAGE /route"`` in Django's route syntax for pages. A responder's row means "their own
team / their team's call" where the endpoint is about a team or a call.
"""

from __future__ import annotations

from heart.accounts.roles import (
    ADMIN,
    ANALYST,
    CALL_TAKER,
    CARE_NAVIGATOR,
    CRISIS_CLINICIAN,
    DISPATCHER,
    RESPONDER,
    ROLES,
    SUPERVISOR,
)

PUBLIC = frozenset({"anonymous", *ROLES})  # no sign-in needed
SIGNED_IN = frozenset(ROLES)
INTAKE = frozenset({CALL_TAKER, DISPATCHER, SUPERVISOR, ADMIN})
VIEW = frozenset({CALL_TAKER, DISPATCHER, CRISIS_CLINICIAN, SUPERVISOR, ADMIN})
DISPATCH = frozenset({DISPATCHER, SUPERVISOR, ADMIN})
CCD = frozenset({CRISIS_CLINICIAN, SUPERVISOR, ADMIN})
TEAM_ACT = DISPATCH | {RESPONDER}
PEOPLE = frozenset({CRISIS_CLINICIAN, CARE_NAVIGATOR, SUPERVISOR, ADMIN})
NAV = frozenset({CARE_NAVIGATOR, SUPERVISOR, ADMIN})
SUP = frozenset({SUPERVISOR, ADMIN})
REPORTS = frozenset({ANALYST, SUPERVISOR, ADMIN})

ENDPOINTS: dict[str, frozenset[str]] = {
    # calls: intake, reading, crisis line
    "POST /api/calls/eido": INTAKE,
    "POST /api/calls": INTAKE,
    # correcting another source's call: update_any_call (a call's own source may too)
    "PUT /api/calls/{call_id}": SUP,
    "GET /api/calls": VIEW,
    "GET /api/calls/{call_id}": VIEW | {RESPONDER},
    "GET /api/ccd/queue": CCD,
    "POST /api/calls/{call_id}/ccd-outcome": CCD,
    "POST /api/calls/{call_id}/ccd-claim": CCD,
    "POST /api/calls/{call_id}/ccd-release": CCD,
    "GET /api/geocode": INTAKE,
    "GET /api/reports/summary": REPORTS,
    # dispatch and teams
    "GET /api/calls/{call_id}/recommendation": DISPATCH,
    "POST /api/calls/{call_id}/assign": DISPATCH,
    "POST /api/calls/{call_id}/co-response": DISPATCH,
    "POST /api/calls/{call_id}/keep-team": DISPATCH,
    "POST /api/calls/{call_id}/release": DISPATCH,
    "POST /api/calls/{call_id}/close": DISPATCH,
    "POST /api/calls/{call_id}/notes": DISPATCH,
    "POST /api/backups/{backup_call_id}/ack": DISPATCH,
    # a responder: only their own team's request, once acknowledged
    "GET /api/backups/{backup_call_id}/ack": DISPATCH | {RESPONDER},
    "GET /api/calls/{call_id}/overrides": VIEW,
    "GET /api/reports/overrides": REPORTS,
    # the CAD write-back's dead letters: admins only (manage_integrations)
    "GET /api/cad/dead-letters": frozenset({ADMIN}),
    "POST /api/cad/dead-letters/{message_id}/replay": frozenset({ADMIN}),
    "POST /api/cad/dead-letters/{message_id}/discard": frozenset({ADMIN}),
    "GET /api/teams": VIEW,
    "POST /api/teams": SUP,
    "POST /api/teams/{team_id}/shifts": SUP,
    "GET /api/shifts": SUP,
    "POST /api/shifts/{shift_id}/end": SUP,
    "GET /api/training": SUP,
    "POST /api/training/records": SUP,
    "POST /api/teams/{team_id}/status": TEAM_ACT,
    "POST /api/teams/{team_id}/backup": TEAM_ACT,
    "POST /api/teams/{team_id}/clear": TEAM_ACT,
    "GET /api/me": frozenset({RESPONDER}),
    "POST /api/avl": frozenset({RESPONDER}),
    # care
    "GET /api/follow-ups": NAV,
    "GET /api/care/queue": PEOPLE,
    "GET /api/care/tasks/{task_id}": PEOPLE,
    "POST /api/care/tasks/{task_id}/take": NAV,
    "POST /api/care/tasks/{task_id}/release": NAV,
    "POST /api/care/tasks/{task_id}/attempts": NAV,
    "POST /api/care/encounters/{encounter_id}/consent": PEOPLE,
    "POST /api/care/encounters/{encounter_id}/person": PEOPLE,
    "GET /api/care/people": PEOPLE,
    "POST /api/care/people": PEOPLE,
    "GET /api/care/people/{person_id}": PEOPLE,
    "PATCH /api/care/people/{person_id}": PEOPLE,
    "GET /api/care/people/{person_id}/timeline": PEOPLE,
    "GET /api/care/people/{person_id}/duplicates": PEOPLE,
    "POST /api/care/people/{person_id}/merge": NAV,
    "POST /api/care/merges/{merge_id}/undo": NAV,
    "GET /api/care/people/{person_id}/audit": SUP,
    "GET /api/care/people/{person_id}/export": SUP,
    "POST /api/care/people/{person_id}/erase": SUP,
    "GET /api/care/people/{person_id}/fhir": PEOPLE,
    "GET /api/care/providers": PEOPLE,
    "POST /api/care/providers": NAV,
    "POST /api/care/referrals": NAV,
    "POST /api/care/referrals/{referral_id}/status": NAV,
    "GET /api/care/calls/{call_id}/repeat": VIEW,
    "GET /api/care/calls/{call_id}/people": PEOPLE | {RESPONDER},
    "GET /api/care/reports/sla": NAV | {ANALYST},
    "GET /api/care/reports/before-after": REPORTS,
    # pages
    # the public website (English at /, Spanish at /es/…): no sign-in; "/" sends
    # signed-in staff on to their page
    "PAGE /": PUBLIC,
    "PAGE /about/": PUBLIC,
    "PAGE /hours-and-area/": PUBLIC,
    "PAGE /privacy/": PUBLIC,
    "PAGE /feedback/": PUBLIC,
    "PAGE /reports/": PUBLIC,
    r"PAGE /reports/(?P<month>\d{4}-\d{2})/$": PUBLIC,
    r"PAGE /reports/(?P<month>\d{4}-\d{2})/(?P<name>(data|charts)/[a-z_-]+\.(csv|png)|[a-z]+\.(pdf|json))$": PUBLIC,
    "PAGE /public/area.geojson": PUBLIC,
    # staff reports (exact figures of any period)
    "PAGE /staff/reports/": REPORTS,
    r"PAGE /staff/reports/data/(?P<name>[a-z_]+)\.csv$": REPORTS,
    "PAGE /board/": VIEW,
    "PAGE /board/state": VIEW,
    "PAGE /board/areas.geojson": VIEW | {RESPONDER},
    "PAGE /board/tiles/<int:z>/<int:x>/<int:y>": VIEW | {RESPONDER},
    "PAGE /live/events": VIEW,  # ?scope=board; ?scope=team: responders, their own team
    "PAGE /responder/": frozenset({RESPONDER}),
    "PAGE /responder/sw.js": frozenset({RESPONDER}),
    "PAGE /responder/status": frozenset({RESPONDER}),
    "PAGE /responder/backup": frozenset({RESPONDER}),
    "PAGE /responder/clear": frozenset({RESPONDER}),
    "PAGE /ccd/": CCD,
    "PAGE /ccd/<int:call_id>/outcome": CCD,
    "PAGE /ccd/<int:call_id>/claim": CCD,
    "PAGE /ccd/<int:call_id>/release": CCD,
    "PAGE /calls/new": INTAKE,
    "PAGE /care/queue": PEOPLE,
    "PAGE /care/sla": NAV | {ANALYST},
    "PAGE /care/tasks/<int:task_id>": PEOPLE,
    "PAGE /care/providers": NAV,
    "PAGE /care/providers/<int:provider_id>": NAV,
    "PAGE /care/people/<int:person_id>": PEOPLE,
    "PAGE /care/people/<int:person_id>/audit": SUP,
    "PAGE /care/people/<int:person_id>/fhir": PEOPLE,
    "PAGE /staff/cad/": frozenset({ADMIN}),
    "PAGE /staff/cad/<int:message_id>/replay": frozenset({ADMIN}),
    "PAGE /staff/cad/<int:message_id>/discard": frozenset({ADMIN}),
    "PAGE /staff/": SUP,
    "PAGE /staff/teams": SUP,
    "PAGE /staff/teams/new": SUP,
    "PAGE /staff/teams/<int:team_id>": SUP,
    "PAGE /accounts/users": SUP,
    "PAGE /accounts/users/new": SUP,
    "PAGE /accounts/users/<int:user_id>/role": SUP,
    "PAGE /accounts/users/<int:user_id>/active": SUP,
    "PAGE /staff/shifts": SUP,
    "PAGE /staff/shifts/<int:shift_id>/end": SUP,
    "PAGE /staff/shifts/<int:shift_id>/until": SUP,
    "PAGE /staff/training": SUP,
    "PAGE /staff/training/<int:record_id>/remove": SUP,
    "PAGE /plan/": REPORTS,
    "PAGE /plan/charts/<str:name>": REPORTS,
    "PAGE /accounts/security": SUP,
    "PAGE /accounts/otp/": SIGNED_IN,
    "PAGE /accounts/otp/qr.svg": SIGNED_IN,
    "PAGE /accounts/otp/verify": SIGNED_IN,
    "PAGE /accounts/alive": SIGNED_IN,
    "PAGE /accounts/password_change/": SIGNED_IN,
    "PAGE /accounts/password_change/done/": SIGNED_IN,
    "PAGE /accounts/logout/": PUBLIC,  # anyone may sign out
    "PAGE /accounts/login/": PUBLIC,
    "PAGE /healthz": PUBLIC,
    "PAGE /csp-report": PUBLIC,
    "PAGE /api/docs": PUBLIC,
    "PAGE /api/openapi.json": PUBLIC,
}
# not in the table: /admin/ (Django superusers only; tests/integration/test_admin.py) and
# /static/ (files)


def key_for(method: str, url: str) -> str:
    """The table key of a request: its resolved route (placeholders like {c1} or {task}
    in the URL stand for any id)."""
    import re

    from django.urls import resolve

    path = re.sub(r"\{[a-z0-9_]+\}", "1", url.split("?", 1)[0])
    route = "/" + resolve(path).route.replace("^", "")  # regex routes: no anchors in keys
    if route.startswith("/api/") and route not in ("/api/docs", "/api/openapi.json"):
        return f"{method.upper()} " + re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route)
    return "PAGE " + route


def access_for(method: str, url: str) -> frozenset[str]:
    """Who may make this request, from the table."""
    return ENDPOINTS[key_for(method, url)]


def render_markdown() -> str:
    """The table as docs/roles.md prints it (x = allowed)."""
    roles = list(ROLES)
    head = "| endpoint | " + " | ".join(roles) + " |"
    rule = "|---|" + "|".join(":-:" for _ in roles) + "|"
    rows = []
    for key, who in ENDPOINTS.items():
        label = "public (no sign-in)" if "anonymous" in who else ""
        cells = " | ".join("x" if r in who else "" for r in roles)
        rows.append(f"| `{key}`{' ' + label if label else ''} | {cells} |")
    return "\n".join([head, rule, *rows])
