"""Fan-out of live events to the Server-Sent-Events clients of this process.

Services publish from worker threads (sync views run in a thread pool under ASGI; the
PostgreSQL listener is a thread too); every SSE client lives on the server's event
loop. An event is formatted once per distinct (filtered) payload and handed to the
loop in one batch for all its clients; a batch already waiting for the loop takes the
next events too, so a busy loop is woken once for many events, not once per event and
client. Each client keeps a list of pending frames and an asyncio.Event; its stream
writes everything pending in one chunk.

Every frame carries the event's sequence number (``id:``), the same in every process
(:mod:`heart.live.store`). A client that cannot keep up (more than ``maxsize`` frames
pending) is cut off; the browser reconnects with ``Last-Event-ID`` and is replayed
what it missed from the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable

from heart.live import broadcast

log = logging.getLogger(__name__)

# (name, payload) -> payload to send, or None to skip (per-role filtering)
Filter = Callable[[str, dict], dict | None]
Frame = tuple[int | None, str]  # (sequence number, text)


def frame(name: str, payload: dict, seq: int | None) -> str:
    data = json.dumps(payload, separators=(",", ":"), default=str)
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {name}\ndata: {data}\n\n"


class Client:
    def __init__(self, loop: asyncio.AbstractEventLoop, filt: Filter, maxsize: int = 5000):
        self.loop = loop
        self.filter = filt
        self.maxsize = maxsize
        self.pending: list[Frame] = []
        self.ready = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def _put(self, item: Frame) -> None:  # on the client's loop
        if len(self.pending) >= self.maxsize:
            self.overflowed = True
        else:
            self.pending.append(item)
        self.ready.set()

    def take(self) -> list[Frame]:
        """Everything pending (on the client's loop)."""
        out, self.pending = self.pending, []
        self.ready.clear()
        return out

    async def get(self, timeout: float | None = None) -> list[Frame]:
        """Wait for frames and take them all (tests; the stream view does the same)."""
        if not self.pending:
            await asyncio.wait_for(self.ready.wait(), timeout)
        return self.take()


class _LoopBatch:
    """Frames waiting to be handed to the clients of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.items: list[tuple[Client, Frame]] = []
        self.scheduled = False


class Hub:
    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._batches: dict[int, _LoopBatch] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def start(self) -> None:
        with self._lock:
            if self._unsubscribe is None:
                self._unsubscribe = broadcast.subscribe(self._on_event, with_seq=True)
        broadcast.get_backend().start_listening()

    def connect(self, filt: Filter) -> Client:
        self.start()
        client = Client(asyncio.get_running_loop(), filt)
        with self._lock:
            self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        client.closed = True
        with self._lock:
            self._clients.discard(client)

    def _on_event(self, name: str, payload: dict, seq: int | None = None) -> None:
        with self._lock:
            clients = list(self._clients)
        if not clients:
            return
        texts: dict[int, tuple[dict, str]] = {}  # one frame per distinct payload
        wake: list[_LoopBatch] = []
        with self._lock:
            for c in clients:
                try:
                    out = c.filter(name, payload)
                except Exception:
                    log.exception("event filter failed")
                    continue
                if out is None:
                    continue
                hit = texts.get(id(out))
                if hit is None or hit[0] is not out:
                    hit = texts[id(out)] = (out, frame(name, out, seq))
                batch = self._batches.get(id(c.loop))
                if batch is None or batch.loop is not c.loop:
                    batch = self._batches[id(c.loop)] = _LoopBatch(c.loop)
                batch.items.append((c, (seq, hit[1])))
                if not batch.scheduled:
                    batch.scheduled = True
                    wake.append(batch)
        for batch in wake:
            try:
                batch.loop.call_soon_threadsafe(self._flush, batch)
            except RuntimeError:  # the loop is closed: its clients are gone
                with self._lock:
                    self._batches.pop(id(batch.loop), None)
                    for c, _ in batch.items:
                        self._clients.discard(c)

    def _flush(self, batch: _LoopBatch) -> None:  # on the batch's loop
        with self._lock:
            items, batch.items, batch.scheduled = batch.items, [], False
        for client, item in items:
            if not client.closed:
                client._put(item)


hub = Hub()
