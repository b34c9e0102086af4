"""One time format for the live pages: ``settings.HEART_CLOCK`` ("24h" or "12h"), read
here for templates (``{{ t|clock }}``, ``{{ t|clock:"s" }}`` with seconds) and passed to
the pages' scripts by ``{% clock_setting %}`` (static/board/clock.js formats the same way).
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


def clock_setting_value() -> str:
    return "12h" if getattr(settings, "HEART_CLOCK", "24h") == "12h" else "24h"


@register.simple_tag
def clock_setting() -> str:
    return clock_setting_value()


@register.filter
def clock(value, arg: str = "") -> str:
    if not value:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    seconds = arg == "s"
    if clock_setting_value() == "12h":
        return date_format(value, "g:i:s A" if seconds else "g:i A")
    return date_format(value, "H:i:s" if seconds else "H:i")
