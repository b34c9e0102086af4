"""Supervisor pages: teams (list, create, edit, retire) and users (create, set role,
deactivate), all through the services, audited; refusals beside their fields."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from heart.accounts.models import AuditEntry
from heart.accounts.roles import ADMIN, DISPATCHER, RESPONDER, SUPERVISOR
from heart.accounts.services import current_role
from heart.teams.models import Team

pytestmark = pytest.mark.django_db
PW = "a-long-test-passphrase-42"


@pytest.fixture
def sup(person):
    c = Client()
    c.force_login(person(SUPERVISOR))
    return c


def test_teams_are_listed_created_and_edited(sup, staffed_team):
    busy = staffed_team("Busy One")
    page = sup.get("/staff/teams")
    assert page.status_code == 200 and "Busy One" in page.text
    r = sup.post("/staff/teams/new", {"name": "  Night Crew ", "unit_key": "crt"})
    assert r.status_code == 302
    t = Team.objects.get(name="Night Crew")
    assert AuditEntry.objects.filter(action="team.create", object_id=str(t.pk)).exists()
    dup = sup.post("/staff/teams/new", {"name": "Night Crew", "unit_key": "crt"})
    assert dup.status_code == 409 and 'id="err-name"' in dup.text and "exists" in dup.text
    bad = sup.post("/staff/teams/new", {"name": "X", "unit_key": "nowhere"})
    assert bad.status_code == 422 and 'id="err-unit_key"' in bad.text
    assert sup.get(f"/staff/teams/{t.pk}").status_code == 200
    r = sup.post(f"/staff/teams/{t.pk}", {"name": "Night Crew 2", "unit_key": "crt"})
    assert r.status_code == 302  # "active" unticked: retired
    t.refresh_from_db()
    assert t.name == "Night Crew 2" and not t.active
    entry = AuditEntry.objects.get(action="team.update", object_id=str(t.pk))
    assert entry.data == {"name": ["Night Crew", "Night Crew 2"], "active": [True, False]}
    missing = sup.get("/staff/teams/999999", follow=True)
    assert "no team 999999" in missing.text
    assert busy.active


def test_a_team_on_a_call_is_not_retired(sup, staffed_team, program):
    from heart.accounts.actors import SYSTEM
    from heart.teams.services import assign_team
    from tests.integration.conftest import open_call

    t = staffed_team("On A Call")
    assign_team(call=open_call("crt"), team=t, actor=SYSTEM, program=program)
    r = sup.post(f"/staff/teams/{t.pk}", {"name": "On A Call", "unit_key": t.unit_key})
    assert r.status_code == 422 and "is on a call" in r.text
    t.refresh_from_db()
    assert t.active


def test_users_are_created_given_roles_and_deactivated(sup, person):
    page = sup.get("/accounts/users")
    assert page.status_code == 200
    r = sup.post(
        "/accounts/users/new",
        {"username": "jrivera", "password": PW, "role": RESPONDER, "discipline": "emt"},
    )
    assert r.status_code == 302
    u = get_user_model().objects.get(username="jrivera")
    assert current_role(u) == RESPONDER and u.heart_profile.discipline == "emt"
    short = sup.post(
        "/accounts/users/new", {"username": "kim", "password": "short", "role": DISPATCHER}
    )
    assert short.status_code == 422 and 'id="err-password"' in short.text
    nodisc = sup.post("/accounts/users/new", {"username": "lee", "password": PW, "role": RESPONDER})
    assert nodisc.status_code == 422 and 'id="err-discipline"' in nodisc.text
    r = sup.post(f"/accounts/users/{u.pk}/role", {"role": DISPATCHER}, follow=True)
    assert "jrivera is now dispatcher" in r.text
    u.refresh_from_db()
    assert current_role(u) == DISPATCHER
    r = sup.post(f"/accounts/users/{u.pk}/active", {"active": "0"}, follow=True)
    u.refresh_from_db()
    assert not u.is_active and "can no longer sign in" in r.text
    # a supervisor may not make an admin: said on the page, nothing changed
    r = sup.post(f"/accounts/users/{u.pk}/role", {"role": ADMIN}, follow=True)
    assert "only an admin may" in r.text
    u.refresh_from_db()
    assert current_role(u) == DISPATCHER
    r = sup.post("/accounts/users/999999/role", {"role": DISPATCHER}, follow=True)
    assert "no user 999999" in r.text
    r = sup.post(f"/accounts/users/{u.pk}/role", {"role": "boss"}, follow=True)
    assert "unknown role" in r.text
    actions = set(AuditEntry.objects.filter(object_id=str(u.pk)).values_list("action", flat=True))
    assert {"user.create", "user.role", "user.deactivate"} <= actions


def test_an_admin_makes_an_admin(person):
    c = Client()
    c.force_login(person(ADMIN))
    u = person(DISPATCHER)
    c.post(f"/accounts/users/{u.pk}/role", {"role": ADMIN})
    u.refresh_from_db()
    assert current_role(u) == ADMIN and u.is_staff


def test_other_roles_get_the_friendly_403(person):
    c = Client()
    c.force_login(person(DISPATCHER))
    for url in ("/staff/teams", "/accounts/users"):
        r = c.get(url, HTTP_ACCEPT="text/html")
        assert r.status_code == 403 and "<li>supervisor</li>" in r.text


def test_a_shift_end_is_moved_with_its_checks(sup, staffed_team, person):
    import datetime as dt

    from django.utils import timezone

    from heart.accounts.actors import Actor
    from heart.errors import Conflict, Invalid
    from heart.teams.models import Shift
    from heart.teams.services import change_shift_end, start_shift

    now = timezone.now()
    crew = [(person(RESPONDER, d), d) for d in ("clinician", "peer_support", "emt")]
    team = staffed_team("Day Crew", now=now, members=crew)  # now-2h .. now+8h
    shift = Shift.objects.get(team=team)
    actor = Actor.for_user(person(SUPERVISOR))
    later = Team.objects.create(name="Night Crew")
    start_shift(
        team=later,
        members=[crew[0]],
        starts_at=now + dt.timedelta(hours=9),
        ends_at=now + dt.timedelta(hours=17),
    )
    change_shift_end(shift=shift, ends_at=now + dt.timedelta(hours=9), actor=actor)  # up to it
    with pytest.raises(Conflict, match="already on Night Crew's shift"):
        change_shift_end(shift=shift, ends_at=now + dt.timedelta(hours=10), actor=actor)
    with pytest.raises(Invalid, match="at most 24 hours"):
        change_shift_end(shift=shift, ends_at=now + dt.timedelta(hours=23), actor=actor)
    with pytest.raises(Invalid, match="later than now"):
        change_shift_end(shift=shift, ends_at=now - dt.timedelta(minutes=5), actor=actor)
    change_shift_end(shift=shift, ends_at=now + dt.timedelta(hours=4), actor=actor)  # earlier
    shift.refresh_from_db()
    assert shift.ends_at == now + dt.timedelta(hours=4)
    assert AuditEntry.objects.filter(action="shift.change", object_id=str(shift.pk)).count() == 2
    # the page: a refused change is said on the page, nothing changes
    r = sup.post(f"/staff/shifts/{shift.pk}/until", {"ends_at": "2001-01-01T08:00"}, follow=True)
    assert "later than now" in r.text
    r = sup.post(f"/staff/shifts/{shift.pk}/until", {"ends_at": "soon"}, follow=True)
    assert "give the new end" in r.text
    shift.refresh_from_db()
    assert shift.ends_at == now + dt.timedelta(hours=4)
    page = sup.get("/staff/")
    assert f"/staff/shifts/{shift.pk}/until" in page.text
