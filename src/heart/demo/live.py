"""`heart serve --demo`: seed the Durham program's teams and one account per role, then
replay synthetic calls and moving teams on an accelerated clock.

Everything goes through the services a real shift uses: calls through
:func:`heart.intake.services.receive_call`, positions through
:func:`heart.teams.services.record_positions`, statuses through ``change_status``,
dispositions through ``clear_call``, shifts through ``start_shift`` (so every responder
is seeded with the program's required training), and the auto-dispatcher through
``assign_team`` / ``pair_co_response``: the same route guard as a person (it never
overrides). The replay thread stops on :meth:`Replay.stop`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import random
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.roles import RESPONDER, ROLES
from heart.accounts.services import create_user
from heart.batch.synthetic import generate_calls
from heart.calls.models import Call
from heart.calls.services import close_call
from heart.demo.batch import demo_natures
from heart.domain.program_file import load_program, resolve_program_path
from heart.domain.triage import CallInput
from heart.errors import Conflict
from heart.events.bus import emit
from heart.intake.services import receive_call, record_ccd_outcome
from heart.program_in_force import current_program
from heart.teams import services as teams
from heart.teams.models import Shift, Team, TrainingRecord
from heart.teams.selectors import recommendation_for

log = logging.getLogger(__name__)

# team start positions ("stations") inside the Durham city outline
STATIONS = {
    "HEART 1": (-78.8986, 35.9940),
    "HEART 2": (-78.8700, 35.9850),
    "HEART 3": (-78.9050, 36.0300),
    "HEART 4": (-78.9300, 35.9550),
}
# the co-response unit: a clinician on shift who rides with a police unit per call
CO_RESPONSE_STATIONS = {"CR 1": (-78.9010, 35.9965)}
POLICE_UNITS = ("DPD 2-14", "DPD 3-21", "DPD 4-07", "DPD 5-12")
POLICE_AGENCY = "Durham Police Department"
DISCIPLINES = ("clinician", "peer_support", "emt")
DEMO_CAD = Actor("demo:cad")
DEMO_DISPATCH = Actor("demo:dispatcher")

DEMO_PROGRAM = """# written by `heart serve --demo`: the Durham rules, staffed around the clock so the
# board is live at any hour of the day (the real program runs 08:00-20:00).
[program]
extends = "{base}"
name = "durham-heart-demo"
title = "Durham HEART (demo: around the clock)"

[units.crt]
periods = [{{ from = 2023-10-23, area = "city", hours = [{{ days = "daily", start = "00:00", end = "24:00" }}] }}]

[units.ccd]
periods = [{{ from = 2023-10-23, area = "city", hours = [{{ days = "daily", start = "00:00", end = "24:00" }}] }}]

[units.co_response]
periods = [{{ from = 2023-10-23, area = "city", hours = [{{ days = "daily", start = "00:00", end = "24:00" }}] }}]
"""


def demo_program_path() -> Path:
    base = resolve_program_path("durham-heart-2023")
    out = Path(settings.DATA_DIR) / "demo" / "durham-heart-demo.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(DEMO_PROGRAM.format(base=base.as_posix()))
    # outlines are read relative to the file that names them: bring them along
    shutil.copytree(base.parent / "durham", out.parent / "durham", dirs_exist_ok=True)
    load_program(out)  # fail here, before serving, if the file is wrong
    return out


@dataclass
class Seeded:
    accounts: list[tuple[str, str, str]]  # (role, username, password)
    team_members: dict[str, list[str]]


def seed(*, password: str | None = None, now: dt.datetime | None = None) -> Seeded:
    """Teams, shifts and accounts (idempotent: a second run resets passwords and statuses)."""
    now = now or timezone.now()
    password = password or os.environ.get("HEART_DEMO_PASSWORD") or secrets.token_urlsafe(8)
    User = get_user_model()

    def person(username: str, role: str, discipline: str = ""):
        u = User.objects.filter(username=username).first()
        if u is None:
            u = create_user(username=username, password=password, role=role, discipline=discipline)
        else:
            u.set_password(password)
            u.save(update_fields=["password"])
        return u

    accounts = []
    for role in ROLES:
        if role == RESPONDER:
            continue
        person(role, role)
        accounts.append((role, role, password))
    program = current_program()
    today = now.astimezone(program.zone).date()

    def trained(user, discipline: str):
        """The program's trainings for the discipline, completed 60 days ago (once)."""
        have = set(TrainingRecord.objects.filter(user=user).values_list("training", flat=True))
        for t in program.trainings_for(discipline):
            if t.key not in have:
                teams.record_training(
                    user=user,
                    training=t.key,
                    completed_on=today - dt.timedelta(days=60),
                    note="demo",
                    actor=DEMO_DISPATCH,
                    program=program,
                    now=now,
                )
        return user

    co_unit = next((k for k, u in program.units.items() if u.kind == "co_response"), None)
    crews: list[tuple[str, str | None, tuple[float, float], tuple[str, ...]]] = [
        (name, program.team_unit, where, DISCIPLINES) for name, where in STATIONS.items()
    ]
    if co_unit is not None:
        crews += [
            (name, co_unit, where, tuple(program.units[co_unit].disciplines))
            for name, where in CO_RESPONSE_STATIONS.items()
        ]
    members: dict[str, list[str]] = {}
    for i, (name, unit_key, (lon, lat), disciplines) in enumerate(crews, 1):
        team = Team.objects.filter(name=name).first() or teams.create_team(
            name=name, unit_key=unit_key
        )
        crew = []
        for d in disciplines:
            if i == 1 and d == "clinician":
                username = "responder"
            elif unit_key == co_unit:
                username = f"{name.lower().replace(' ', '')}-{d}"
            else:
                username = f"heart{i}-{d}"
            crew.append((trained(person(username, RESPONDER, d), d), d))
        members[name] = [u.get_username() for u, _ in crew]
        if not Shift.objects.filter(team=team, starts_at__lte=now, ends_at__gt=now).exists():
            # a shift already booked for these people (an earlier demo run) ends first
            Shift.objects.filter(
                members__user__in=[u for u, _ in crew], starts_at__lt=now, ends_at__gt=now
            ).update(ends_at=now)
            teams.start_shift(
                team=team,
                members=crew,
                starts_at=now - dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(hours=23),
                actor=DEMO_DISPATCH,
                program=program,
            )
        reset_team(team)
        teams.record_positions(
            team=team, fixes=[teams.Fix(lon, lat, now)], actor=DEMO_DISPATCH, now=now
        )
    accounts.append((RESPONDER, "responder", password))
    return Seeded(accounts, members)


# walk a team back to available through the transition table (a previous demo run)
_BACK = {
    "dispatched": ["available"],
    "en_route": ["available"],
    "on_scene": ["clearing", "available"],
    "transporting": ["clearing", "available"],
    "clearing": ["available"],
    "out_of_service": ["available"],
}


def reset_team(team) -> None:
    call_id = team.current_call_id
    for status in _BACK.get(team.status, []):
        teams.change_status(team=team, status=status, actor=DEMO_DISPATCH, note="demo restart")
    if call_id:
        with transaction.atomic():
            c = Call.objects.select_for_update().get(pk=call_id)
            if c.state == Call.State.OPEN:
                close_call(call=c, actor=DEMO_DISPATCH, text="Closed: demo restart")


def close_stale_demo_calls() -> int:
    """Open calls from an earlier replay would clutter the board: close them."""
    n = 0
    for c in Call.objects.filter(state=Call.State.OPEN, source__in=["demo", "backup"]):
        with transaction.atomic():
            close_call(call=c, actor=DEMO_DISPATCH, text="Closed: demo restart")
        n += 1
    return n


# ---------------------------------------------------------------------- replay


def _toward(lon, lat, to_lon, to_lat, km: float) -> tuple[float, float, bool]:
    """Move up to ``km`` along the straight line; (lon, lat, arrived)."""
    dx = (to_lon - lon) * 111.32 * math.cos(math.radians(lat))
    dy = (to_lat - lat) * 110.57
    dist = math.hypot(dx, dy)
    if dist <= km or dist == 0:
        return to_lon, to_lat, True
    f = km / dist
    return lon + (to_lon - lon) * f, lat + (to_lat - lat) * f, False


@dataclass
class TeamPlan:
    team_id: int
    station: tuple[float, float]
    on_scene_until: float | None = None  # sim seconds
    backup_done: bool = False


@dataclass
class Replay:
    """Synthetic calls and field teams on a clock ``speed`` times faster than real time."""

    speed: float = 30.0
    calls_per_hour: float = 12.0  # simulated hours
    auto_dispatch_after: float = 180.0  # sim seconds a call may wait for a human dispatcher
    seed: int = 11
    tick: float = 1.0  # real seconds
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    stats: dict = field(default_factory=lambda: {"calls": 0, "positions": 0, "cleared": 0})
    paired: int = 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="heart-demo-replay", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)

    # -- the loop
    def _run(self) -> None:
        try:
            self._setup()
            while not self.stop_event.wait(self.tick):
                try:
                    self._step()
                except Exception:  # a human raced us (409) or SQLite was busy: next tick
                    log.warning("demo replay step failed", exc_info=True)
                finally:
                    close_old_connections()
        finally:
            connection.close()

    def _setup(self) -> None:
        self.rng = random.Random(self.seed)
        program = current_program()
        natures, weights = demo_natures(program)
        city = program.areas["city"].geometry
        self.frame = generate_calls(
            5000,
            natures=natures,
            nature_weights=weights,
            area=city,
            start=dt.date.today(),
            days=1,
            timezone=program.timezone,
            seed=self.seed,
        ).to_dicts()
        self.rng.shuffle(self.frame)
        self.sim = 0.0
        self.next_call = 5.0  # the first call arrives a few seconds after start
        self.run_id = secrets.token_hex(3)
        self.plans = {
            t.pk: TeamPlan(t.pk, {**STATIONS, **CO_RESPONSE_STATIONS}.get(t.name, (t.lon, t.lat)))
            for t in Team.objects.filter(name__in=[*STATIONS, *CO_RESPONSE_STATIONS])
        }

    def _step(self) -> None:
        dt_sim = self.tick * self.speed
        self.sim += dt_sim
        while self.sim >= self.next_call and self.stats["calls"] < len(self.frame):
            self._new_call(self.frame[self.stats["calls"]])
            self.next_call += self.rng.expovariate(self.calls_per_hour / 3600.0)
        self._dispatch_waiting()
        self._move_teams(dt_sim)
        self._tidy_calls()

    def _new_call(self, row: dict) -> None:
        i = self.stats["calls"]
        self.stats["calls"] += 1
        receive_call(
            call=CallInput(
                received_at=timezone.now(),
                nature=row["nature"],
                priority=row["priority"],
                lon=row["lon"],
                lat=row["lat"],
                narrative=row["narrative"],
                weapon_flag=row["weapon"] == "Y" or None,
                violence_flag=row["violence"] == "Y" or None,
            ),
            actor=DEMO_CAD,
            cad_incident_id=f"demo-{self.run_id}-{i:05d}",
            source="demo",
            address=f"{100 + (i * 37) % 4800} Demo St, Durham NC",
        )

    def _dispatch_waiting(self) -> None:
        """Calls no human assigned within ``auto_dispatch_after`` sim seconds get the
        recommended unit of their route's kind, through the same services (and route
        guard) as a dispatcher: a team by assignment, a co-response clinician paired with
        a police unit. The demo never overrides the guard."""
        if self.auto_dispatch_after < 0:
            return
        wait = dt.timedelta(seconds=self.auto_dispatch_after / self.speed)
        program = current_program()
        for call in Call.objects.filter(
            state=Call.State.OPEN,
            route__in=sorted(program.field_routes()),
            assignments__isnull=True,
            received_at__lte=timezone.now() - wait,
            source="demo",
        )[:5]:
            unit = program.field_unit_for_route(call.route)
            if unit is None:
                continue
            rec = recommendation_for(call=call, program=program, unit_key=unit)
            if rec is None or rec.best is None:
                continue
            team = Team.objects.get(pk=int(rec.best.unit_id))
            with contextlib.suppress(Conflict):
                if program.units[unit].kind == "co_response":
                    self.paired += 1
                    teams.pair_co_response(
                        call=call,
                        team=team,
                        police_call_sign=POLICE_UNITS[self.paired % len(POLICE_UNITS)],
                        agency=POLICE_AGENCY,
                        actor=DEMO_DISPATCH,
                        program=program,
                    )
                else:
                    teams.assign_team(call=call, team=team, actor=DEMO_DISPATCH, program=program)

    def _move_teams(self, dt_sim: float) -> None:
        now = timezone.now()
        km = 40.0 * dt_sim / 3600.0  # 40 km/h in town
        for team in Team.objects.filter(pk__in=list(self.plans)):
            plan = self.plans[team.pk]
            if team.lon is None:
                continue
            target = None
            if team.status == "dispatched":
                teams.change_status(team=team, status="en_route", actor=Actor("demo:" + team.name))
                continue
            if team.status == "en_route" and team.current_call_id:
                call = Call.objects.get(pk=team.current_call_id)
                target = (call.lon, call.lat) if call.lon is not None else (team.lon, team.lat)
            elif team.status == "available":
                target = plan.station
            elif team.status == "on_scene":
                if plan.on_scene_until is None:
                    plan.on_scene_until = self.sim + self.rng.uniform(15, 40) * 60
                    plan.backup_done = False
                if not plan.backup_done and self.rng.random() < 0.002 * dt_sim / 30:
                    plan.backup_done = True
                    teams.request_backup(team=team, actor=Actor("demo:" + team.name))
                if self.sim >= plan.on_scene_until:
                    plan.on_scene_until = None
                    outcome = self.rng.choices(
                        ["resolved_on_scene", "transported", "referred", "refused"],
                        [55, 15, 20, 10],
                    )[0]
                    teams.clear_call(
                        team=team,
                        disposition=teams.DispositionInput(
                            outcome=outcome,
                            destination="Durham Recovery Response Center"
                            if outcome == "transported"
                            else "",
                            referred_to="Alliance Health" if outcome == "referred" else "",
                        ),
                        actor=Actor("demo:" + team.name),
                    )
                    self.stats["cleared"] += 1
                continue
            if target is None or target[0] is None:
                continue
            if (team.lon, team.lat) == tuple(target):
                continue
            lon, lat, arrived = _toward(team.lon, team.lat, target[0], target[1], km)
            teams.record_positions(
                team=team, fixes=[teams.Fix(lon, lat, now)], actor=Actor("demo:avl"), now=now
            )
            self.stats["positions"] += 1
            if arrived and team.status == "en_route":
                teams.change_status(team=team, status="on_scene", actor=Actor("demo:" + team.name))

    def _tidy_calls(self) -> None:
        """Police and crisis-line calls are worked elsewhere in the demo: close them after
        a while so the board shows what HEART dispatchers watch."""
        cutoff = timezone.now() - dt.timedelta(seconds=12 * 60 / self.speed)
        program = current_program()
        field_routes = sorted(program.field_routes())
        phone_routes = program.routes_served_by("phone")
        for c in Call.objects.filter(
            state=Call.State.OPEN, source__in=["demo", "backup"], received_at__lte=cutoff
        ).exclude(route__in=field_routes)[:10]:
            if c.route in phone_routes:
                if not hasattr(c, "ccd_outcome"):
                    outcome = self.rng.choice(
                        ["resolved_by_phone", "resolved_by_phone", "hand_back"]
                    )
                    record_ccd_outcome(call=c, outcome=outcome, actor=Actor("demo:clinician"))
                continue
            if c.source == "backup" and c.parent and c.parent.state == Call.State.OPEN:
                continue
            with transaction.atomic():
                close_call(call=c, actor=DEMO_DISPATCH, text="Closed: handled by police (demo)")
                emit(
                    "call.closed",
                    {"call_id": c.pk, "team_id": None, "outcome": ""},
                    actor=DEMO_DISPATCH,
                    call_id=c.pk,
                )
