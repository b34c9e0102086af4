"""Care listens to dispatch: every closed call and crisis-line outcome becomes an
encounter (and, with consent, a 48-hour follow-up). Dispatch never calls care; it emits
events (heart.events) and these handlers run after its commit, retried until done."""

from __future__ import annotations

from heart.accounts.actors import Actor
from heart.calls.models import CcdOutcome, Disposition
from heart.care import services
from heart.events.bus import subscribe
from heart.events.models import Event


def on_dispatch_event(event: Event, actor: Actor) -> None:
    payload = event.payload
    if event.name == "call.closed" and payload.get("disposition_id"):
        disposition = Disposition.objects.select_related("call", "team").get(
            pk=payload["disposition_id"]
        )
        services.record_encounter_from_disposition(disposition=disposition, actor=actor)
    elif event.name == "ccd.outcome":
        outcome = CcdOutcome.objects.select_related("call").get(pk=payload["ccd_outcome_id"])
        services.record_encounter_from_ccd_outcome(ccd_outcome=outcome, actor=actor)


def connect() -> None:
    subscribe(
        key="care.encounters", names={"call.closed", "ccd.outcome"}, handler=on_dispatch_event
    )
