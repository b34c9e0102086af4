"""`heart manage deliver_events`: run the event deliveries still pending."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from heart.events.bus import deliver_pending
from heart.events.models import Delivery


class Command(BaseCommand):
    help = "Run pending event deliveries (subscribers that failed or never ran)."

    def handle(self, *args, **options):
        done = deliver_pending(limit=100_000)
        left = Delivery.objects.filter(state=Delivery.State.PENDING).count()
        failed = Delivery.objects.filter(state=Delivery.State.FAILED).count()
        self.stdout.write(f"{done} delivered, {left} still pending, {failed} failed")
