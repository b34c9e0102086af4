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
        "manage_users",
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

# what each role is called on pages (the codes above are for the API and the code)
ROLE_LABELS: dict[str, str] = {
    CALL_TAKER: "call taker",
    DISPATCHER: "dispatcher",
    CRISIS_CLINICIAN: "crisis clinician",
    RESPONDER: "responder",
    CARE_NAVIGATOR: "care navigator",
    SUPERVISOR: "supervisor",
    ANALYST: "analyst",
    ADMIN: "admin",
}

# the Django admin site (/admin/) is for the admin role: staff status comes with the
# role (set_role, create_user; ensure_roles mends older accounts), and these model
# permissions with its group. Users and groups are not among them: sign-ins and roles
# change only through heart.accounts.services, which audits them (/accounts/users).
ADMIN_SITE_PERMISSIONS = (
    "care.view_provider",
    "care.add_provider",
    "care.change_provider",
    "calls.view_call",
    "cad.view_outboxmessage",
)


def roles_with(*capabilities: str) -> list[str]:
    """The roles holding any of these capabilities, in the table's order."""
    return [r for r, caps in ROLE_PERMISSIONS.items() if caps & set(capabilities)]


def ensure_roles(using: str = "default") -> None:
    """Create or update the role groups (idempotent; runs after every migrate)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from heart.accounts.models import Profile

    ct = ContentType.objects.db_manager(using).get_for_model(Profile)
    perms = {p.codename: p for p in Permission.objects.using(using).filter(content_type=ct)}
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        wanted = [perms[c] for c in codenames if c in perms]
        if role == ADMIN:
            for dotted in ADMIN_SITE_PERMISSIONS:
                app_label, codename = dotted.split(".")
                p = Permission.objects.using(using).filter(
                    content_type__app_label=app_label, codename=codename
                )
                wanted.extend(p)
        group.permissions.set(wanted)
    # staff status (the admin site) follows the admin role, for accounts made before
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.db_manager(using)
    users.filter(groups__name=ADMIN, is_staff=False).update(is_staff=True)
