"""Number formatting for the report templates: a hidden count reads "fewer than N" /
"hidden", never a blank that looks like zero."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def fig(value, threshold=10, digits=0):
    """A count or figure; a suppressed one says why (as text: screen readers read it)."""
    if value is None:
        return format_html('<span class="hidden-cell">{}</span>', _("hidden"))
    if isinstance(value, float) and digits == 0 and not value.is_integer():
        digits = 1
    return number_format(value, decimal_pos=digits, use_l10n=True, force_grouping=True)


@register.simple_tag
def pct(value):
    if value is None:
        return format_html('<span class="hidden-cell">{}</span>', _("hidden"))
    return number_format(round(100 * value, 1), decimal_pos=1, use_l10n=True) + " %"


@register.simple_tag
def minutes(value):
    if value is None:
        return "–"
    return number_format(value, decimal_pos=1, use_l10n=True)


@register.filter
def heat_class(level):
    return "heat-hidden" if level < 0 else f"heat-{level}"
