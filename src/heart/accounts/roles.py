"""Roles = Django groups made of the capability permissions on accounts.Profile.

The matrix of role x endpoint is in docs/roles.md and tested in
tests/integration/test_roles_matrix.py. Change both with this table.
"""

from __future__ import annotations

CALL_TAKER = "call_taker"
DISPATCHER = "dispatcher"
CRISIS_CLINICIAN = "crisis_clinician"
RESPONDER = "responder"
CARE_NAVIGATOR = "care_navigator"
SUPERVISOR = "supervisor"
ANALYST = "analyst"
ADMIN = "admin"

# supervisors and admins run the whole operation: everything except acting as a team in
# the field (that needs a shift on a team). Only they may correct a call another source
# delivered (update_any_call): a call taker or a CAD client changes its own calls only.
_RUNS_THE_OPERATION = frozenset(
    {
        "intake_call",
        "update_any_call",
        "view_calls",
        "dispatch",
        "ccd_queue",
        "follow_up",
        "manage_teams",
        "view_reports",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    CALL_TAKER: frozenset({"intake_call", "view_calls"}),
    DISPATCHER: frozenset({"intake_call", "view_calls", "dispatch"}),
    CRISIS_CLINICIAN: frozenset({"view_calls", "ccd_queue"}),
    RESPONDER: frozenset({"respond", "post_avl"}),
    CARE_NAVIGATOR: frozenset({"follow_up"}),
    SUPERVISOR: _RUNS_THE_OPERATION,
    ANALYST: frozenset({"view_reports"}),
    # only admins look after the links to other systems (the CAD write-back)
    ADMIN: _RUNS_THE_OPERATION | {"manage_integrations"},
}
ROLES = tuple(ROLE_PERMISSIONS)


def ensure_roles(using: str = "default") -> None:
    """Create or update the role groups (idempotent; runs after every migrate)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from heart.accounts.models import Profile

    ct = ContentType.objects.db_manager(using).get_for_model(Profile)
    perms = {p.codename: p for p in Permission.objects.using(using).filter(content_type=ct)}
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set([perms[c] for c in codenames if c in perms])
