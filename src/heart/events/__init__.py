"""The domain event stream: what happened in a shift, stored with the write that caused it.

Apps talk to each other through these events instead of calling into each other:
dispatch records "call.closed" with the disposition and care, which subscribes, opens
the encounter and the 48-hour follow-up. An event someone subscribes to is a row written
in the same transaction as the change it announces (so no event without its change and
no change without its event); subscribers run after the commit, each in its own
transaction, and a delivery that failed or never ran (a crash right after the commit) is
retried by :func:`heart.events.bus.deliver_pending`. Every event also reaches the live
screens; the CAD write-back is one more subscriber of this stream. See DEVELOPERS.md,
"where does X live".
"""
