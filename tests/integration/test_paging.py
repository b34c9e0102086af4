"""Paged lists with totals (issue 11, item 5): nothing is cut silently.

Every list endpoint answers {items, total, limit, next_cursor}; following next_cursor
visits every row once, in order, even when rows arrive between pages.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from heart.apikit import MAX_PAGE
from heart.calls.models import Call, Disposition

pytestmark = pytest.mark.django_db

T = timezone.now().replace(microsecond=0)


def make_calls(n, *, route="crt", same_time_every=3):
    """n open calls; every few share a received_at (the id breaks the tie)."""
    return [
        Call.objects.create(
            received_at=T - dt.timedelta(minutes=i // same_time_every),
            nature="CRISIS",
            route=route,
            rules_version="v",
            program="p",
        )
        for i in range(n)
    ]


def walk(client, url, limit):
    seen, cursor, totals = [], None, set()
    for _ in range(100):
        sep = "&" if "?" in url else "?"
        r = client.get(f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.content
        page = r.json()
        assert len(page["items"]) <= limit and page["limit"] == limit
        seen += page["items"]
        totals.add(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, totals
    raise AssertionError("next_cursor never ended")


@pytest.fixture
def dispatcher(person):
    c = Client()
    c.force_login(person("dispatcher"))
    return c


def test_open_calls_are_paged_newest_first_with_the_total(dispatcher):
    calls = make_calls(11)
    Call.objects.create(
        received_at=T, nature="X", route="crt", rules_version="v", program="p", state="closed"
    )
    seen, totals = walk(dispatcher, "/api/calls", 4)
    assert totals == {11}
    ids = [c["id"] for c in seen]
    assert sorted(ids) == sorted(c.pk for c in calls) and len(set(ids)) == 11
    keys = [(c["received_at"], c["id"]) for c in seen]
    assert keys == sorted(keys, reverse=True)


def test_route_filter_and_a_call_arriving_between_pages(dispatcher):
    make_calls(5)
    ccd = make_calls(3, route="ccd")
    first = dispatcher.get("/api/calls?route=ccd&limit=2").json()
    assert first["total"] == 3 and len(first["items"]) == 2
    make_calls(1, route="ccd")  # newer than every page still to come: not repeated
    rest = dispatcher.get(f"/api/calls?route=ccd&limit=2&cursor={first['next_cursor']}").json()
    assert [c["id"] for c in first["items"] + rest["items"]] == [
        c.pk for c in sorted(ccd, key=lambda c: (c.received_at, c.pk), reverse=True)
    ]


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("limit=0", "limit"),
        (f"limit={MAX_PAGE + 1}", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=WzFd", "cursor"),  # base64 of [1]: the wrong shape
        ("cursor=WyJ4IiwgMV0", "cursor"),  # ["x", 1]: not a time
    ],
)
def test_bad_paging_input_is_422_naming_the_field(dispatcher, query, path):
    r = dispatcher.get(f"/api/calls?{query}")
    assert r.status_code == 422, r.content
    assert any(e["path"] == path for e in r.json()["errors"]), r.json()


def test_ccd_queue_is_paged_oldest_first(person):
    calls = make_calls(5, route="ccd")
    c = Client()
    c.force_login(person("crisis_clinician"))
    seen, totals = walk(c, "/api/ccd/queue", 2)
    assert totals == {5}
    assert [x["id"] for x in seen] == [
        x.pk for x in sorted(calls, key=lambda x: (x.received_at, x.pk))
    ]
    page = c.get("/ccd/")
    assert page.status_code == 200 and b'id="ccd-more"' not in page.content


def test_ccd_page_says_how_many_more_wait(person, monkeypatch):
    from heart.board import views

    monkeypatch.setattr(views, "CCD_PAGE", 2)
    make_calls(5, route="ccd")
    c = Client()
    c.force_login(person("crisis_clinician"))
    html = c.get("/ccd/").content.decode()
    assert html.count('class="card queue-item"') == 2
    assert "3 more calls are waiting" in html


def test_follow_ups_and_teams_are_paged(person, staffed_team):
    calls = make_calls(5)
    for i, call in enumerate(calls):
        Disposition.objects.create(
            call=call,
            outcome="referred",
            consent_follow_up=i != 0,
            contact_name=f"Person {i}",
            recorded_at=T - dt.timedelta(minutes=i),
            recorded_by_label="t",
        )
    nav = Client()
    nav.force_login(person("care_navigator"))
    seen, totals = walk(nav, "/api/follow-ups", 3)
    assert totals == {4} and len({s["call_id"] for s in seen}) == 4
    for i in range(3):
        staffed_team(f"T{i}")
    d = Client()
    d.force_login(person("dispatcher"))
    seen, totals = walk(d, "/api/teams", 2)
    assert totals == {3} and len({t["id"] for t in seen}) == 3
    assert d.get("/api/teams").json()["limit"] == MAX_PAGE


def test_people_search_and_person_audit_are_paged(person):
    from heart.accounts.actors import Actor
    from heart.care import services

    nav = person("care_navigator")
    for i in range(7):
        services.create_person(actor=Actor.for_user(nav), name=f"Maria Lopez {i}")
    c = Client()
    c.force_login(nav)
    seen, totals = walk(c, "/api/care/people?q=maria", 3)
    assert totals == {7} and len({p["id"] for p in seen}) == 7
    pid = seen[0]["id"]
    sup = Client()
    sup.force_login(person("supervisor"))
    for _ in range(3):
        c.get(f"/api/care/people/{pid}")
    rows, totals = walk(sup, f"/api/care/people/{pid}/audit", 2)
    assert len(rows) >= 4 and max(totals) >= 4
    page = sup.get(f"/care/people/{pid}/audit?cursor=bad")
    assert page.status_code == 400
