"""Fan-out of live events to the Server-Sent-Events clients of this process.

Services publish from worker threads (sync views run in a thread pool under ASGI; the
PostgreSQL listener is a thread too); every SSE client is an asyncio queue on the
server's event loop, fed with ``loop.call_soon_threadsafe``. A client that cannot keep
up (its queue is full) is disconnected; the browser reconnects and reloads a snapshot.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import Callable

from heart.live import broadcast

log = logging.getLogger(__name__)

# (name, payload) -> payload to send, or None to skip (per-role filtering)
Filter = Callable[[str, dict], dict | None]

_ids = itertools.count(1)


def frame(name: str, payload: dict, event_id: int) -> str:
    data = json.dumps(payload, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {name}\ndata: {data}\n\n"


class Client:
    def __init__(self, loop: asyncio.AbstractEventLoop, filt: Filter, maxsize: int = 2000):
        self.loop = loop
        self.filter = filt
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def _put(self, item: str | None) -> None:  # on the client's loop
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class Hub:
    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self._clients)

    def start(self) -> None:
        with self._lock:
            if self._unsubscribe is None:
                self._unsubscribe = broadcast.subscribe(self._on_event)
        broadcast.get_backend().start_listening()

    def connect(self, filt: Filter) -> Client:
        self.start()
        client = Client(asyncio.get_running_loop(), filt)
        with self._lock:
            self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)

    def _on_event(self, name: str, payload: dict) -> None:
        event_id = next(_ids)
        with self._lock:
            clients = list(self._clients)
        cache: dict[int, tuple[dict, str]] = {}  # one frame per distinct payload
        for c in clients:
            try:
                out = c.filter(name, payload)
            except Exception:
                log.exception("event filter failed")
                continue
            if out is None:
                continue
            hit = cache.get(id(out))
            if hit is None or hit[0] is not out:
                hit = cache[id(out)] = (out, frame(name, out, event_id))
            text = hit[1]
            try:
                c.loop.call_soon_threadsafe(c._put, text)
            except RuntimeError:  # the client's loop is closed
                self.disconnect(c)


hub = Hub()
