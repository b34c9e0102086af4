"""Writes for accounts: API clients, audit rows, role membership."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.models import ApiClient, AuditEntry, Discipline, Profile
from heart.accounts.roles import ADMIN, RESPONDER, ROLES
from heart.errors import Conflict, Forbidden, Invalid, NotFound

TOKEN_PREFIX = "heart_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_client(*, name: str, scopes: list[str] | None = None) -> tuple[ApiClient, str]:
    """Create a client; returns (client, token). The token is shown once, never stored."""
    name = name.strip()
    if not name:
        raise Invalid("name: must not be empty", path="name")
    scopes = sorted(set(scopes or [ApiClient.Scope.INTAKE]))
    unknown = set(scopes) - set(ApiClient.Scope.values)
    if unknown:
        raise Invalid(
            f"scope: unknown {sorted(unknown)} (one of {ApiClient.Scope.values})", path="scope"
        )
    if ApiClient.objects.filter(name=name).exists():
        raise Conflict(f"name: an API client called {name!r} exists", path="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        client = ApiClient.objects.create(
            name=name, token_hash=hash_token(token), token_prefix=token[:12], scopes=scopes
        )
        audit(actor=Actor("system"), action="apiclient.create", obj=client, data={"scopes": scopes})
    return client, token


# token -> client cache per process: intake must not pay a query per request. An entry
# is trusted only while this process hears revocations from the others (PostgreSQL
# LISTEN, heart.live.pg): a revocation is announced on commit ("apiclient.revoked") and
# every listening process drops its cache at once. A process that is not listening (the
# in-process backend: SQLite, one server; or a listener that is reconnecting) looks the
# token up on every request, so a revocation by `heart apiclient revoke` in another
# process is refused at once there too.
_cache: dict[str, tuple[float, int, ApiClient | None]] = {}
_cache_lock = threading.Lock()
CACHE_SECONDS = 30.0
REVOKED_EVENT = "apiclient.revoked"


def _listening_epoch() -> int | None:
    """The current LISTEN epoch when revocations from other processes reach this one."""
    from heart.live.broadcast import get_backend

    backend = get_backend()
    ready = getattr(backend, "ready", None)
    if ready is None or not ready.is_set():
        return None
    return backend.epoch


def client_for_token(token: str) -> ApiClient | None:
    digest = hash_token(token)
    now = time.monotonic()
    epoch = _listening_epoch()
    if epoch is not None:
        with _cache_lock:
            hit = _cache.get(digest)
        if hit and hit[1] == epoch and now - hit[0] < CACHE_SECONDS:
            return hit[2]
    client = ApiClient.objects.filter(token_hash=digest, active=True).first()
    if client is not None and (
        client.last_used_at is None
        or timezone.now() - client.last_used_at > dt.timedelta(minutes=5)
    ):
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
    if epoch is not None:
        with _cache_lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[digest] = (now, epoch, client)
    return client


def revoke_api_client(*, name: str, actor: Actor) -> ApiClient:
    """Deactivate a client's token (audited). Refused at once by this process and, on
    commit, by every other server process (the revocation is announced to them)."""
    from heart.live.broadcast import publish_on_commit

    with transaction.atomic():
        client = ApiClient.objects.select_for_update().filter(name=name).first()
        if client is None:
            raise NotFound(f"name: no API client called {name!r}", path="name")
        if client.active:
            client.active = False
            client.save(update_fields=["active"])
            audit(actor=actor, action="apiclient.revoke", obj=client)
        publish_on_commit(REVOKED_EVENT, {"client_id": client.pk})
    clear_token_cache()
    return client


def clear_token_cache() -> None:
    with _cache_lock:
        _cache.clear()


def on_live_event(name: str, payload: dict) -> None:
    """heart.live subscriber: a revocation anywhere empties this process's token cache."""
    if name == REVOKED_EVENT:
        clear_token_cache()


def audit(*, actor: Actor, action: str, obj, data: dict | None = None, at=None) -> AuditEntry:
    return AuditEntry.objects.create(
        at=at or timezone.now(),
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        data=data or {},
    )


def create_user(
    *,
    username: str,
    password: str,
    role: str,
    discipline: str = "",
    email: str = "",
    actor: Actor | None = None,
):
    """A login for a staff member in one role (responders need a discipline). People in
    care are made by heart.care.services.create_person. Admins get staff status (the
    admin site). With an ``actor`` (the users page) only an admin may make an admin, the
    password must pass the password rules, and the creation is audited."""
    username = (username or "").strip()
    _check_role(role=role, discipline=discipline, actor=actor)
    if not username:
        raise Invalid("username: must not be empty", path="username")
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"username: {username!r} is taken", path="username")
    if actor is not None:
        _check_password(password, username=username)
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, password=password, email=email, is_staff=role == ADMIN
        )
        user.groups.add(Group.objects.get(name=role))
        Profile.objects.create(user=user, discipline=discipline)
        if actor is not None:
            audit(actor=actor, action="user.create", obj=user, data={"role": role})
    return user


def _is_admin(actor: Actor | None) -> bool:
    u = actor.user if actor is not None else None
    return u is not None and (u.is_superuser or u.groups.filter(name=ADMIN).exists())


def _check_role(*, role: str, discipline: str, actor: Actor | None) -> None:
    if role not in ROLES:
        raise Invalid(f"role: unknown role {role!r} (one of {list(ROLES)})", path="role")
    if role == RESPONDER and not discipline:
        raise Invalid("discipline: a responder needs a discipline", path="discipline")
    if discipline and discipline not in Discipline.values:
        raise Invalid(
            f"discipline: unknown {discipline!r} (one of {Discipline.values})", path="discipline"
        )
    if role == ADMIN and actor is not None and not _is_admin(actor):
        raise Forbidden(f"{actor.label} may not make an admin: only an admin may")


MIN_PASSWORD = 12  # for sign-ins made on the users page (plus any configured validators)


def _check_password(password: str, *, username: str) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if len(password or "") < MIN_PASSWORD:
        raise Invalid(f"password: at least {MIN_PASSWORD} characters", path="password")
    User = get_user_model()
    try:
        validate_password(password or "", user=User(username=username))
    except ValidationError as exc:
        raise Invalid("password: " + " ".join(exc.messages), path="password") from None


def current_role(user) -> str | None:
    names = set(user.groups.values_list("name", flat=True))
    return next((r for r in ROLES if r in names), None)


def set_role(*, user, role: str, actor: Actor, discipline: str | None = None):
    """Give a sign-in one role (replacing the one it had); staff status follows the admin
    role. Only an admin may grant or take away the admin role; nobody changes their own."""
    from django.contrib.auth.models import Group as G

    User = get_user_model()
    with transaction.atomic():
        u = User.objects.select_for_update().get(pk=user.pk)
        before = current_role(u)
        profile, _ = Profile.objects.get_or_create(user=u)
        disc = profile.discipline if discipline is None else discipline
        _check_role(role=role, discipline=disc if role == RESPONDER else "", actor=actor)
        if actor.user is not None and actor.user.pk == u.pk:
            raise Conflict("user: you may not change your own role", path="user")
        if before == ADMIN and not _is_admin(actor):
            raise Forbidden(f"{actor.label} may not change an admin's role: only an admin may")
        u.groups.remove(*G.objects.filter(name__in=ROLES))
        u.groups.add(G.objects.get(name=role))
        u.is_staff = role == ADMIN
        u.save(update_fields=["is_staff"])
        if role == RESPONDER and disc != profile.discipline:
            profile.discipline = disc
            profile.save(update_fields=["discipline"])
        audit(actor=actor, action="user.role", obj=u, data={"from": before, "to": role})
    return u


def set_active(*, user, active: bool, actor: Actor):
    """Deactivate a sign-in (it can no longer sign in; its records stay) or activate it
    again. Nobody deactivates themselves; only an admin deactivates an admin."""
    User = get_user_model()
    with transaction.atomic():
        u = User.objects.select_for_update().get(pk=user.pk)
        if actor.user is not None and actor.user.pk == u.pk:
            raise Conflict("user: you may not deactivate yourself", path="user")
        if current_role(u) == ADMIN and not _is_admin(actor):
            raise Forbidden(f"{actor.label} may not change an admin: only an admin may")
        if u.is_active != active:
            u.is_active = active
            u.save(update_fields=["is_active"])
            audit(actor=actor, action="user.activate" if active else "user.deactivate", obj=u)
    return u
