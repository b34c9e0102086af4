"""A fake CAD for the write-back tests: a real HTTP server in a thread that misbehaves.

* ``fail_rate``: answers 503 without taking the message (the CAD was down)
* ``late_rate``: takes the message, then answers only after ``late_seconds`` (longer
  than the client's timeout): the client gives up and sends it again, so the CAD sees
  the same idempotency key twice
* ``drop_rate``: takes the message and closes the connection without an answer
* ``refuse``: idempotency keys answered 400 (the CAD refuses the message itself)
* ``delay``: seconds every request takes before it is looked at
* ``hold``: seconds between taking a message and answering 200 (``holding`` counts the
  requests in that gap: kill the worker then, and the CAD has a message the worker
  never heard acknowledged)

It checks the signature, and keeps every arrival (``arrivals``) and the first body per
key (``taken``), deduplicating on the Idempotency-Key like a careful CAD would.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from heart.cad.delivery import verify


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (timed out, or was killed): expected here
        super().handle_error(request, client_address)


class FakeCad:
    def __init__(
        self,
        *,
        secret="s3cret",
        seed=13,
        fail_rate=0.0,
        late_rate=0.0,
        drop_rate=0.0,
        late_seconds=0.5,
        delay=0.0,
        hold=0.0,
        refuse=(),
    ):
        self.secret = secret
        self.rng = random.Random(seed)
        self.fail_rate, self.late_rate, self.drop_rate = fail_rate, late_rate, drop_rate
        self.late_seconds, self.delay, self.hold = late_seconds, delay, hold
        self.holding = 0
        self.refuse = set(refuse)
        self.lock = threading.Lock()
        self.arrivals: list[dict] = []  # every request that got in (key, stream, body)
        self.taken: dict[str, dict] = {}  # key -> first body taken
        self.order: dict[str, list[str]] = {}  # stream -> keys in first-taken order
        self.bad_signatures = 0
        self.answers = {"503": 0, "late": 0, "drop": 0, "400": 0, "200": 0}
        self.received = threading.Event()
        self.in_flight = 0  # requests being answered now
        cad = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                key = self.headers.get("Idempotency-Key", "")
                stream = self.headers.get("X-Heart-Stream", "")
                ok = verify(
                    cad.secret,
                    self.headers.get("X-Heart-Timestamp", ""),
                    raw,
                    self.headers.get("X-Heart-Signature", ""),
                    now=time.time(),
                )
                with cad.lock:
                    cad.in_flight += 1
                try:
                    self._answer(raw, key, stream, ok)
                finally:
                    with cad.lock:
                        cad.in_flight -= 1

            def _answer(self, raw, key, stream, ok):
                if cad.delay:
                    time.sleep(cad.delay)
                with cad.lock:
                    roll = cad.rng.random()
                    if not ok:
                        cad.bad_signatures += 1
                        answer = 401
                    elif key in cad.refuse:
                        answer = 400
                    elif roll < cad.fail_rate:
                        answer = 503
                    elif roll < cad.fail_rate + cad.late_rate:
                        answer = "late"
                    elif roll < cad.fail_rate + cad.late_rate + cad.drop_rate:
                        answer = "drop"
                    else:
                        answer = 200
                    if answer in (200, "late", "drop"):
                        cad._take(key, stream, raw)
                    cad.answers[str(answer)] = cad.answers.get(str(answer), 0) + 1
                if answer == "late":
                    time.sleep(cad.late_seconds)
                    answer = 200
                if answer == 200 and cad.hold:
                    with cad.lock:
                        cad.holding += 1
                    time.sleep(cad.hold)
                    with cad.lock:
                        cad.holding -= 1
                if answer == "drop":  # no answer at all: the server just closes
                    self.close_connection = True
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/incidents"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _take(self, key: str, stream: str, raw: bytes) -> None:
        body = json.loads(raw)
        self.arrivals.append({"key": key, "stream": stream, "body": body})
        if key not in self.taken:
            self.taken[key] = body
            self.order.setdefault(stream, []).append(key)
        self.received.set()

    def __enter__(self) -> FakeCad:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
