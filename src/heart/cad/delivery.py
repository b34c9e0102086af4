"""Sending the outbox to the CAD: at least once, in order per call, signed.

* :func:`sign` HMAC-SHA256 over ``"<timestamp>.<body>"`` with the shared secret:
  headers ``X-Heart-Timestamp`` (Unix seconds) and ``X-Heart-Signature: sha256=<hex>``;
  ``Idempotency-Key`` is the message's key, the same on every attempt (docs/cad-writeback.md)
* :func:`backoff_seconds` exponential back-off with jitter
* :func:`deliver_due` sends every message that is due and is the oldest
  unacknowledged one of its stream (its call): a message for call X is never sent
  before the earlier ones for X are acknowledged; other calls are not held up. The
  row is locked (``SELECT … FOR UPDATE SKIP LOCKED``) while it is sent, so two workers
  never send the same message at once and a worker killed mid-send leaves it pending
  (its lock dies with its connection): sent again later, under the same key.

Outcomes: 2xx acknowledged; 4xx other than 408/429 is a dead letter at once (the CAD
refuses the message itself: sending it again cannot help); anything else (5xx, 408,
429, timeout, refused connection) is retried after the back-off, and becomes a dead
letter after ``max_attempts``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import time

import httpx
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from heart.cad import config
from heart.cad.models import OutboxMessage

log = logging.getLogger(__name__)

S = OutboxMessage.State
UNACKNOWLEDGED = (S.PENDING, S.DEAD)  # what holds the later messages of a stream


def body_bytes(body: dict) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: float = 300
) -> bool:
    """What a CAD does with the headers (and what the tests' fake CAD does)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def headers_for(message: OutboxMessage, body: bytes, *, secret: str, now: float) -> dict:
    ts = int(now)
    content = "application/json" if message.format == "webhook" else "application/eido+json"
    return {
        "Content-Type": content,
        "Idempotency-Key": str(message.key),
        "X-Heart-Timestamp": str(ts),
        "X-Heart-Signature": sign(secret, ts, body),
        "X-Heart-Event": message.kind,
        "X-Heart-Stream": message.stream,
        "User-Agent": "HEART-cad-writeback/1",
    }


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds before attempt ``attempt + 1`` after ``attempt`` failures: exponential
    (base, 2·base, 4·base, … up to cap), "equal jitter": half of it fixed, half random,
    so retries of many messages spread out yet never come sooner than half the step."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    r = (rng or random).random()
    return step / 2 + r * step / 2


def retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def _in_words(exc: httpx.HTTPError) -> str:
    """What went wrong, for the dead-letter page (and the exception's name for support)."""
    if isinstance(exc, httpx.TimeoutException):
        words = "no answer in time"
    elif isinstance(exc, httpx.ConnectError):
        words = "could not connect to the CAD"
    elif isinstance(exc, httpx.RemoteProtocolError):
        words = "the CAD closed the connection without an answer"
    else:
        words = "the request failed"
    return f"{words} ({type(exc).__name__})"


def _due_heads(now: dt.datetime, limit: int) -> list[int]:
    earlier_open = OutboxMessage.objects.filter(
        stream=OuterRef("stream"), pk__lt=OuterRef("pk"), state__in=UNACKNOWLEDGED
    )
    return list(
        OutboxMessage.objects.filter(state=S.PENDING, next_attempt_at__lte=now)
        .exclude(Exists(earlier_open))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def _send_one(pk: int, client: httpx.Client, cfg: dict) -> str:
    """One attempt at one message, row locked; the outcome: sent, retry, dead, skipped."""
    with transaction.atomic():
        m = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, state=S.PENDING)
            .first()
        )
        if m is None:
            return "skipped"  # sent meanwhile, or another worker holds it
        if OutboxMessage.objects.filter(
            stream=m.stream, pk__lt=m.pk, state__in=UNACKNOWLEDGED
        ).exists():
            return "skipped"  # an earlier one of its call is not acknowledged (yet)
        body = body_bytes(m.body)
        status: int | None = None
        error = ""
        retry_after = 0.0
        try:
            r = client.post(
                cfg["url"],
                content=body,
                headers=headers_for(m, body, secret=cfg.get("secret") or "", now=time.time()),
            )
            status = r.status_code
            if status == 429:
                try:
                    retry_after = float(r.headers.get("Retry-After", "0"))
                except ValueError:
                    retry_after = 0.0
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = _in_words(exc)
        now = timezone.now()
        m.attempts += 1
        m.last_status = status
        if status is not None and 200 <= status < 300:
            m.state, m.sent_at, m.last_error = S.SENT, now, ""
            outcome = "sent"
        elif (status is not None and not retryable(status)) or m.attempts >= int(
            cfg["max_attempts"]
        ):
            m.state, m.dead_at, m.last_error = S.DEAD, now, error[:500]
            outcome = "dead"
            log.warning("CAD write-back: message %s is a dead letter (%s)", m.pk, error)
        else:
            wait = backoff_seconds(
                m.attempts, base=float(cfg["backoff_base"]), cap=float(cfg["backoff_cap"])
            )
            m.next_attempt_at = now + dt.timedelta(
                seconds=max(wait, min(retry_after, float(cfg["backoff_cap"])))
            )
            m.last_error = error[:500]
            outcome = "retry"
        m.save(
            update_fields=[
                "attempts",
                "last_status",
                "state",
                "sent_at",
                "dead_at",
                "last_error",
                "next_attempt_at",
            ]
        )
        return outcome


def deliver_due(
    *, limit: int = 200, budget_seconds: float = 50.0, client: httpx.Client | None = None
) -> dict:
    """Send what is due now, round after round, until nothing is due or the time budget
    is spent (the job runs again at its next cron time). Counts of the outcomes."""
    if not config.enabled():
        return {}
    cfg = config.cad()
    counts = {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}
    own = client is None
    client = client or httpx.Client(timeout=float(cfg["timeout"]))
    started = time.monotonic()
    try:
        while time.monotonic() - started < budget_seconds:
            heads = _due_heads(timezone.now(), limit)
            if not heads:
                break
            acted = 0
            for pk in heads:
                outcome = _send_one(pk, client, cfg)
                counts[outcome] += 1
                acted += outcome != "skipped"
                if time.monotonic() - started >= budget_seconds:
                    break
            if not acted:
                break  # the due heads are held by another worker: it sends them
    finally:
        if own:
            client.close()
    return counts
