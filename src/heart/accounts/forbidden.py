"""Who may open which page: what the friendly 403 page says (heart.web.views.forbidden).

Pages are matched by their path, longest prefix first. The roles come from the
capability each page checks (roles.roles_with), so they follow the role table;
tests/integration/test_forbidden_page.py keeps them equal to the one endpoint table.
"""

from __future__ import annotations

import re

from heart.accounts.roles import (
    ADMIN,
    ANALYST,
    CARE_NAVIGATOR,
    CRISIS_CLINICIAN,
    SUPERVISOR,
    roles_with,
)

_SUP = [SUPERVISOR, ADMIN]

PAGES: list[tuple[str, list[str]]] = [
    ("/staff/cad/", roles_with("manage_integrations")),
    ("/staff/reports/", roles_with("view_reports")),
    ("/staff/", roles_with("manage_teams")),
    ("/accounts/users", roles_with("manage_users")),
    ("/accounts/security", _SUP),
    ("/plan/", roles_with("view_reports")),
    ("/board/areas.geojson", roles_with("view_calls", "respond")),
    ("/board/tiles/", roles_with("view_calls", "respond")),  # the base map, board and phone
    ("/board/", roles_with("view_calls")),
    ("/live/events", roles_with("view_calls")),  # ?scope=team: responders, their team
    ("/responder/", roles_with("respond")),
    ("/ccd/", roles_with("ccd_queue")),
    ("/calls/", roles_with("intake_call")),
    ("/care/sla", [CARE_NAVIGATOR, ANALYST, SUPERVISOR, ADMIN]),
    ("/care/providers", [CARE_NAVIGATOR, SUPERVISOR, ADMIN]),  # the provider directory
    (r"/care/people/\d+/audit", _SUP),
    ("/care/", [CRISIS_CLINICIAN, CARE_NAVIGATOR, SUPERVISOR, ADMIN]),
    ("/admin/", [ADMIN]),
]


def roles_for(path: str) -> list[str] | None:
    """The roles that may open the page at ``path`` (None: not a page listed here)."""
    best: tuple[int, list[str]] | None = None
    for pattern, roles in PAGES:
        m = re.match(pattern, path)
        if m and (best is None or m.end() > best[0]):
            best = (m.end(), roles)
    return best[1] if best else None
