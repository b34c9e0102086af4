"""The live pages: dispatch board, responder view, crisis call diversion queue, and the
Server-Sent-Events stream that keeps them current (heart.live.hub).

Pages call the same services as the JSON API; every write is a CSRF-protected POST,
bad input re-renders the page with a message naming the field (never a 500).
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from heart.accounts.actors import Actor
from heart.board import selectors
from heart.board.forms import BackupForm, CcdOutcomeForm, DispositionForm, StatusForm
from heart.calls.models import Call
from heart.calls.selectors import ccd_queue
from heart.errors import ServiceError
from heart.intake.models import CcdClaim
from heart.intake.services import claim_ccd_call, record_ccd_outcome, release_ccd_call
from heart.live.hub import frame, hub
from heart.live.store import replay
from heart.program_in_force import current_program
from heart.teams.models import Team
from heart.teams.selectors import latest_backup_of_team_call, latest_overrides, team_for_user
from heart.teams.services import DispositionInput, change_status, clear_call, request_backup

HEARTBEAT_SECONDS = 15.0

# words the board's script shows (translated here, passed as JSON)
BOARD_LABELS = {
    "assign": _("Assign"),
    "assigned": _("Assigned to"),
    "recommended": _("Recommended"),
    "noTeam": _("No team can go"),
    "live": _("live"),
    "offline": _("reconnecting…"),
    "backup": _("Backup requested by"),
    "backupTitle": _("POLICE BACKUP REQUESTED"),
    "reroutedTitle": _("CALL RE-TRIAGED"),
    "rerouted": _("is assigned; the call is now"),
    "onCall": _("on call"),
    "stale": _("GPS stale"),
    "conflict": _("Not assigned"),
    "soundTurnOn": _("Turn sound on"),
    "soundTurnOff": _("Turn sound off"),
    "min": _("min"),
    "backupCall": _("POLICE BACKUP"),
    "why": _("Why not"),
    "noPosition": _("no position"),
    "otherTeam": _("Send another unit"),
    "chooseTeam": _("Unit"),
    "tryAssign": _("Assign"),
    "refused": _("Refused"),
    "overrideReason": _("Override reason (required, in words)"),
    "sendAnyway": _("Send anyway (override)"),
    "overrideBy": _("override by"),
    "keptBy": _("kept on the call by"),
    "notServed": _("does not serve this route now"),
    "release": _("Release the team"),
    "keep": _("Keep with reason"),
    "pair": _("Pair"),
    "policeUnit": _("Police call sign"),
    "paired": _("paired"),
    "pairedWith": _("with"),
    "noneAvailable": _("no unit is available"),
    "more": _("{n} older open calls: show more"),
    "backupAt": _("asks for police backup at"),
    "noAddress": _("no address"),
    "policeCall": _("police call"),
    "ackedBy": _("Backup request acknowledged by {by} at {at}"),
    "ackFailed": _("Not acknowledged"),
    "moreAlarms": _("(+{n} more waiting)"),
    "shown": _("{shown} of {total} shown"),
    "waitingTeam": _("waiting for a team"),
    "addNote": _("Add a note"),
    "noteText": _("Note"),
    "saveNote": _("Save note"),
    "noteSaved": _("Note saved on call"),
    "closeCall": _("Close the call"),
    "disposition": _("Disposition"),
    "closeNote": _("Note (optional)"),
    "doClose": _("Close call"),
    "closed": _("Closed call"),
    "inStatus": _("for"),
    "checkIn": _("Check in with {team}: on scene {min} min"),
    "checkedIn": _("Checked in"),
    "checkInNote": _("Check-in with {team}: team OK"),
    "offShift": _("off shift"),
    "policeUnitNeeded": _("Police call sign: required to pair"),
}

ROUTE_WORDS = {
    "crt": _("Community response"),
    "co_response": _("Co-response"),
    "ccd": _("Crisis line"),
    "standard": _("Police"),
}
STATUS_WORDS = {
    "available": _("Available"),
    "dispatched": _("Dispatched"),
    "en_route": _("En route"),
    "on_scene": _("On scene"),
    "transporting": _("Transporting"),
    "clearing": _("Clearing"),
    "out_of_service": _("Out of service"),
}


def _need(request, *caps: str) -> None:
    if not any(request.user.has_perm(f"accounts.{c}") for c in caps):
        raise PermissionDenied("your role may not open this page")


@login_required
def home(request):
    u = request.user
    if u.has_perm("accounts.view_calls"):
        return redirect("board")
    if u.has_perm("accounts.respond"):
        return redirect("responder")
    if u.has_perm("accounts.ccd_queue"):
        return redirect("ccd")
    if u.has_perm("accounts.follow_up"):
        return redirect("care-queue")
    return render(request, "board/home.html")


# ------------------------------------------------------------------ board


@login_required
def board(request):
    _need(request, "view_calls")
    from django.conf import settings

    from heart.teams.services import DISPATCH_CLOSE_REASONS

    config = {
        "canDispatch": request.user.has_perm("accounts.dispatch"),
        "program": current_program().name,
        "staleSeconds": _stale_seconds(),
        "tiles": _tile_url(settings),
        "attribution": getattr(settings, "HEART_MAP_ATTRIBUTION", ""),
        "statusWarnMinutes": int(getattr(settings, "HEART_BOARD_STATUS_WARN_MINUTES", 20)),
        "statusAlertMinutes": int(getattr(settings, "HEART_BOARD_STATUS_ALERT_MINUTES", 45)),
        "checkInMinutes": int(getattr(settings, "HEART_BOARD_CHECKIN_MINUTES", 30)),
        "routeWords": {k: str(v) for k, v in ROUTE_WORDS.items()},
        "statusWords": {k: str(v) for k, v in STATUS_WORDS.items()},
        "closeReasons": [[k, str(_(v))] for k, v in DISPATCH_CLOSE_REASONS.items()],
        "t": {k: str(v) for k, v in BOARD_LABELS.items()},
        **selectors.route_service(),
    }
    return render(
        request,
        "board/board.html",
        {
            "config": config,
            "route_words": list(ROUTE_WORDS.items()),
            "status_words": list(STATUS_WORDS.items()),
        },
    )


def _tile_url(settings) -> str:
    """A configured tile server, else the app's own tiles (an offline center), else ""."""
    if getattr(settings, "HEART_MAP_TILES", ""):
        return settings.HEART_MAP_TILES
    if getattr(settings, "HEART_MAP_TILES_DIR", "") or getattr(settings, "HEART_MAP_MBTILES", ""):
        return reverse("board-tile", kwargs={"z": 0, "x": 0, "y": 0}).replace(
            "/0/0/0", "/{z}/{x}/{y}"
        )
    return ""


@login_required
@require_GET
def tile(request, z: int, x: int, y: int):
    """One raster map tile from the center's own files (HEART_MAP_TILES_DIR: z/x/y.png or
    .jpg; HEART_MAP_MBTILES: an MBTiles file). 404 when there is none."""
    _need(request, "view_calls", "respond")
    from django.conf import settings

    data, kind = selectors.local_tile(
        z=z,
        x=x,
        y=y,
        folder=getattr(settings, "HEART_MAP_TILES_DIR", ""),
        mbtiles=getattr(settings, "HEART_MAP_MBTILES", ""),
    )
    if data is None:
        return HttpResponse(status=404)
    response = HttpResponse(data, content_type=kind)
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _stale_seconds() -> int:
    from django.conf import settings

    return int(getattr(settings, "HEART_GPS_STALE_SECONDS", 300))


@login_required
@require_GET
def board_state(request):
    """The snapshot (first page of open calls, teams, ``seq``); ``?cursor=`` the next
    page of calls; ``?after=<cursor>`` only how many open calls lie beyond it."""
    _need(request, "view_calls")
    try:
        if request.GET.get("after"):
            return JsonResponse({"more": selectors.open_calls_after(request.GET["after"])})
        limit = int(request.GET.get("limit", selectors.BOARD_PAGE))
        return JsonResponse(
            selectors.board_snapshot(cursor=request.GET.get("cursor") or None, limit=limit)
        )
    except ValueError:
        return _json_error(422, "limit: a whole number", "limit")
    except ServiceError as exc:
        return _json_error(exc.status, exc.message, exc.path)


def _json_error(status: int, detail: str, path: str = "", **headers) -> JsonResponse:
    errors = [{"path": path, "problem": detail}] if path else []
    response = JsonResponse({"detail": detail, "errors": errors}, status=status)
    for k, v in headers.items():
        response[k.replace("_", "-")] = v
    return response


@login_required
@require_GET
def areas(request):
    _need(request, "view_calls", "respond")
    return JsonResponse(selectors.program_areas())


# ------------------------------------------------------------------ the event stream


def _board_filter(name: str, payload: dict) -> dict:
    return payload


def _team_filter(team_id: int):
    """A responder hears only about their own team, and only ids and statuses."""

    def filt(name: str, payload: dict) -> dict | None:
        if payload.get("team_id") != team_id or name == "avl.positions":
            return None
        # a re-triage also says what the call became, so the phone can warn the team
        keys = ("team_id", "call_id", "status") + (("to",) if name == "call.rerouted" else ())
        if name == "backup.acknowledged":
            keys += ("backup_call_id", "at")
        return {k: payload[k] for k in keys if k in payload}

    return filt


def _replay_from(request) -> int | None:
    """Where a client's stream should resume: the browser's Last-Event-ID on a
    reconnect, else ``?after=`` (the ``seq`` of the snapshot it loaded); None: live only."""
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


async def stream(request):
    """text/event-stream of live events. ?scope=board (view_calls) or team (respond).

    Every frame carries the event's sequence number (``id:``). A client that sends
    ``Last-Event-ID`` (EventSource does on reconnecting) or ``?after=N`` is first
    replayed the logged events it may have missed (heart.live.store), then gets live
    ones; a replay too long or older than the log answers ``event: reset`` (reload the
    snapshot). The board drops sequence numbers it already has."""
    try:
        user = await request.auser()
        if not user.is_authenticated:
            return JsonResponse({"detail": "authentication required"}, status=401)
        scope = request.GET.get("scope", "board")
        if scope == "board":
            if not await sync_to_async(user.has_perm)("accounts.view_calls"):
                return JsonResponse({"detail": "your role may not see the board"}, status=403)
            filt = _board_filter
        elif scope == "team":
            if not await sync_to_async(user.has_perm)("accounts.respond"):
                return JsonResponse({"detail": "your role does not act for a team"}, status=403)
            team = await sync_to_async(team_for_user)(user=user)
            if team is None:
                return JsonResponse({"detail": "you are not on shift with a team"}, status=403)
            filt = _team_filter(team.pk)
        else:
            return JsonResponse({"detail": "scope: one of board, team"}, status=422)
    except DatabaseError:
        return _json_error(503, "the database is busy; retry", Retry_After="1")

    if not isinstance(request, ASGIRequest):
        # A WSGI server (e.g. a test live server) would buffer an endless stream for
        # ever; answer at once and let EventSource reconnect, reloading the snapshot.
        return HttpResponse(
            "retry: 5000\n: this server cannot stream; polling\n\n",
            content_type="text/event-stream",
        )
    after = _replay_from(request)
    client = hub.connect(filt)  # first: whatever commits from now on reaches this client
    replayed: list[tuple[int, str]] = []
    reset = False
    if after is not None:
        try:
            rows = await sync_to_async(replay)(after)
        except DatabaseError:
            hub.disconnect(client)
            return _json_error(503, "the database is busy; retry", Retry_After="1")
        if rows is None:
            reset = True
        else:
            for seq, name, payload in rows:
                out = filt(name, payload)
                if out is not None:
                    replayed.append((seq, frame(name, out, seq)))
    replayed_seqs = {seq for seq, _ in replayed}
    coalesce = _coalesce_seconds()
    # an open stream needs no database: give the connection back now (with a pool, a
    # stream holding one for its lifetime would starve every other request)
    await sync_to_async(close_old_connections_now)()

    async def events():
        # and again once streaming starts: middleware that ran after the view (a session
        # touched on its first request is saved on the way out) opened one more; kept for
        # the stream's lifetime it starved the pool (50 boards hung the server)
        await sync_to_async(close_old_connections_now)()
        loop = asyncio.get_running_loop()
        last_write = 0.0
        try:
            head = "retry: 2000\n: connected\n\n"
            if reset:
                head += 'event: reset\ndata: {"reason":"too far behind: reload the snapshot"}\n\n'
            yield head + "".join(text for _, text in replayed)
            while True:
                if not client.pending:
                    try:
                        await asyncio.wait_for(client.ready.wait(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        yield ": ping\n\n"
                        continue
                # the first event after a quiet spell goes out at once; while events keep
                # coming, a burst gathers for up to `coalesce` s and is written at once
                wait = last_write + coalesce - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                items = client.take()
                if client.overflowed:
                    break
                if replayed_seqs:
                    items = [i for i in items if i[0] is None or i[0] not in replayed_seqs]
                if items:
                    last_write = loop.time()
                    yield "".join(text for _, text in items)
        finally:
            hub.disconnect(client)

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def close_old_connections_now() -> None:
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()


def _coalesce_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "HEART_SSE_COALESCE_SECONDS", 0.05))


# ------------------------------------------------------------------ responder


def _responder_context(request, **extra) -> dict:
    team = team_for_user(user=request.user)
    call = None
    if team is not None and team.current_call_id:
        call = Call.objects.filter(pk=team.current_call_id).prefetch_related("timeline").first()
    rerouted, override = False, None
    if team is not None and call is not None:
        rerouted = not current_program().serves(team.unit_key, call.route)
        o = latest_overrides(call_ids=[call.pk]).get(call.pk)
        if o is not None and o.team_id == team.pk and o.route == call.route:
            override = o
    from django.conf import settings

    actions = selectors.phone_actions(team.status) if team else None
    repeat = safety = None
    if call is not None:
        from heart.care.selectors import repeat_for_call

        repeat = repeat_for_call(call)
        safety = selectors.safety_notes(call)
    disposition_form = extra.pop("disposition_form", None) or DispositionForm()
    backup = None
    if team is not None and call is not None:
        backup = latest_backup_of_team_call(team_id=team.pk, call_id=call.pk)
    return {
        "team": team,
        "call": call,
        # the team's last backup request on this call, and who at dispatch saw it
        "backup": backup,
        "actions": actions,
        "status_labels": dict(Team.Status.choices),
        # what the phone shows after a tap it could not send yet (the next big button)
        "phone_plan": {
            st: {
                "label": str(label),
                "primary": (a := selectors.phone_actions(st)).primary,
                "primaryLabel": str(dict(Team.Status.choices).get(a.primary, ""))
                if a.primary and a.primary != "clear"
                else "",
            }
            for st, label in Team.Status.choices
        },
        # another part adds a callback field to calls; until then it may be absent
        "callback": (
            getattr(call, "callback_number", "") or getattr(call, "callback", "") if call else ""
        ),
        "repeat": repeat,
        "safety": safety,
        "map_config": {
            "tiles": getattr(settings, "HEART_MAP_TILES", ""),
            "teamLat": team.lat if team else None,
            "teamLon": team.lon if team else None,
        },
        "can_clear": bool(
            team and call and team.status in ("on_scene", "transporting", "clearing")
        ),
        "can_backup": bool(team and call),
        # the call's route is no longer one the team's unit serves (a CAD update added a
        # weapon, or dispatch sent it anyway): warn, and show a dispatcher's override
        "rerouted": rerouted,
        "override": override,
        "disposition_form": disposition_form,
        "error": extra.pop("error", None),
        "message": extra.pop("message", None),
        "now": timezone.now(),
        **extra,
    }


@login_required
def responder(request):
    _need(request, "respond")
    return render(request, "board/responder.html", _responder_context(request))


@login_required
@require_GET
def responder_worker(request):
    """The phone's service worker, served under /responder/ so its scope covers the
    page (a static file's scope would be /static/)."""
    from django.contrib.staticfiles import finders

    _need(request, "respond")
    path = finders.find("board/responder-sw.js")
    with open(path, encoding="utf-8") as fh:
        body = fh.read()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/responder/"
    return response


def _responder_team(request):
    _need(request, "respond")
    team = team_for_user(user=request.user)
    if team is None:
        raise PermissionDenied("you are not on shift with a team")
    return team


def _fail(request, exc: ServiceError, **extra):
    return render(
        request,
        "board/responder.html",
        _responder_context(request, error=exc.message, **extra),
        status=exc.status,
    )


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def responder_status(request):
    """A status tap. The phone's script posts it with its own ``idempotency_key`` and
    ``Accept: application/json`` (a tap queued offline is replayed with the same key and
    answered with the same result); without the script it is a plain form post."""
    wants_json = _wants_json(request)
    if wants_json and not request.user.has_perm("accounts.respond"):
        return _json_error(403, "you may not change a team's status", "")
    team = team_for_user(user=request.user) if wants_json else _responder_team(request)
    if team is None:
        return _json_error(403, "you are not on shift with a team", "team")
    form = StatusForm(request.POST)
    if not form.is_valid():
        exc = _invalid("status", form)
        return _json_error(422, exc.message, exc.path) if wants_json else _fail(request, exc)
    try:
        t = change_status(
            team=team,
            status=form.cleaned_data["status"],
            actor=Actor.for_user(request.user),
            idempotency_key=form.cleaned_data["idempotency_key"] or None,
        )
    except ServiceError as exc:
        return _json_error(exc.status, exc.message, exc.path) if wants_json else _fail(request, exc)
    if wants_json:
        return JsonResponse(
            {
                "team_id": t.pk,
                "status": t.status,
                "label": str(Team.Status(t.status).label),
                "replayed": bool(getattr(t, "replayed", False)),
            }
        )
    return redirect("responder")


@login_required
@require_POST
def responder_backup(request):
    team = _responder_team(request)
    form = BackupForm(request.POST)
    if not form.is_valid():
        return _fail(request, _invalid("note", form))
    try:
        request_backup(
            team=team, actor=Actor.for_user(request.user), note=form.cleaned_data["note"]
        )
    except ServiceError as exc:
        return _fail(request, exc)
    return redirect(reverse("responder") + "?backup=1")


@login_required
@require_POST
def responder_clear(request):
    team = _responder_team(request)
    form = DispositionForm(request.POST)
    if not form.is_valid():
        return _fail(request, _invalid(None, form), disposition_form=form)
    try:
        clear_call(
            team=team,
            disposition=DispositionInput(**form.cleaned_data),
            actor=Actor.for_user(request.user),
        )
    except ServiceError as exc:
        form.add_error(exc.path if exc.path in form.fields else None, exc.message)
        return _fail(request, exc, disposition_form=form)
    return redirect(reverse("responder") + "?cleared=1")


def _invalid(field: str | None, form) -> ServiceError:
    from heart.errors import Invalid

    name, errs = next(iter(form.errors.items()))
    return Invalid(f"{name}: {' '.join(errs)}", path=name if name != "__all__" else "")


# ------------------------------------------------------------------ crisis call diversion


@login_required
def ccd(request):
    _need(request, "ccd_queue")
    return render(request, "board/ccd.html", _ccd_context(request))


CCD_PAGE = 200


def _ccd_context(request, **extra) -> dict:
    """The oldest waiting calls (a page) and how many more wait behind them; who has
    taken each (one clinician at a time)."""
    page = ccd_queue(limit=CCD_PAGE)
    claims = {c.call_id: c for c in CcdClaim.objects.filter(call_id__in=[c.pk for c in page.items])}
    items = [
        {
            "call": c,
            "claim": claims.get(c.pk),
            "mine": c.pk in claims and claims[c.pk].clinician_id == request.user.pk,
        }
        for c in page.items
    ]
    return {
        "queue": items,
        "waiting": page.total,
        "more": page.total - len(page.items),
        "now": timezone.now(),
        **extra,
    }


def _ccd_error(request, exc: ServiceError):
    return render(
        request, "board/ccd.html", _ccd_context(request, error=exc.message), status=exc.status
    )


@login_required
@require_POST
def ccd_claim(request, call_id: int):
    _need(request, "ccd_queue")
    try:
        claim_ccd_call(call_id=call_id, actor=Actor.for_user(request.user))
    except ServiceError as exc:
        return _ccd_error(request, exc)
    return redirect(reverse("ccd") + f"#ccd-{call_id}")


@login_required
@require_POST
def ccd_release(request, call_id: int):
    _need(request, "ccd_queue")
    try:
        release_ccd_call(call_id=call_id, actor=Actor.for_user(request.user))
    except ServiceError as exc:
        return _ccd_error(request, exc)
    return redirect("ccd")


@login_required
@require_POST
def ccd_outcome(request, call_id: int):
    _need(request, "ccd_queue")
    form = CcdOutcomeForm(request.POST)
    call = Call.objects.filter(pk=call_id).first()
    error, status = None, 200
    if call is None:
        error, status = f"call: no call {call_id}", 404
    elif not form.is_valid():
        err = _invalid(None, form)
        error, status = err.message, err.status
    else:
        try:
            record_ccd_outcome(
                call=call,
                outcome=form.cleaned_data["outcome"],
                notes=form.cleaned_data["notes"],
                actor=Actor.for_user(request.user),
            )
        except ServiceError as exc:
            error, status = exc.message, exc.status
    if error is None:
        return redirect("ccd")
    return render(
        request,
        "board/ccd.html",
        _ccd_context(request, error=error),
        status=status,
    )


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
