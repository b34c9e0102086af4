"""`heart manage verify_audit`: walk every hash-chained audit table and say whether it
is intact; exit status 1 naming the first broken row (heart.accounts.chain)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from heart.accounts.chain import chained_models, verify


class Command(BaseCommand):
    help = "Check the hash chains of the audit tables; name the first broken row."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database: str = "default", **options):
        broken = False
        for model in chained_models():
            verdict = verify(model, using=database)
            if verdict.ok:
                self.stdout.write(verdict.describe())
            else:
                broken = True
                self.stderr.write(verdict.describe())
        if broken:
            raise SystemExit(1)
