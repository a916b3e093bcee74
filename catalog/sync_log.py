"""A sync's two lines in the server log: one when a run starts, one when it ends.

They go to the "catalog.sync" logger, a child of the "catalog" logger that settings.LOGGING
sends to stderr at LOG_LEVEL (INFO by default), in production too. The start line says who or
what started the run and what it reads; the end line the outcome, the counts in the words of
catalog/counts.py, the duration and, for a failure, its reason. Both are built from the run's
row (one small SELECT each), so the web, the command and any runner log the same way. Secrets
never appear: the workbook is named by `source_label` (no credentials, no query), and a
failure's reason is the message written for the panel.

    Sync #12 started from the web panel by alice: docs.google.com/..., Spotify for new albums
    Sync #12 completed in 1 min 12 s: 12 new · 3 changed · 2,540 unchanged · 0 failed
    Sync #13 failed after 2 s: Workbook file not found: ...
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings

from catalog import counts
from catalog.models import SyncOperation
from catalog.sources import source_label

logger = logging.getLogger("catalog.sync")

Status = SyncOperation.Status


def _duration(row: dict[str, Any]) -> str:
    if row["finished_at"] is None:
        return "?"
    return counts.format_duration(row["finished_at"] - row["started_at"])


def _spotify(options: dict[str, Any]) -> str:
    if options.get("skip_spotify"):
        return "Spotify skipped"
    if not settings.SPOTIFY_ENABLED:
        return "Spotify disabled"
    if options.get("refresh_spotify"):
        return "Spotify refreshed for every album"
    return "Spotify for new albums"


def run_started(operation_id: int) -> None:
    """Log that the run `operation_id` started: where from, by whom, what it reads."""
    row = (
        SyncOperation.objects.filter(pk=operation_id)
        .values("source", "triggered_by__username", "options")
        .first()
    )
    if row is None:
        return
    options = row["options"] if isinstance(row["options"], dict) else {}
    if row["source"] == SyncOperation.Source.CLI:
        where = f"from the command line (import_albums, pid {os.getpid()})"
    elif row["triggered_by__username"]:
        where = f"from the web panel by {row['triggered_by__username']}"
    else:
        where = "from the web panel"
    workbook = options.get("workbook") or source_label(options.get("source"))
    logger.info("Sync #%s started %s: %s, %s", operation_id, where, workbook, _spotify(options))


def run_ended(operation_id: int) -> None:
    """Log how the run `operation_id` ended, as its row now records it."""
    row = (
        SyncOperation.objects.filter(pk=operation_id)
        .values(
            "status",
            "message",
            "error",
            "started_at",
            "finished_at",
            "created_count",
            "updated_count",
            "unchanged_count",
            "removed_count",
            "failed_count",
            "warnings_count",
            "spotify_stopped",
        )
        .first()
    )
    if row is None:
        return
    duration = _duration(row)
    if row["status"] == Status.FAILED:
        logger.warning(
            "Sync #%s failed after %s: %s", operation_id, duration, row["error"] or row["message"]
        )
        return
    line = counts.counts_line(
        created=row["created_count"],
        updated=row["updated_count"],
        unchanged=row["unchanged_count"],
        removed=row["removed_count"],
    )
    line += f" · {counts.number(row['failed_count'])} failed"
    if row["warnings_count"]:
        notes = row["warnings_count"]
        line += f" · {counts.number(notes)} note{'' if notes == 1 else 's'} from the workbook"
    if row["status"] == Status.CANCELLED:
        logger.info("Sync #%s cancelled after %s: %s", operation_id, duration, row["message"])
        return
    if row["spotify_stopped"]:
        line += f" · Spotify stopped early: {row['spotify_stopped']}"
    logger.info("Sync #%s completed in %s: %s", operation_id, duration, line)


def runs_interrupted(count: int) -> None:
    """Log that `count` runs were marked interrupted (their heartbeat stopped: the process
    running them died)."""
    logger.warning(
        "%s marked interrupted: no heartbeat for %s s (the process running %s stopped)",
        "1 sync was" if count == 1 else f"{count} syncs were",
        settings.SYNC_STALE_AFTER_SECONDS,
        "it" if count == 1 else "them",
    )
