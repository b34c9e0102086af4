"""PostgreSQL LISTEN/NOTIFY transport for live events across server processes.

* :meth:`PostgresBackend.send` runs ``SELECT pg_notify('heart_events', envelope)`` on
  the writer's own Django connection. Inside a transaction PostgreSQL holds the
  notification until COMMIT and drops it on ROLLBACK.
* One daemon thread per process holds a separate autocommit psycopg connection with
  ``LISTEN heart_events`` and hands every notification from *another* process to
  :func:`heart.live.local.deliver_local` (its own are delivered locally on commit).
  It reconnects with back-off when the database goes away.

The envelope is ``{"o": origin, "n": name, "p": payload}``; NOTIFY payloads are limited
to 8000 bytes, ours are a few hundred (ids, statuses, coordinates).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid

from heart.live.local import Backend, deliver_local

log = logging.getLogger(__name__)

CHANNEL = "heart_events"
MAX_BYTES = 7900
ORIGIN = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def envelope(name: str, payload: dict) -> str:
    body = json.dumps({"o": ORIGIN, "n": name, "p": payload}, separators=(",", ":"), default=str)
    if len(body.encode()) > MAX_BYTES:  # never expected: keep the ids, drop the rest
        slim = {k: v for k, v in payload.items() if k.endswith("_id") or k in ("status", "route")}
        log.warning("event %s too large for NOTIFY; sending ids only", name)
        body = json.dumps({"o": ORIGIN, "n": name, "p": {**slim, "truncated": True}}, default=str)
    return body


def connection_kwargs() -> dict:
    """psycopg connect() arguments of the default database (the test DB under pytest)."""
    from django.db import connections

    params = connections["default"].get_connection_params()
    keep = ("dbname", "user", "password", "host", "port", "sslmode", "sslrootcert", "options")
    out = {k: params[k] for k in keep if params.get(k) not in (None, "")}
    out.setdefault("dbname", connections["default"].settings_dict.get("NAME") or "postgres")
    return out


class PostgresBackend(Backend):
    name = "postgres"
    transactional = True

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()  # set once LISTEN is active (tests, bench)
        # +1 each time LISTEN is (re)established: what a process cached while it was not
        # listening may have missed a notification (accounts' token cache checks it)
        self.epoch = 0

    def send(self, name: str, payload: dict) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, envelope(name, payload)])

    def start_listening(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, args=(connection_kwargs(),), name="heart-listen", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, kwargs: dict) -> None:
        import psycopg

        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(**kwargs, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.epoch += 1
                    self.ready.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=1.0):
                            if self._stop.is_set():
                                break
                            self._handle(n.payload)
            except Exception as exc:  # the database restarted, the network blipped …
                self.ready.clear()
                log.warning("event listener lost its connection (%s); retrying", type(exc).__name__)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    @staticmethod
    def _handle(raw: str) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            log.warning("ignoring a malformed %s notification", CHANNEL)
            return
        if msg.get("o") == ORIGIN:
            return  # delivered locally on commit already
        deliver_local(str(msg.get("n", "")), msg.get("p") or {})
