"""Helpers for the care tests (no tests here): calls cleared with consent, navigators."""

from __future__ import annotations

import datetime as dt
import itertools

from heart.accounts.actors import SYSTEM, Actor
from heart.calls.models import Call, CcdOutcome, Disposition
from heart.care import services

_n = itertools.count(1)


def make_call(*, at: dt.datetime, address: str = "12 Main St", route: str = "crt") -> Call:
    return Call.objects.create(
        received_at=at,
        nature="CRISIS",
        route=route,
        rules_version="v",
        program="p",
        address=address,
    )


def disposition(
    *,
    at: dt.datetime,
    consent: bool = True,
    name: str = "Maria Lopez",
    phone: str = "919-555-0101",
    address: str = "12 Main St",
    team=None,
):
    """A closed call with a disposition, through the care hook (as clear_call does)."""
    call = make_call(at=at - dt.timedelta(minutes=40), address=address)
    d = Disposition.objects.create(
        call=call,
        team=team,
        outcome="resolved_on_scene",
        consent_follow_up=consent,
        contact_name=name if consent else "",
        contact_phone=phone if consent else "",
        recorded_at=at,
        recorded_by_label="user:responder",
    )
    call.state, call.closed_at = Call.State.CLOSED, at
    call.save(update_fields=["state", "closed_at"])
    return services.record_encounter_from_disposition(disposition=d, actor=SYSTEM)


def ccd(*, at: dt.datetime, address: str = "12 Main St"):
    call = make_call(at=at - dt.timedelta(minutes=10), address=address, route="ccd")
    o = CcdOutcome.objects.create(call=call, outcome="resolved_by_phone", recorded_at=at)
    return services.record_encounter_from_ccd_outcome(ccd_outcome=o, actor=SYSTEM)


def actor(user) -> Actor:
    return Actor.for_user(user)
