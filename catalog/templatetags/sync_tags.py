"""Template filters for the sync panel and history."""

from __future__ import annotations

from datetime import timedelta

from django import template

from catalog.sync_panel import format_duration

register = template.Library()


@register.filter
def sync_duration(value: timedelta | None) -> str:
    """A run's duration as '45 s', '1 min 12 s' or '2 h 5 min'."""
    return format_duration(value) if value is not None else ""
