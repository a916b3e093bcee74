"""Template filters for the sync panel and history."""

from __future__ import annotations

from datetime import timedelta

from django import template

from catalog.counts import format_duration
from catalog.models import SyncOperation
from catalog.sync_panel import count_parts

register = template.Library()


@register.filter
def sync_duration(value: timedelta | None) -> str:
    """A run's duration as '45 s', '1 min 12 s' or '2 h 5 min'."""
    return format_duration(value) if value is not None else ""


@register.filter
def sync_counts(operation: SyncOperation) -> list[str]:
    """A run's counts line as parts: '12 new', '3 changed', '32 unchanged' (see count_parts)."""
    return count_parts(operation)
