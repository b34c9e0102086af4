"""Write-back to the CAD: HEART's status changes, dispositions, backup requests and route
overrides, delivered to the dispatch center's CAD at least once, in order per call.

* ``models.py``  OutboxMessage: one row per event to send, written in the SAME
  transaction as the change (heart.events.bus.on_store), with a stable idempotency key
* ``messages.py`` the bodies: a signed webhook, or a NENA-STA-021 EIDO document
* ``delivery.py`` signing, back-off with jitter, the per-call ordered sender
  (:func:`deliver_due`), run by the jobs runner (procrastinate on PostgreSQL)
* ``services.py`` the outbox writer, replay and discard of dead letters (audited)
* ``selectors.py``, ``api.py``, ``views.py`` the dead-letter list (admin role)

docs/cad-writeback.md is the CAD's side of it.
"""
