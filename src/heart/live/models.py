"""The screens' event log: every live event with its stream sequence number.

``id`` is the sequence number a board sees in each Server-Sent-Events frame (``id:``)
and sends back as ``Last-Event-ID`` when it reconnects, so the server can replay what
it missed (see :mod:`heart.live.store`). The row is written inside the transaction of
the change it announces (with the PostgreSQL NOTIFY, in the same statement), so a
rolled-back change is never logged and a committed one always is. Rows are kept for
``HEART_LIVE_KEEP_SECONDS`` (default 15 minutes): long enough to catch up after a
dropped connection, a server restart or a database restart; a board further behind
reloads its snapshot. Payloads are the events' own: ids, statuses, codes, coordinates,
never names, phones or narratives.
"""

from __future__ import annotations

from django.db import models


class LiveEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(db_index=True)  # when its transaction started (retention)
    name = models.CharField(max_length=60)
    payload = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"
