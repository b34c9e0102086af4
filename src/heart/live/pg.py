"""PostgreSQL LISTEN/NOTIFY transport for live events across server processes.

* :meth:`PostgresBackend.send` logs the event (:class:`heart.live.models.LiveEvent`, its
  id is the sequence number) and NOTIFYs ``heart_events`` with that number, in one
  statement on the writer's own Django connection. Inside a transaction PostgreSQL
  holds the notification until COMMIT and drops both on ROLLBACK.
* One daemon thread per process holds a separate autocommit psycopg connection with
  ``LISTEN heart_events`` and hands every notification from *another* process to
  :func:`heart.live.local.deliver_local` (its own are delivered locally on commit).
  When the database goes away it reconnects with back-off, then replays from the log
  what was committed while it was away (so an open board misses nothing across a
  database restart), and it drops log rows past the replay window once a minute.

The envelope is ``{"o": origin, "n": name, "i": seq, "p": payload}``; NOTIFY payloads
are limited to 8000 bytes, ours are a few hundred (ids, statuses, coordinates).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import uuid

from heart.live.local import Backend, deliver_local, last_seq

log = logging.getLogger(__name__)

CHANNEL = "heart_events"
MAX_BYTES = 7900
ORIGIN = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

# log the event and announce it, one round trip: the notification carries the row's id
_SEND_SQL = (
    "WITH e AS (INSERT INTO live_liveevent (at, name, payload) "
    "VALUES (now(), %s, %s::jsonb) RETURNING id) "
    "SELECT e.id, pg_notify(%s::text, %s::text || e.id || %s::text) FROM e"
)


def payload_json(name: str, payload: dict) -> str:
    body = json.dumps(payload, separators=(",", ":"), default=str)
    if len(body.encode()) > MAX_BYTES - 200:  # never expected: keep the ids, drop the rest
        slim = {k: v for k, v in payload.items() if k.endswith("_id") or k in ("status", "route")}
        log.warning("event %s too large for NOTIFY; sending ids only", name)
        body = json.dumps({**slim, "truncated": True}, separators=(",", ":"), default=str)
    return body


def envelope(name: str, payload: dict, seq: int | None = None) -> str:
    head = json.dumps({"o": ORIGIN, "n": name}, separators=(",", ":"))[:-1]
    return f'{head},"i":{json.dumps(seq)},"p":{payload_json(name, payload)}}}'


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

    def send(self, name: str, payload: dict) -> int | None:
        from heart.db import execute

        body = payload_json(name, payload)
        head = json.dumps({"o": ORIGIN, "n": name}, separators=(",", ":"))[:-1] + ',"i":'
        return execute(_SEND_SQL, [name, body, CHANNEL, head, f',"p":{body}}}'])[0]

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
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(3.0)

    def _run(self, kwargs: dict) -> None:
        import psycopg

        delay = 0.5
        reconnecting = False
        lost_at = None
        next_purge = time.monotonic()
        while not self._stop.is_set():
            try:
                with psycopg.connect(**kwargs, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.epoch += 1
                    if reconnecting:
                        self._catch_up(conn, lost_at)
                    self.ready.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=1.0, stop_after=500):
                            if self._stop.is_set():
                                break
                            self._handle(n.payload)
                        if time.monotonic() >= next_purge:
                            next_purge = time.monotonic() + 60.0
                            self._purge(conn)
            except Exception as exc:  # the database restarted, the network blipped …
                self.ready.clear()
                if not reconnecting:
                    lost_at = dt.datetime.now(dt.UTC)
                reconnecting = True
                log.warning("event listener lost its connection (%s); retrying", type(exc).__name__)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    @staticmethod
    def _catch_up(conn, lost_at: dt.datetime | None) -> None:
        """After a reconnect: deliver what was logged while the listener was away
        (in batches; numbers this process already delivered are skipped)."""
        from heart.live.store import REPLAY_MAX, REPLAY_SLACK

        since = last_seq()
        if since:
            rows = conn.execute(
                "SELECT id, name, payload FROM live_liveevent WHERE id > %s OR (id < %s AND "
                "at >= (SELECT at FROM live_liveevent WHERE id <= %s ORDER BY id DESC LIMIT 1)"
                " - %s) ORDER BY id LIMIT %s",
                [since, since, since, REPLAY_SLACK, REPLAY_MAX],
            ).fetchall()
        else:  # nothing delivered here yet: what was logged since the connection was lost
            rows = conn.execute(
                "SELECT id, name, payload FROM live_liveevent WHERE at >= %s ORDER BY id LIMIT %s",
                [(lost_at or dt.datetime.now(dt.UTC)) - REPLAY_SLACK, REPLAY_MAX],
            ).fetchall()
        caught = 0
        while rows:
            for seq, name, payload in rows:
                deliver_local(name, payload, seq)
            caught += len(rows)
            rows = conn.execute(
                "SELECT id, name, payload FROM live_liveevent WHERE id > %s ORDER BY id LIMIT %s",
                [rows[-1][0], REPLAY_MAX],
            ).fetchall()
        if caught:
            log.warning("event listener replayed %d logged events after reconnecting", caught)

    @staticmethod
    def _purge(conn) -> None:
        from heart.live.store import keep_seconds

        try:
            conn.execute(
                "DELETE FROM live_liveevent WHERE at < now() - make_interval(secs => %s)",
                [keep_seconds()],
            )
        except Exception as exc:  # noqa: BLE001 - retention can wait for the next round
            log.warning("purging the live event log failed (%s)", type(exc).__name__)

    @staticmethod
    def _handle(raw: str) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            log.warning("ignoring a malformed %s notification", CHANNEL)
            return
        if msg.get("o") == ORIGIN:
            return  # delivered locally on commit already
        seq = msg.get("i")
        deliver_local(
            str(msg.get("n", "")), msg.get("p") or {}, seq if isinstance(seq, int) else None
        )
