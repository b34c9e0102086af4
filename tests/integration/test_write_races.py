"""Every row-locked write path raced against itself (or its natural rival) on PostgreSQL.

Each test names the lock it proves and what happened when that lock was removed (tried
by hand on PostgreSQL; SQLite serialises writers itself, so these run only there). The
assignment paths are in test_assign_concurrency.py, the follow-up paths in
test_care_concurrency.py, the event deliveries in test_events.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
from heart.calls.models import Call, CcdOutcome, Disposition, TimelineEvent
from heart.care import services as care
from heart.care.models import Person
from heart.intake.services import record_ccd_outcome
from heart.program_in_force import current_program
from heart.teams.models import Team
from heart.teams.services import (
    DispositionInput,
    assign_team,
    change_status,
    clear_call,
    request_backup,
)
from tests.integration.conftest import race
from tests.integration.test_care_support import actor, disposition, make_call

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


@pytest.fixture(autouse=True)
def _postgres_only(postgres_only):
    """Row locks are the point here; SQLite serialises writers by itself."""


def _slowed(monkeypatch, owner, name: str, seconds: float = 0.3) -> None:
    """Make ``owner.name`` wait before it runs: the other racer gets there meanwhile
    unless a lock holds it back (so a missing lock shows every time, not by luck)."""
    import time

    original = getattr(owner, name)

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, slow)


def _on_call(staffed_team, *statuses: str) -> tuple[Team, Call]:
    team = staffed_team("Racer")
    call = Call.objects.create(
        received_at=timezone.now(), nature="CRISIS", route="crt", rules_version="v", program="p"
    )
    assign_team(call=call, team=team, actor=SYSTEM, program=current_program())
    for status in statuses:
        team = change_status(team=team, status=status, actor=SYSTEM)
    return team, call


def test_two_status_changes_from_one_state_one_wins(staffed_team):
    """On the way, one responder taps "on scene" while the dispatcher cancels: both are
    allowed from en route, but only one may happen. The team row lock in
    teams.services._write_status makes the second see the first's result (Conflict);
    without it both were written and the timeline showed two moves out of en route."""
    team, call = _on_call(staffed_team, "en_route")
    wins, conflicts, errors = race(
        [
            lambda: change_status(team=team, status="on_scene", actor=Actor("user:a")),
            lambda: change_status(team=team, status="available", actor=Actor("user:b")),
        ]
    )
    assert errors == [] and len(wins) == 1 and len(conflicts) == 1, (wins, conflicts, errors)
    moves = TimelineEvent.objects.filter(call=call, data__from="en_route")
    assert moves.count() == 1
    assert Team.objects.get(pk=team.pk).status == wins[0].status


@pytest.mark.parametrize("start", ["on_scene", "clearing"])
def test_two_people_clearing_one_call_one_disposition(staffed_team, monkeypatch, start):
    """Two team members clear the same call at once with different outcomes: one
    disposition, the other told the call is done. The team row lock at the top of
    clear_call does it: without it (tried, with the disposition write slowed) the loser
    from "clearing" hit the one-disposition-per-call unique index, an IntegrityError
    (a 500), instead of a clear Conflict."""
    statuses = ("en_route", "on_scene") + (("clearing",) if start == "clearing" else ())
    team, call = _on_call(staffed_team, *statuses)
    _slowed(monkeypatch, Disposition.objects, "create")
    jobs = [
        lambda o=o: clear_call(team=team, disposition=DispositionInput(outcome=o), actor=SYSTEM)
        for o in ("resolved_on_scene", "refused", "unable_to_locate")
    ]
    wins, conflicts, errors = race(jobs)
    assert errors == [] and len(wins) == 1 and len(conflicts) == 2, (wins, conflicts, errors)
    assert Disposition.objects.filter(call=call).count() == 1
    assert Call.objects.get(pk=call.pk).state == "closed"
    assert Team.objects.get(pk=team.pk).status == "available"


def test_backup_and_clear_at_once_never_leave_a_backup_for_a_closed_call(staffed_team, monkeypatch):
    """The team asks for backup while a member clears the call: either the backup comes
    first (and the call then closes) or the clear does (and backup is refused: not on a
    call). Both lock the team row first; without request_backup's lock (tried, with the
    backup's write slowed) the backup request was created after its call had closed,
    linked to nothing live."""
    from heart.teams import services as team_services

    _slowed(monkeypatch, team_services, "valid_lon_lat")
    for _ in range(3):
        team, call = _on_call(staffed_team, "en_route", "on_scene")
        wins, conflicts, errors = race(
            [
                lambda t=team: request_backup(team=t, actor=SYSTEM),
                lambda t=team: clear_call(
                    team=t, disposition=DispositionInput(outcome="resolved_on_scene"), actor=SYSTEM
                ),
            ]
        )
        assert errors == [], errors
        # in the order things were written (timeline ids), a backup request never
        # follows the closing of its call (the times are taken before the locks)
        lines = list(
            TimelineEvent.objects.filter(call=call).order_by("id").values_list("kind", flat=True)
        )
        if "backup_requested" in lines:
            assert lines.index("backup_requested") < lines.index("closed"), lines
        else:
            assert any("not on a call" in m for m in conflicts), conflicts
        Team.objects.filter(pk=team.pk).update(name=f"Racer done {team.pk}")


def test_two_clinicians_recording_an_outcome_one_wins(person):
    """Two crisis-line clinicians record an outcome for the same call at once: one
    outcome, the other told it exists. The call row lock in record_ccd_outcome does it;
    without it the loser hit the one-outcome-per-call unique index (an IntegrityError)."""
    clinicians = [actor(person("crisis_clinician")) for _ in range(4)]
    call = make_call(at=timezone.now(), route="ccd")
    wins, conflicts, errors = race(
        [
            lambda a=a: record_ccd_outcome(call=call, outcome="resolved_by_phone", actor=a)
            for a in clinicians
        ]
    )
    assert errors == [] and len(wins) == 1 and len(conflicts) == 3, (wins, conflicts, errors)
    assert CcdOutcome.objects.filter(call=call).count() == 1


def _two_people(nav):
    a = care.create_person(actor=nav, name="Maria Lopez", phone="919 555 0101")
    b = care.create_person(actor=nav, name="Maria Lopes", phone="919 555 0101")
    return a, b


def test_opposite_merges_at_once_never_make_a_cycle(person):
    """One navigator merges B into A while another merges A into B. The person rows are
    locked and re-checked after the lock; before that fix the check ran before the lock
    and both merges went through: A merged into B and B into A, two records pointing at
    each other and neither findable."""
    for _ in range(3):
        nav1, nav2 = actor(person("care_navigator")), actor(person("care_navigator"))
        a, b = _two_people(nav1)
        wins, conflicts, errors = race(
            [
                lambda a=a, b=b, n=nav1: care.merge_people(
                    survivor_id=a.pk, duplicate_id=b.pk, actor=n
                ),
                lambda a=a, b=b, n=nav2: care.merge_people(
                    survivor_id=b.pk, duplicate_id=a.pk, actor=n
                ),
            ]
        )
        assert errors == [] and len(wins) == 1 and len(conflicts) == 1, (wins, conflicts, errors)
        a.refresh_from_db()
        b.refresh_from_db()
        assert (a.merged_into_id is None) != (b.merged_into_id is None)


def test_merge_and_unmerge_at_once_lose_nothing(person, monkeypatch):
    """Undoing the merge of B into A while another navigator merges C (who has an
    address A lacks) into A. Both lock A's row: whatever order they run in, A ends with
    C's address. Without unmerge_people's person locks (tried, with the unmerge made to
    pause between reading A and writing it) the unmerge wrote back the A it had read,
    and the address the merge had just filled in was lost."""
    import time

    from heart.care.services import merges

    nav = actor(person("care_navigator"))
    a, b = _two_people(nav)
    c = care.create_person(actor=nav, name="M. Lopez", phone="919 555 0101", address="12 Main St")
    m = care.merge_people(survivor_id=a.pk, duplicate_id=b.pk, actor=nav)
    original, calls = merges.set_person_fields, []

    def first_call_pauses(*args, **kwargs):  # the unmerge gets here first (see below)
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.4)
        return original(*args, **kwargs)

    monkeypatch.setattr(merges, "set_person_fields", first_call_pauses)

    def merge_a_moment_later():
        time.sleep(0.1)
        return care.merge_people(survivor_id=a.pk, duplicate_id=c.pk, actor=nav)

    wins, conflicts, errors = race(
        [lambda: care.unmerge_people(merge_id=m.pk, actor=nav), merge_a_moment_later]
    )
    assert errors == [] and len(wins) == 2, (wins, conflicts, errors)
    a.refresh_from_db()
    assert a.address == "12 Main St"
    for p in Person.objects.filter(merged_into__isnull=False):
        assert p.merged_into.merged_into_id is None


def test_erasure_and_merge_at_once_leave_nothing_identifiable(person):
    """A supervisor erases A (a lawful request) while a navigator merges B into A. The
    erasure locks A before it lists A's merged records; before that fix it listed them
    first, so a B merged in the meantime kept its name and phone under an erased A."""
    sup = actor(person("supervisor"))
    for _ in range(3):
        nav = actor(person("care_navigator"))
        a, b = _two_people(nav)
        wins, conflicts, errors = race(
            [
                lambda a=a: care.erase_person(person_id=a.pk, actor=sup, legal_basis="request 7"),
                lambda a=a, b=b, n=nav: care.merge_people(
                    survivor_id=a.pk, duplicate_id=b.pk, actor=n
                ),
            ]
        )
        assert errors == [], errors
        for p in Person.objects.filter(merged_into__erased_at__isnull=False):
            assert p.erased_at is not None and not p.name and not p.phone


def test_two_erasures_at_once_one_erases(person):
    """Two supervisors act on the same lawful request at once: one erasure; the other is
    told it was done. Without locking the person before the already-erased check both
    ran, and the second overwrote the frozen de-identified figures with ones computed
    from the already-erased rows."""
    sups = [actor(person("supervisor")) for _ in range(3)]
    enc = disposition(at=timezone.now() - dt.timedelta(days=2))
    wins, conflicts, errors = race(
        [
            lambda s=s: care.erase_person(person_id=enc.person_id, actor=s, legal_basis="req 9")
            for s in sups
        ]
    )
    assert errors == [] and len(wins) == 1 and len(conflicts) == 2, (wins, conflicts, errors)


def test_two_clinicians_taking_one_crisis_call_one_wins(person):
    """Four clinicians press "Take this call" at once: one claim, and each other hears
    who has it. The call row lock in claim_ccd_call makes the losers see the winner's
    claim; without it the one-claim-per-call constraint still refuses them (caught and
    answered with the holder's name, never an IntegrityError)."""
    from heart.intake.models import CcdClaim
    from heart.intake.services import claim_ccd_call

    users = [person("crisis_clinician") for _ in range(4)]
    call = make_call(at=timezone.now(), route="ccd")
    wins, conflicts, errors = race(
        [lambda u=u: claim_ccd_call(call_id=call.pk, actor=actor(u)) for u in users]
    )
    assert errors == [] and len(wins) == 1 and len(conflicts) == 3, (wins, conflicts, errors)
    claim = CcdClaim.objects.get(call=call)
    assert all(f"taken by {claim.clinician_label}" in m for m in conflicts), conflicts
    assert TimelineEvent.objects.filter(call=call, kind="ccd_claimed").count() == 1
