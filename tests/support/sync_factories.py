"""SyncOperation rows in each state the panel shows, for the sync tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from catalog.models import SyncFailure, SyncOperation

Status = SyncOperation.Status


def make_operation(**overrides: Any) -> SyncOperation:
    """A completed web sync that took 72 s and finished 5 minutes ago, unless overridden.

    An active status gets a fresh heartbeat and no finish time by default.
    """
    now = timezone.now()
    status = overrides.get("status", Status.COMPLETED)
    active = status in SyncOperation.ACTIVE_STATUSES
    fields: dict[str, Any] = {
        "status": status,
        "source": SyncOperation.Source.WEB,
        "started_at": now - timedelta(minutes=6, seconds=12),
        "finished_at": None if active else now - timedelta(minutes=5),
        "heartbeat_at": now if active else now - timedelta(minutes=5),
    }
    fields.update(overrides)
    return SyncOperation.objects.create(**fields)


def add_failures(operation: SyncOperation, count: int) -> list[SyncFailure]:
    return [
        SyncFailure.objects.create(
            operation=operation, label=f"Band {n} - Album {n}", reason="not found on Spotify"
        )
        for n in range(1, count + 1)
    ]
