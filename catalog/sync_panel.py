"""What the Sync Now panel shows, read from the latest SyncOperation row.

`load_sync_panel()` is the status endpoint's whole database cost: one SELECT (the latest row,
with "last synced" as a subquery), the stale-recovery UPDATE only when that row is active and
its heartbeat stopped, and the failed albums only for a finished run that has some.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from catalog import counts
from catalog.counts import format_duration
from catalog.models import SyncFailure, SyncOperation
from catalog.selectors import (
    FIRST_FAILURES,
    HISTORY_LIMIT,
    latest_operation,
    recent_operations,
)
from catalog.services import importer, sync

Status = SyncOperation.Status

PANEL_FAILURE_LIMIT = 50
# Before this much progress in a stage, a time-left estimate would be noise.
ETA_MIN_SECONDS = 3
BUSY_REASON = "Sync Now is unavailable while a sync is running."
BUSY_REASON_CLI = "Sync Now is unavailable while a command-line sync is running."
# A queued sync that no worker claimed this long (a worker polls every second) is probably
# waiting for a worker that is not running: the panel says so, and when the lock goes.
NO_WORKER_HINT_SECONDS = 10
NO_WORKER_YET = (
    "Still waiting for a worker: is the task worker (manage.py db_worker) running? "
    "Without one, this sync is given up {seconds} s after it was queued."
)
CANCELLING = (
    "Cancelling: the sync stops after the albums it is working on; albums already synced stay."
)

# A run that found more albums gone than SYNC_MAX_HIDE_FRACTION allows keeps them visible.
COUNT_KEPT = "kept visible (no longer in the workbook; not confirmed)"
STAGE_LABELS = {
    importer.STAGE_FETCHING: "Fetching",
    importer.STAGE_IMPORTING: "Importing",
    importer.STAGE_ENRICHING: "Enriching",
    importer.STAGE_FINALIZING: "Finalizing",
}
# What the persistent status region says when a stage starts (counts are not announced).
ANNOUNCE_STAGES = {
    importer.STAGE_FETCHING: "Sync: fetching the workbook.",
    importer.STAGE_IMPORTING: "Sync: importing albums.",
    importer.STAGE_ENRICHING: "Sync: adding Spotify data.",
    importer.STAGE_FINALIZING: "Sync: finalizing.",
}
ANNOUNCE_RUNNING = "Sync running."
ANNOUNCE_WARNINGS = "Sync completed with warnings."
ANNOUNCE_CANCELLED = "Sync cancelled."
ESTIMABLE_STAGES = (importer.STAGE_IMPORTING, importer.STAGE_ENRICHING)

# What visitors read about a failed run, by the stage it failed in: the full message (a server
# path, an internal URL, a setting's name) and what to do about it are for staff only.
PUBLIC_FAILURES = {
    importer.STAGE_FETCHING: "Sync failed: the workbook could not be read.",
    importer.STAGE_IMPORTING: "Sync failed while importing albums.",
    importer.STAGE_ENRICHING: "Sync failed while adding Spotify data.",
    importer.STAGE_FINALIZING: "Sync failed while saving the results.",
}
PUBLIC_FAILURE = "Sync failed."
PUBLIC_FAILURE_DETAILS = "Staff members can see the details."


def visible_result(operation: SyncOperation, *, staff: bool) -> str:
    """A run's result line as this reader may see it: staff get the stored text whole, visitors
    get failures in general terms. (A completed run's line, Spotify's stop reason included, is
    written for everyone and names no path or URL.)"""
    if operation.status == Status.FAILED:
        error = operation.error or operation.message
        # An interrupted run (or one that never started) names nothing private: everyone
        # reads it as it is.
        if staff or operation.was_interrupted():
            return error
        general = PUBLIC_FAILURES.get(operation.stage, PUBLIC_FAILURE)
        return f"{general} {PUBLIC_FAILURE_DETAILS}"
    if operation.status == Status.PENDING:
        return operation.message or sync.SYNC_STARTING
    return operation.message


def format_time_left(seconds: float) -> str:
    """'About 40 s left' (rounded up to 5 s), 'About 3 min left', 'About 1 h 5 min left'."""
    if seconds < 60:
        return f"About {max(5, math.ceil(seconds / 5) * 5)} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"About {minutes} min left"
    return f"About {minutes // 60} h {minutes % 60} min left"


def estimate_seconds_left(operation: SyncOperation, *, now: datetime) -> float | None:
    """Time left in the current stage at the stage's pace so far; None until estimable."""
    if operation.status != Status.RUNNING or operation.stage not in ESTIMABLE_STAGES:
        return None
    started = operation.stage_started_at
    if started is None or operation.processed <= 0 or operation.total <= operation.processed:
        return None
    elapsed = (now - started).total_seconds()
    if elapsed < ETA_MIN_SECONDS:
        return None
    return elapsed / operation.processed * (operation.total - operation.processed)


@dataclass(frozen=True)
class HistoryEntry:
    """One run on the history page with its first failed albums."""

    operation: SyncOperation
    failures: list[SyncFailure]
    staff: bool = False

    @property
    def result(self) -> str:
        return visible_result(self.operation, staff=self.staff)

    @property
    def more_failures(self) -> int:
        return max(self.operation.failed_count - len(self.failures), 0)


def history_entries(limit: int = HISTORY_LIMIT, *, staff: bool = False) -> list[HistoryEntry]:
    """The history page's runs (selectors.recent_operations) as this reader may see them:
    `staff` readers see failures in full (visible_result)."""
    return [
        HistoryEntry(
            operation=operation, failures=getattr(operation, FIRST_FAILURES, []), staff=staff
        )
        for operation in recent_operations(limit)
    ]


def counts_reached(operation: SyncOperation) -> bool:
    """Whether the run has counts to show: a completed run, or a cancelled one that got as far
    as counting albums. A failed run (and one cancelled before it counted) shows none: its
    zeros would read as "the workbook is empty"."""
    if operation.status == Status.COMPLETED:
        return True
    if operation.status != Status.CANCELLED:
        return False
    return any(
        (
            operation.created_count,
            operation.updated_count,
            operation.unchanged_count,
            operation.removed_count,
        )
    )


def count_parts(operation: SyncOperation) -> list[str]:
    """The counts line of the panel and of the history page, in the words of
    catalog/counts.py: ['2,555 new', '0 changed', '0 unchanged'], then 'N removed (...)' when
    albums left the workbook; nothing for a run that never counted (`counts_reached`). Failed
    albums have their own list below it in both places."""
    if not counts_reached(operation):
        return []
    parts = counts.count_parts(
        created=operation.created_count,
        updated=operation.updated_count,
        unchanged=operation.unchanged_count,
        removed=operation.removed_count,
    )
    if operation.kept_count:
        parts.append(f"{counts.number(operation.kept_count)} {COUNT_KEPT}")
    return parts


@dataclass(frozen=True)
class SyncPanel:
    operation: SyncOperation | None
    last_synced_at: datetime | None
    now: datetime
    failures: list[SyncFailure] = field(default_factory=list)
    alert: str = ""  # a refused trigger or cancel, shown instead of the message
    staff: bool = False  # staff read failures in full (visible_result)

    @property
    def status(self) -> str | None:
        return self.operation.status if self.operation else None

    @property
    def operation_id(self) -> int | None:
        return self.operation.pk if self.operation else None

    @property
    def is_active(self) -> bool:
        return self.operation is not None and self.operation.is_active()

    @property
    def state(self) -> str:
        """never | pending | running | completed | warnings | failed | interrupted | cancelled"""
        op = self.operation
        if op is None:
            return "never"
        if op.has_warnings():
            return "warnings"
        if op.was_interrupted():
            return "interrupted"
        return op.status

    @property
    def message(self) -> str:
        if self.operation is None:
            return ""
        op = self.operation
        waiting = op.status == Status.PENDING and op.message == sync.SYNC_WAITING_FOR_WORKER
        if waiting and self._waited_long(op):
            return NO_WORKER_YET.format(seconds=settings.SYNC_STALE_AFTER_SECONDS)
        return visible_result(op, staff=self.staff)

    def _waited_long(self, op: SyncOperation) -> bool:
        # Half the stale limit when that is shorter: the hint must come before the lock goes.
        hint_after = min(NO_WORKER_HINT_SECONDS, settings.SYNC_STALE_AFTER_SECONDS / 2)
        return (self.now - op.started_at).total_seconds() >= hint_after

    @property
    def cancel_requested(self) -> bool:
        return self.is_active and bool(self.operation and self.operation.cancel_requested)

    @property
    def cancelling_text(self) -> str:
        return CANCELLING

    @property
    def busy_reason(self) -> str:
        if self.operation and self.operation.source == SyncOperation.Source.CLI:
            return BUSY_REASON_CLI
        return BUSY_REASON

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS.get(self.operation.stage, "") if self.operation else ""

    @property
    def percent(self) -> int:
        return self.operation.progress_percentage() if self.operation else 0

    @property
    def time_left(self) -> str:
        if self.operation is None:
            return ""
        seconds = estimate_seconds_left(self.operation, now=self.now)
        return format_time_left(seconds) if seconds is not None else ""

    @property
    def has_counts(self) -> bool:
        return self.operation is not None and counts_reached(self.operation)

    @property
    def duration(self) -> str:
        return format_duration(self.operation.duration()) if self.operation else ""

    @property
    def more_failures(self) -> int:
        if self.operation is None:
            return 0
        return max(self.operation.failed_count - len(self.failures), 0)

    @property
    def notes_count(self) -> int:
        """How many notes the workbook gave a finished run: staff read them in the history."""
        if self.operation is None or self.operation.is_active():
            return 0
        return self.operation.warnings_count

    @property
    def kept_visible(self) -> int:
        """Albums the latest finished run kept visible though they left the workbook (the
        panel then offers staff the confirmation: a run that hides them)."""
        op = self.operation
        if op is None or op.is_active() or op.status != Status.COMPLETED:
            return 0
        return op.kept_count

    @property
    def shows_previous(self) -> bool:
        """A refused trigger (503, 403) over a finished run: the alert stands alone and the
        run's result is labelled as the previous sync's, not shown as if it had just run."""
        return bool(self.alert) and self.operation is not None and not self.is_active

    @property
    def idle_check_seconds(self) -> int:
        """How often an idle panel asks whether a sync started elsewhere (0: never)."""
        return max(int(getattr(settings, "SYNC_IDLE_CHECK_SECONDS", 30)), 0)

    @property
    def announce_key(self) -> str:
        """What the announcement depends on (state and stage, never the counts): a poll sends
        the key it last heard, and the answer carries a new announcement only when it differs."""
        op = self.operation
        if op is None:
            return "never"
        return f"{op.pk}:{self.state}:{op.stage if self.is_active else ''}"

    @property
    def announcement(self) -> str:
        """The sentence screen readers hear for this state: a stage change or the outcome."""
        op = self.operation
        if op is None or self.alert:
            # A refused click is announced by the panel's own role=alert message.
            return ""
        if op.status == Status.PENDING:
            return sync.SYNC_STARTING
        if op.status == Status.RUNNING:
            return ANNOUNCE_STAGES.get(op.stage, ANNOUNCE_RUNNING)
        if self.state == "warnings":
            return f"{ANNOUNCE_WARNINGS} {self.message}".strip()
        if op.status == Status.CANCELLED:
            return f"{ANNOUNCE_CANCELLED} {self.message}".strip()
        return self.message

    @property
    def announces_error(self) -> bool:
        """A failed or interrupted run is announced through the alert, not the status."""
        return self.status == Status.FAILED

    def as_json(self) -> dict[str, Any]:
        """The status JSON of docs/architecture.md, "Contracts" (ISO 8601 times)."""
        op = self.operation

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": op.pk if op else None,
            "status": op.status if op else None,
            "stage": op.stage if op else "",
            "message": self.message,
            "processed": op.processed if op else 0,
            "total": op.total if op else 0,
            "percent": self.percent,
            "created": op.created_count if op else 0,
            "updated": op.updated_count if op else 0,
            "unchanged": op.unchanged_count if op else 0,
            "failed": op.failed_count if op else 0,
            "started_at": iso(op.started_at) if op else None,
            "finished_at": iso(op.finished_at) if op else None,
            "last_synced_at": iso(self.last_synced_at),
            "error": self.message if op and op.status == Status.FAILED else "",
            "cancel_requested": self.cancel_requested,
        }


def load_sync_panel(*, alert: str = "", staff: bool = False) -> SyncPanel:
    """The panel for the latest sync, marking it interrupted first if its heartbeat stopped.
    `staff` readers see a failure's full message (visible_result)."""
    operation = latest_operation()
    last_synced_at = getattr(operation, "last_synced_at", None)
    if operation is not None and sync.is_stale(operation) and sync.recover_stale():
        # Same values as the UPDATE wrote: no second SELECT.
        operation.failure_kind, operation.error = sync.stale_outcome(operation)
        operation.message = operation.error
        operation.status = Status.FAILED
        operation.finished_at = operation.heartbeat_at
    failures: list[SyncFailure] = []
    if operation is not None and not operation.is_active() and operation.failed_count:
        failures = list(SyncFailure.objects.filter(operation=operation)[:PANEL_FAILURE_LIMIT])
    return SyncPanel(
        operation=operation,
        last_synced_at=last_synced_at,
        now=timezone.now(),
        failures=failures,
        alert=alert,
        staff=staff,
    )


def sync_finished(panel: SyncPanel, *, watching: int | None) -> bool:
    """True when the sync a poller was watching is no longer the active one: it has ended."""
    if watching is None:
        return False
    return not (panel.operation_id == watching and panel.is_active)
