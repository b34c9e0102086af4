"""Hot-path statements on PostgreSQL: server-side parameters, prepared once per connection.

Django's PostgreSQL cursors bind parameters on the client (psycopg ClientCursor): each
execution quotes every value into the SQL text in Python, and PostgreSQL parses and
plans the text again. For the few statements intake runs hundreds of times a second
(the upsert, the timeline lines, the event log + NOTIFY) :func:`execute` sends the
values apart from the statement, which is prepared once per pooled connection. Errors
are Django's (IntegrityError, OperationalError, …), as from any Django cursor.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def execute(sql: str, params: Sequence, *, fetch: bool = True):
    """Run one statement on the default connection (in its transaction); the first row."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        cur.execute(sql, params, prepare=True)
        return cur.fetchone() if fetch else None
