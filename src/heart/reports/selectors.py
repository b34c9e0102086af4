"""The live database as report records (reads only; no personal data leaves here).

One query per kind of record, each over the calls *received* in the period (the time
basis of docs/metrics.md): calls with their first dispatch, first arrival and last
clearing from the timeline, the team's disposition and the crisis-line outcome; police
backup requests (calls with source "backup") by their parent call; route overrides
(stored ``dispatch.override`` events); staffed shifts; follow-ups, referrals and first
contacts. Locations become a beat or an H3 cell; addresses, names, phone numbers and
narratives are never selected.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict

import h3
import polars as pl
from django.db import connection
from django.db.models import FloatField, Func, Max, Min, Q, TextField
from django.db.models.functions import Cast, Extract
from django.utils import timezone

from heart.calls.models import Call, TimelineEvent
from heart.care.config import rules as care_rules
from heart.care.models import Encounter, FollowUpTask, Person, Referral
from heart.domain.care import calls_before_after, normalize_address
from heart.domain.metrics import (
    DISPOSITIONS,
    BackupRecord,
    FirstContactRecord,
    FollowUpRecord,
    OverrideRecord,
    Period,
    ReferralRecord,
    ReportData,
    ShiftRecord,
    calls_frame,
)
from heart.domain.program import Program
from heart.events.models import Event
from heart.teams.models import Shift, ShiftMember

BACKUP_SOURCE = "backup"
OVERRIDE_EVENT = "dispatch.override"
K = TimelineEvent.Kind


def area_of(
    beat: str, lon: float | None, lat: float | None, *, by: str, resolution: int
) -> str | None:
    """The area a call is counted in: an H3 cell (or the beat): never the point."""
    if by == "beat" and beat:
        return beat
    if lon is not None and lat is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
        return h3.latlng_to_cell(lat, lon, resolution)
    return beat or None


def live_data(
    period: Period,
    program: Program,
    *,
    area_by: str = "h3",
    h3_resolution: int = 8,
    now: dt.datetime | None = None,
) -> ReportData:
    now = now or timezone.now()
    start, end = period.start_utc, period.end_utc
    in_period = Q(received_at__gte=start, received_at__lt=end)
    calls = _call_frame(in_period, area_by=area_by, h3_resolution=h3_resolution)
    return ReportData(
        basis="live",
        calls=calls,
        backups=_backups(in_parent_period(start, end)),
        overrides=_overrides(start, end),
        shifts=_shifts(period, program),
        follow_ups=_follow_ups(start, end),
        referrals=[
            ReferralRecord(created, status)
            for created, status in Referral.objects.filter(
                created_at__gte=start, created_at__lt=end
            ).values_list("created_at", "status")
        ],
        first_contacts=_first_contacts(start, end, now=now),
        source="database",
        as_of=now,
    )


FIELDS = (
    "id",
    "received_at",
    "nature",
    "route",
    "reasons",
    "beat",
    "lon",
    "lat",
    "first_dispatched",
    "first_on_scene",
    "last_cleared",
    "disposition__outcome",
    "disposition__team_id",
    "ccd_outcome__outcome",
    "rules_version",
)
TIMES = ("received_at", "first_dispatched", "first_on_scene", "last_cleared")


def _call_rows(where: Q):
    """Calls of the period (backups apart) with their first dispatch, first arrival and
    last clearing from the timeline, the disposition and the crisis-line outcome."""
    return (
        Call.objects.filter(where)
        .exclude(source=BACKUP_SOURCE)
        .annotate(
            first_dispatched=Min("timeline__at", filter=Q(timeline__kind=K.DISPATCHED)),
            first_on_scene=Min("timeline__at", filter=Q(timeline__kind=K.ON_SCENE)),
            last_cleared=Max("timeline__at", filter=Q(timeline__kind=K.CLEARED)),
        )
        .order_by()
    )


def _epoch(expression) -> Cast:
    # in UTC: Extract would otherwise read the wall clock of TIME_ZONE (an hour off at DST)
    return Cast(Extract(expression, "epoch", tzinfo=dt.UTC), FloatField())


def _copy_csv(qs, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """A query's rows through PostgreSQL's COPY … TO STDOUT (CSV), parsed by Polars: a
    hundred thousand rows in a fraction of a second, no Python object per value."""
    import psycopg

    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        raw_cursor = cursor.cursor
        bound = psycopg.ClientCursor(raw_cursor.connection).mogrify(sql, params)
        buffer = io.BytesIO()
        with raw_cursor.copy(f"COPY ({bound}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                buffer.write(chunk)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pl.DataFrame(schema=columns)
    return pl.read_csv(buffer, has_header=False, new_columns=list(columns), schema=columns)


def _postgres_call_frame(where: Q) -> pl.DataFrame:
    """The calls and, apart, the timeline times per call (grouping only the timeline,
    not every column of every call), joined in Polars."""
    calls = (
        Call.objects.filter(where)
        .exclude(source=BACKUP_SOURCE)
        .annotate(
            received_epoch=_epoch("received_at"),
            # the codes only: the sentences beside them would be most of the bytes
            reasons_text=Func(
                "reasons",
                template="jsonb_path_query_array(%(expressions)s, '$[*].code')::text",
                output_field=TextField(),
            ),
        )
        .values_list(
            "id",
            "received_epoch",
            "nature",
            "route",
            "reasons_text",
            "beat",
            "lon",
            "lat",
            "disposition__outcome",
            "disposition__team_id",
            "ccd_outcome__outcome",
            "rules_version",
        )
        .order_by()
    )
    frame = _copy_csv(
        calls,
        {
            "id": pl.Int64,
            "received_at": pl.Float64,
            "nature": pl.String,
            "route": pl.String,
            "reasons": pl.String,
            "beat": pl.String,
            "lon": pl.Float64,
            "lat": pl.Float64,
            "disposition__outcome": pl.String,
            "disposition__team_id": pl.Int64,
            "ccd_outcome__outcome": pl.String,
            "rules_version": pl.String,
        },
    )
    call_filter = Q(**{f"call__{k}": v for k, v in where.children})
    times = (
        TimelineEvent.objects.filter(call_filter, kind__in=[K.DISPATCHED, K.ON_SCENE, K.CLEARED])
        .values("call_id")
        .annotate(
            d=_epoch(Min("at", filter=Q(kind=K.DISPATCHED))),
            o=_epoch(Min("at", filter=Q(kind=K.ON_SCENE))),
            c=_epoch(Max("at", filter=Q(kind=K.CLEARED))),
        )
        .values_list("call_id", "d", "o", "c")
        .order_by()
    )
    timeline = _copy_csv(
        times,
        {
            "id": pl.Int64,
            "first_dispatched": pl.Float64,
            "first_on_scene": pl.Float64,
            "last_cleared": pl.Float64,
        },
    )
    frame = frame.join(timeline, on="id", how="left")
    return frame.with_columns(
        *(
            (pl.col(t) * 1_000_000).round().cast(pl.Int64).cast(pl.Datetime("us", "UTC"))
            for t in TIMES
        ),
        pl.col("reasons").str.json_decode(pl.List(pl.String)),
        pl.col("beat").fill_null(""),
    ).select(list(FIELDS))


def _call_frame(where: Q, *, area_by: str, h3_resolution: int) -> pl.DataFrame:
    """The calls as columns (heart.domain.metrics.CALL_SCHEMA): a busy month is a
    hundred thousand calls and a year to date more, so never an object per call. On
    PostgreSQL the times come as epoch seconds and the reasons as JSON text, read by
    one cursor and turned into columns by Polars; elsewhere through the ORM."""
    qs = _call_rows(where)
    if connection.vendor == "postgresql":
        raw = _postgres_call_frame(where)
    else:
        rows = list(qs.values_list(*FIELDS).iterator(chunk_size=20000))
        raw = pl.DataFrame(
            [(*r[:4], [x.get("code", "") for x in r[4] or ()], *r[5:]) for r in rows],
            schema=list(FIELDS),
            orient="row",
            infer_schema_length=None,
        )
        if raw.height:
            raw = raw.with_columns(pl.col(t).cast(pl.Datetime("us", "UTC")) for t in TIMES)
    if raw.height == 0:
        return calls_frame([])
    known = list(DISPOSITIONS)
    areas = [
        area_of(b, x, y, by=area_by, resolution=h3_resolution)
        for b, x, y in zip(
            raw["beat"].to_list(), raw["lon"].to_list(), raw["lat"].to_list(), strict=True
        )
    ]
    sent = pl.col("first_dispatched").is_not_null()
    return calls_frame(
        raw.select(
            pl.col("id").cast(pl.String).alias("call_id"),
            pl.col("received_at"),
            pl.col("nature").alias("call_type"),
            pl.col("route"),
            pl.col("reasons").alias("reason_codes"),
            sent.alias("team_sent"),
            # a team reached the call: it arrived, or it recorded how the call ended
            (
                sent
                & (
                    pl.col("first_on_scene").is_not_null()
                    | pl.col("disposition__team_id").is_not_null()
                )
            ).alias("reached"),
            pl.col("first_dispatched").alias("dispatched_at"),
            pl.col("first_on_scene").alias("on_scene_at"),
            pl.col("last_cleared").alias("cleared_at"),
            pl.when(pl.col("disposition__outcome").is_in(known))
            .then(pl.col("disposition__outcome"))
            .when(pl.col("disposition__outcome").is_not_null())
            .then(pl.lit("other"))
            .alias("disposition"),
            pl.col("ccd_outcome__outcome").alias("crisis_line_outcome"),
            pl.Series("area", areas, dtype=pl.String),
            pl.col("rules_version"),
            pl.lit(None, dtype=pl.Boolean).alias("eligible"),
        )
    )


def in_parent_period(start: dt.datetime, end: dt.datetime) -> Q:
    return Q(parent__received_at__gte=start, parent__received_at__lt=end)


def _backups(where: Q) -> list[BackupRecord]:
    rows = (
        Call.objects.filter(where, source=BACKUP_SOURCE, parent__isnull=False)
        .values_list("parent_id", "parent__received_at", "parent__nature", "reasons")
        .order_by()
    )
    out = []
    for parent, received, nature, reasons in rows:
        codes = [r.get("code", "") for r in reasons or () if r.get("code") != "backup_request"]
        out.append(
            BackupRecord(str(parent), received, nature, codes[0] if codes else "not_recorded")
        )
    return out


def _overrides(start: dt.datetime, end: dt.datetime) -> list[OverrideRecord]:
    """dispatch.override events of calls received in the period (the event stream stores
    them because this app subscribes to the name: heart.reports.apps)."""
    events = list(
        # an override comes after its call was received: older events cannot belong here
        Event.objects.filter(name=OVERRIDE_EVENT, call_id__isnull=False, at__gte=start)
        .values_list("call_id", "payload")
        .order_by("id")
    )
    if not events:
        return []
    received = dict(
        Call.objects.filter(
            pk__in={c for c, _ in events}, received_at__gte=start, received_at__lt=end
        ).values_list("id", "received_at")
    )
    return [
        OverrideRecord(
            str(call_id),
            received[call_id],
            str((payload or {}).get("route") or "unknown"),
            (payload or {}).get("team_id") is not None,
        )
        for call_id, payload in events
        if call_id in received
    ]


def _shifts(period: Period, program: Program) -> list[ShiftRecord]:
    unit = program.team_unit
    needed = set(program.units[unit].disciplines) if unit else set()
    shifts = Shift.objects.filter(
        starts_at__lt=period.end_utc, ends_at__gt=period.start_utc, team__unit_key=unit or "crt"
    ).values_list("id", "team__name", "starts_at", "ends_at")
    shifts = list(shifts)
    disciplines: dict[int, set[str]] = defaultdict(set)
    for shift_id, d in ShiftMember.objects.filter(shift_id__in=[s[0] for s in shifts]).values_list(
        "shift_id", "discipline"
    ):
        disciplines[shift_id].add(d)
    return [
        ShiftRecord(team, starts, ends, staffed=bool(disciplines[pk]) and needed <= disciplines[pk])
        for pk, team, starts, ends in shifts
    ]


def _follow_ups(start: dt.datetime, end: dt.datetime) -> list[FollowUpRecord]:
    rows = FollowUpTask.objects.filter(
        encounter__call__received_at__gte=start, encounter__call__received_at__lt=end
    ).values_list("encounter__call__received_at", "due_at", "first_attempt_at")
    return [FollowUpRecord(r, d, a) for r, d, a in rows]


def _first_contacts(
    start: dt.datetime, end: dt.datetime, *, now: dt.datetime
) -> list[FirstContactRecord]:
    """People whose first encounter was in the period, with their 911 calls in the N days
    before and after it, attributed as the care measure does (their encounters' calls
    and calls at their address: heart.care.selectors.before_after_for), in bulk."""
    days = care_rules().measure_window_days
    window = dt.timedelta(days=days)
    firsts = (
        Encounter.objects.filter(person__isnull=False, person__merged_into__isnull=True)
        .values("person_id")
        .annotate(first=Min("occurred_at"))
        .filter(first__gte=start, first__lt=end)
    )
    first_at = {r["person_id"]: r["first"] for r in firsts}
    if not first_at:
        return []
    first_call = {}
    times: dict[int, dict[int, dt.datetime]] = defaultdict(dict)
    for person, call_id, occurred, received in Encounter.objects.filter(
        person_id__in=first_at
    ).values_list("person_id", "call_id", "occurred_at", "call__received_at"):
        times[person][call_id] = received
        if occurred == first_at[person]:
            first_call.setdefault(person, call_id)
    people = dict(
        Person.objects.filter(pk__in=first_at, erased_at__isnull=True).values_list(
            "id", "address_key"
        )
    )
    by_address: dict[str, list[int]] = defaultdict(list)
    for pk, key in people.items():
        if key:
            by_address[key].append(pk)
    if by_address:
        lo, hi = min(first_at.values()) - window, max(first_at.values()) + window
        for call_id, received, address in (
            Call.objects.filter(received_at__gte=lo, received_at__lte=hi)
            .exclude(address="")
            .values_list("id", "received_at", "address")
            .iterator(chunk_size=5000)
        ):
            for person in by_address.get(normalize_address(address), ()):
                times[person][call_id] = received
    out = []
    for person, first in first_at.items():
        calls = dict(times[person])
        calls.pop(first_call.get(person), None)
        ba = calls_before_after(first, calls.values(), now=now, days=days)
        out.append(FirstContactRecord(first, ba.before, ba.after, ba.complete))
    return out
