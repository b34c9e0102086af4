"""The CAD write-back's signature, back-off and response rules (no database)."""

from __future__ import annotations

import hashlib
import hmac
import random

from heart.cad.delivery import backoff_seconds, body_bytes, retryable, sign, verify


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = body_bytes({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, body) == "sha256=" + expected


def test_verify_refuses_a_changed_body_a_wrong_secret_and_an_old_timestamp():
    body = body_bytes({"type": "unit_status"})
    sig = sign("k", 1700000000, body)
    assert verify("k", "1700000000", body, sig, now=1700000010)
    assert not verify("k", "1700000000", body + b" ", sig, now=1700000010)
    assert not verify("other", "1700000000", body, sig, now=1700000010)
    assert not verify("k", "1700000000", body, sig, now=1700000000 + 301)  # replayed late
    assert not verify("k", "soon", body, sig, now=1700000000)


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(1)
    for attempt, step in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 600), (40, 600)]:
        waits = [backoff_seconds(attempt, base=2, cap=600, rng=rng) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits)
        assert max(waits) - min(waits) > step / 4  # spread out: jitter


def test_which_answers_are_retried():
    assert retryable(500) and retryable(503) and retryable(408) and retryable(429)
    assert not retryable(400) and not retryable(401) and not retryable(404)
    assert not retryable(422)


def test_network_failures_are_said_in_words():
    import httpx

    from heart.cad.delivery import _in_words

    assert _in_words(httpx.ReadTimeout("x")).startswith("no answer in time")
    assert _in_words(httpx.ConnectError("x")).startswith("could not connect")
    assert "closed the connection" in _in_words(httpx.RemoteProtocolError("x"))
