"""What the command groups share: lazy rich consoles, a date argument, Django set-up."""

from __future__ import annotations

import argparse
import datetime as dt
import os


class _LazyConsole:
    """A rich Console made on first use: a quiet batch run never pays for importing rich."""

    def __init__(self, **options):
        self._options = options
        self._console = None

    @property
    def real(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str):
        return getattr(self.real, name)


console = _LazyConsole(stderr=True)
out = _LazyConsole()


def parse_date(text: str) -> dt.date:
    """An argparse type: an ISO date like 2022-07-01."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2022-07-01") from None


def django_setup() -> None:
    """Set Django up; a refused configuration (HEART_PRODUCTION=1 without a real key …)
    ends the command with its message, not a traceback."""
    import sys

    import django
    from django.core.exceptions import ImproperlyConfigured

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")
    try:
        django.setup()
    except ImproperlyConfigured as exc:
        if not str(exc).startswith("HEART_PRODUCTION"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
