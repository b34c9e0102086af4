"""The ASGI application `heart serve` runs (uvicorn): Django, two ways.

* **The event streams** (``/live/…``, Server-Sent Events) and **static files** go to
  Django's ASGI handler: an open board is a suspended coroutine on the event loop, not
  a thread, so fifty boards cost almost nothing. ASGIStaticFilesHandler serves
  /static/ from the finders (app static dirs and node_modules/leaflet/dist).
* **Every other request** (the API, the pages) is synchronous Django code, so it runs
  through Django's WSGI handler on a worker thread of this process: one hand-off to the
  thread and one back per request. Under Django's ASGI handler the same request would
  hop between the event loop and a thread for every middleware (about a dozen
  ``sync_to_async`` hand-offs) and start a new thread per request; measured on intake,
  that overhead was most of the server's CPU per call (bench/LIVE.md).

Each server process also retries event deliveries that failed or never ran (heart.events),
listens for other processes' events from the start, runs scheduled jobs on SQLite
(heart.jobs) and checks calls waiting for a team (heart.intake.services.check_held_calls).
"""

from __future__ import annotations

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")


class ReusedRequestThreads:
    """For the requests Django's ASGI handler serves: run their synchronous parts on a
    thread taken from a free list (Django's handler would start a new thread per
    request; entering the context first makes it use ours)."""

    def __init__(self, app):
        self.app = app
        self.free: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        executor = (
            self.free.pop()
            if self.free
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="heart-stream")
        )
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self.free.append(executor)


class SyncRequests:
    """Serve a request with Django's WSGI handler on a worker thread; the response is
    sent once the view has returned (pages and JSON, never endless streams)."""

    def __init__(self, wsgi_app, threads: int):
        self.wsgi_app = wsgi_app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="heart-request")

    async def __call__(self, scope, receive, send):
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(
            self.executor, self._run, scope, bytes(body)
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    def _run(self, scope, body: bytes):
        import io

        started: list = []

        def start_response(status, response_headers, exc_info=None):
            started[:] = [
                int(status.split(" ", 1)[0]),
                # Django's WSGI handler writes Set-Cookie values with a leading space
                [
                    (k.lower().encode("latin-1"), v.strip().encode("latin-1"))
                    for k, v in response_headers
                ],
            ]

        result = self.wsgi_app(environ(scope, io.BytesIO(body), len(body)), start_response)
        try:
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started[0], started[1], chunks


def environ(scope, body, length: int) -> dict:
    """The WSGI environ of an ASGI HTTP scope (PEP 3333)."""
    root = scope.get("root_path", "")
    path = scope["path"]
    if root and path.startswith(root):
        path = path[len(root) :]
    server = scope.get("server") or ("localhost", 80)
    env = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root.encode("utf8").decode("latin1"),
        "PATH_INFO": path.encode("utf8").decode("latin1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(length),
    }
    if scope.get("client"):
        env["REMOTE_ADDR"] = scope["client"][0]
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1")
        value = raw_value.decode("latin1")
        if name == "content-type":
            key = "CONTENT_TYPE"
        elif name == "content-length":
            continue  # the body as received decides
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        env[key] = f"{env[key]},{value}" if key in env else value
    return env


class HeartApplication:
    """Streams and static files through Django's ASGI handler, the rest through WSGI."""

    def __init__(self, *, streams, requests, stream_prefixes: tuple[str, ...]):
        self.streams = streams
        self.requests = requests
        self.stream_prefixes = stream_prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http" or scope["path"].startswith(self.stream_prefixes):
            await self.streams(scope, receive, send)
        else:
            await self.requests(scope, receive, send)

    @staticmethod
    async def _lifespan(receive, send) -> None:
        """The server process starts its background work when it starts serving, not
        when the module is imported (a test or a tool importing this module must not start
        threads that reach the database)."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                start_background_work()
                freeze_startup_heap()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _build():
    from django.conf import settings

    static = "/" + settings.STATIC_URL.lstrip("/")
    threads = int(getattr(settings, "HEART_SERVER_THREADS", 8))
    return HeartApplication(
        streams=ReusedRequestThreads(ASGIStaticFilesHandler(get_asgi_application())),
        requests=SyncRequests(get_wsgi_application(), threads),
        stream_prefixes=("/live/", static),
    )


application = _build()


_started = False


def freeze_startup_heap() -> None:
    """Load every view, then move everything the process built while starting out of
    the garbage collector's reach.

    The URL conf is imported here rather than by the first request: it pulls in every
    view and what they use (reports, charts, planning: ~96,000 objects and 0.8 s that
    the first requests to each process used to wait for, and that were never frozen).
    Django, the views, the program, Polars and friends (~225,000 objects) live as long
    as the process, yet every full collection walked them all: measured on intake, one
    full collection paused the process for ~150 ms every few thousand calls, a
    stop-the-world pause that set the p99 latency (bench/LIVE.md). Frozen, a full
    collection takes ~7 ms. Collect first so that garbage of the start-up is freed
    rather than frozen.
    """
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URL conf and every view
    gc.collect()
    gc.freeze()


def start_background_work() -> None:
    """Once per server process: the event sweeper, the cross-process listener, scheduled
    jobs (SQLite) and the hold checker."""
    global _started
    if _started:
        return
    _started = True
    from django.conf import settings

    from heart.events.bus import start_sweeper
    from heart.intake.services import start_hold_checker
    from heart.jobs import start_in_process_scheduler
    from heart.live.broadcast import get_backend

    start_sweeper(settings.HEART_EVENT_SWEEP_SECONDS)
    # hear other processes' events from the start (token revocations included), not
    # only once a screen connects
    get_backend().start_listening()
    start_in_process_scheduler()  # scheduled jobs on SQLite (PostgreSQL: `heart worker`)
    # calls waiting for a team under a [no_team_free] hold: deadlines checked this often
    start_hold_checker(getattr(settings, "HEART_HOLD_CHECK_SECONDS", 15.0))
