"""The admin role and the Django admin site; sign-ins and roles through the role
service (audited); the friendly 403 page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from heart.accounts.actors import Actor
from heart.accounts.models import AuditEntry
from heart.accounts.roles import ADMIN, ANALYST, DISPATCHER, RESPONDER, SUPERVISOR
from heart.accounts.services import create_user, current_role, set_active, set_role
from heart.errors import Conflict, Forbidden, Invalid

pytestmark = pytest.mark.django_db
PW = "a-long-test-passphrase-42"


def signed_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_an_admin_account_opens_the_admin_site(person):
    admin = person(ADMIN)
    assert admin.is_staff and not admin.is_superuser
    c = signed_in(admin)
    index = c.get("/admin/")
    assert index.status_code == 200
    html = index.content.decode()
    assert "/admin/care/provider/" in html and "/admin/cad/outboxmessage/" in html
    assert "/admin/auth/user/" not in html  # sign-ins change through the audited service
    assert c.get("/admin/care/provider/add/").status_code == 200
    assert c.get("/admin/calls/call/").status_code == 200
    assert c.get("/admin/auth/user/").status_code == 403


def test_other_roles_stay_out_of_the_admin_site(person):
    for role in (SUPERVISOR, DISPATCHER, ANALYST):
        r = signed_in(person(role)).get("/admin/")
        assert r.status_code == 302 and "/admin/login/" in r["Location"]


def test_older_admin_accounts_are_mended_on_migrate(person):
    admin = person(ADMIN)
    get_user_model().objects.filter(pk=admin.pk).update(is_staff=False)
    call_command("migrate", verbosity=0)
    admin.refresh_from_db()
    assert admin.is_staff


def test_set_role_moves_staff_status_and_is_audited(person):
    boss = Actor.for_user(person(ADMIN))
    u = person(DISPATCHER)
    set_role(user=u, role=ADMIN, actor=boss)
    u.refresh_from_db()
    assert current_role(u) == ADMIN and u.is_staff
    set_role(user=u, role=ANALYST, actor=boss)
    u.refresh_from_db()
    assert current_role(u) == ANALYST and not u.is_staff
    assert list(
        AuditEntry.objects.filter(action="user.role", object_id=str(u.pk))
        .order_by("pk")
        .values_list("data", flat=True)
    ) == [{"from": DISPATCHER, "to": ADMIN}, {"from": ADMIN, "to": ANALYST}]


def test_supervisors_may_not_make_or_unmake_admins(person):
    sup = Actor.for_user(person(SUPERVISOR))
    with pytest.raises(Forbidden, match="only an admin"):
        set_role(user=person(DISPATCHER), role=ADMIN, actor=sup)
    with pytest.raises(Forbidden, match="only an admin"):
        set_role(user=person(ADMIN), role=DISPATCHER, actor=sup)
    with pytest.raises(Forbidden, match="only an admin"):
        set_active(user=person(ADMIN), active=False, actor=sup)
    with pytest.raises(Forbidden, match="only an admin"):
        create_user(username="newadmin", password=PW, role=ADMIN, actor=sup)


def test_nobody_changes_or_deactivates_themselves(person):
    me = person(ADMIN)
    with pytest.raises(Conflict, match="your own role"):
        set_role(user=me, role=DISPATCHER, actor=Actor.for_user(me))
    with pytest.raises(Conflict, match="yourself"):
        set_active(user=me, active=False, actor=Actor.for_user(me))


def test_create_user_checks_its_fields(person):
    sup = Actor.for_user(person(SUPERVISOR))
    with pytest.raises(Invalid, match="role: unknown"):
        create_user(username="x1", password=PW, role="boss", actor=sup)
    with pytest.raises(Invalid, match="discipline: a responder needs"):
        create_user(username="x2", password=PW, role=RESPONDER, actor=sup)
    with pytest.raises(Invalid, match="password:"):
        create_user(username="x3", password="123", role=DISPATCHER, actor=sup)
    u = create_user(username="x4", password=PW, role=DISPATCHER, actor=sup)
    with pytest.raises(Conflict, match="taken"):
        create_user(username="X4", password=PW, role=DISPATCHER, actor=sup)
    assert AuditEntry.objects.filter(action="user.create", object_id=str(u.pk)).exists()


def test_a_deactivated_sign_in_cannot_sign_in(person):
    sup = Actor.for_user(person(SUPERVISOR))
    u = create_user(username="leaver", password=PW, role=DISPATCHER, actor=sup)
    form = {"username": "leaver", "password": PW}
    set_active(user=u, active=False, actor=sup)
    refused = Client().post("/accounts/login/", form)
    assert refused.status_code == 200 and "_auth_user_id" not in refused.wsgi_request.session
    set_active(user=u, active=True, actor=sup)
    assert Client().post("/accounts/login/", form).status_code == 302
    actions = set(AuditEntry.objects.filter(object_id=str(u.pk)).values_list("action", flat=True))
    assert {"user.deactivate", "user.activate"} <= actions


def test_an_analyst_opening_the_board_is_told_who_may_and_how_to_ask(person):
    c = signed_in(person(ANALYST))
    r = c.get("/board/", HTTP_ACCEPT="text/html")
    assert r.status_code == 403 and r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    assert "This page is not for your role" in html
    assert "<strong>analyst</strong>" in html
    for label in ("call taker", "dispatcher", "crisis clinician", "supervisor", "admin"):
        assert f"<li>{label}</li>" in html
    assert "<li>analyst</li>" not in html
    assert "ask them to change your role" in html


def test_api_and_scripts_still_get_json_403(person):
    c = signed_in(person(ANALYST))
    r = c.get("/board/")  # no Accept: text/html
    assert r.status_code == 403 and r.json()["detail"]
    api = c.get("/api/calls")
    assert api.status_code == 403 and "detail" in api.json()
