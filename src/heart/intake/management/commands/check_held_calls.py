"""`heart manage check_held_calls`: recommend a free team to calls waiting for one, or fall
them back when their wait is over (the program's [no_team_free] hold)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from heart.intake.services import check_held_calls


class Command(BaseCommand):
    help = "Check calls waiting for a team: recommend a free one, or fall back at the deadline."

    def handle(self, *args, **options):
        done = check_held_calls()
        self.stdout.write(
            f"{done.recommended} recommended a team, {done.fell_back} fell back, "
            f"{done.released} no longer waiting, {done.waiting} still waiting"
        )
