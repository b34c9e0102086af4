"""The domain event stream: what happened in a shift, stored with the write that caused it.

Apps talk to each other through these events instead of calling into each other:
dispatch records "call.closed" with the disposition and care, which subscribes, opens
the encounter and the 48-hour follow-up. Each event is a row written in the same
transaction as the change it announces (so no event without its change and no change
without its event); subscribers run after the commit, each in its own transaction, and
a delivery that failed or never ran (a crash right after the commit) is retried by
:func:`heart.events.bus.deliver_pending`. The same stream feeds the live screens and is
the one the CAD write-back reads. See DEVELOPERS.md, "where does X live".
"""
