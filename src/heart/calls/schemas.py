"""How a call is shown in the JSON API (shared by the routers that return calls)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema


class ReasonOut(Schema):
    code: str
    text: str


class CallSummaryOut(Schema):
    id: int
    cad_incident_id: str | None
    received_at: dt.datetime
    nature: str
    priority: str
    route: str
    state: str
    lon: float | None
    lat: float | None
    address: str
    parent_id: int | None


class TimelineOut(Schema):
    kind: str
    at: dt.datetime
    actor_label: str
    team_id: int | None
    text: str
    data: dict


class CallDetailOut(CallSummaryOut):
    beat: str
    narrative: str
    reasons: list[ReasonOut]
    rules_version: str
    timeline: list[TimelineOut]
