"""The application `heart serve` runs: streams on Django's ASGI handler, every other
request through Django's WSGI handler on a worker thread (heart.web.asgi)."""

from __future__ import annotations

import asyncio
import json

import pytest

from heart.web.asgi import application, environ

pytestmark = pytest.mark.django_db(transaction=True)


async def call(app, method, path, body=b"", headers=(), query=b""):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("10.1.2.3", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []
    never = asyncio.get_running_loop().create_future()

    async def receive():
        return messages.pop() if messages else await never

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), 10)
    start = sent[0]
    return start["status"], start["headers"], b"".join(m.get("body", b"") for m in sent[1:])


def test_pages_and_api_go_through_wsgi_and_headers_are_clean(settings):
    from heart.accounts.services import clear_token_cache, create_api_client

    clear_token_cache()
    _, token = create_api_client(name="asgi-cad")

    async def main():
        page = await call(application, "GET", "/accounts/login/")
        api = await call(
            application,
            "POST",
            "/api/calls",
            json.dumps({"received_at": "2024-03-05T10:00:00-05:00", "nature": "CRISIS"}).encode(),
            [
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"application/json"),
            ],
        )
        stream = await call(application, "GET", "/live/events", query=b"scope=board")
        return page, api, stream

    page, api, stream = asyncio.run(main())
    assert page[0] == 200 and b"csrfmiddlewaretoken" in page[2]
    for name, value in page[1]:
        assert value == value.strip(), (name, value)  # h11 refuses padded values
    assert any(n == b"set-cookie" and v.startswith(b"csrftoken=") for n, v in page[1])
    assert api[0] == 201 and json.loads(api[2])["route"]
    assert stream[0] == 401  # the stream view (ASGI) answers for itself


def test_environ_follows_pep_3333():
    import io

    env = environ(
        {
            "method": "POST",
            "path": "/api/calls",
            "root_path": "",
            "query_string": b"a=1",
            "http_version": "1.1",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"999"),
                (b"x-forwarded-for", b"1.1.1.1"),
                (b"x-forwarded-for", b"2.2.2.2"),
            ],
            "client": ("10.0.0.9", 1234),
            "server": ("example.org", 443),
            "scheme": "https",
        },
        io.BytesIO(b"{}"),
        2,
    )
    assert env["CONTENT_LENGTH"] == "2" and env["CONTENT_TYPE"] == "application/json"
    assert env["HTTP_X_FORWARDED_FOR"] == "1.1.1.1,2.2.2.2"
    assert env["REMOTE_ADDR"] == "10.0.0.9" and env["wsgi.url_scheme"] == "https"
    assert env["QUERY_STRING"] == "a=1" and env["SERVER_PORT"] == "443"


def test_importing_the_application_starts_no_background_threads_the_server_start_does():
    """Background work (sweeper, listener, scheduler, hold checker) belongs to a serving
    process: it starts on the ASGI lifespan startup, never on import (a test importing the
    module used to get a hold-checker thread reaching the database on its own)."""
    import threading

    import heart.web.asgi as asgi

    names = {t.name for t in threading.enumerate()}
    assert "heart-hold-checker" not in names
    assert not asgi._started

    started = []
    real, real_freeze = asgi.start_background_work, asgi.freeze_startup_heap
    asgi.start_background_work = lambda: started.append(True)
    asgi.freeze_startup_heap = lambda: started.append("frozen")
    try:
        inbox = [{"type": "lifespan.shutdown"}, {"type": "lifespan.startup"}]
        sent = []

        async def receive():
            return inbox.pop()

        async def send(message):
            sent.append(message["type"])

        asyncio.run(application({"type": "lifespan"}, receive, send))
    finally:
        asgi.start_background_work, asgi.freeze_startup_heap = real, real_freeze
    assert started == [True, "frozen"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_the_start_up_heap_is_frozen_out_of_full_collections():
    """A serving process freezes what it built while starting, so a full garbage
    collection no longer walks it (a ~150 ms pause that set intake's p99)."""
    import gc

    from heart.web.asgi import freeze_startup_heap

    try:
        freeze_startup_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000
        # what a full collection still walks: a small fraction of the process
        assert len(gc.get_objects()) < frozen / 10
    finally:
        gc.unfreeze()
