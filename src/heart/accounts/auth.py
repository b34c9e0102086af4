"""API authentication (client bearer tokens or a signed-in session) and role checks."""

from __future__ import annotations

from ninja.security import HttpBearer, SessionAuth

from heart.accounts.actors import Actor
from heart.accounts.models import ApiClient
from heart.accounts.services import client_for_token
from heart.errors import Forbidden

# what an API client's scopes let it do (everything else needs a person)
_SCOPE_FOR = {"intake_call": ApiClient.Scope.INTAKE, "post_avl": ApiClient.Scope.AVL}

_WHAT = {
    "intake_call": "enter calls",
    "update_any_call": "change calls another source delivered",
    "view_calls": "see calls",
    "dispatch": "dispatch teams",
    "respond": "act for a team",
    "ccd_queue": "work the crisis call diversion queue",
    "follow_up": "see follow-up contacts",
    "manage_teams": "manage teams and shifts",
    "view_reports": "see reports",
    "post_avl": "post GPS positions",
    "manage_integrations": "look after the CAD write-back",
    "manage_users": "manage sign-ins and roles",
}


class ClientToken(HttpBearer):
    def authenticate(self, request, token):
        client = client_for_token(token)
        if client is None:
            return None
        request.actor = Actor.for_client(client)
        return request.actor


class UserSession(SessionAuth):
    """Django session, CSRF-checked for unsafe methods. The CSRF check runs only for a
    signed-in person: a request with no session (no or a bad bearer token) is simply
    not authenticated, so it gets 401 as documented, not 403 "CSRF check Failed"."""

    def _get_key(self, request):
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = request.user
        if user.is_authenticated and user.is_active:
            request.actor = Actor.for_user(user)
            return request.actor
        return None


AUTH = [ClientToken(), UserSession()]


def can(actor: Actor, capability: str) -> bool:
    if actor.api_client is not None:
        scope = _SCOPE_FOR.get(capability)
        return scope is not None and scope in (actor.api_client.scopes or [])
    return actor.user is not None and actor.user.has_perm(f"accounts.{capability}")


def require(request, *capabilities: str) -> Actor:
    """The actor if it holds any of the capabilities; else 403 naming what is missing."""
    actor: Actor = request.auth
    if any(can(actor, c) for c in capabilities):
        return actor
    what = " or ".join(_WHAT.get(c, c) for c in capabilities)
    raise Forbidden(f"{actor.label} may not {what}")
