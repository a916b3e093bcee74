"""SyncManager: one active sync at a time, run off the request, observable through its row.

docs/architecture.md ("Decisions and why") says why: creating the pending `SyncOperation` row *is*
taking the lock (the partial unique constraint `one_active_sync`); the run happens off the
request as a Django Tasks task (catalog/tasks.py; a daemon thread by default); a writer thread
stamps progress and a heartbeat on the row with narrow UPDATEs; a row whose heartbeat stopped
is marked interrupted by the next status read or trigger; cancel is a flag on the row that the
importer sees between albums. A run that finds its row no
longer active (it was marked interrupted while it ran) has lost the lock: it stops, and records
nothing. Each of those moves is one method of `SyncOperationQuerySet` (catalog/models.py), which
decides which rows may move; this module decides when, and the words written on the row.

The manager hands only the row's id to its `enqueue` callable (the web's is
`catalog.tasks.enqueue_sync`, which enqueues the task `run_sync` on the backend SYNC_RUNNER names);
the task calls `run_operation(id)`, which reads the options stored on the row. This module never
imports the task module: the task module imports this one. A row no worker ever claimed stays
pending without a heartbeat, so stale recovery frees its lock like any other ("Sync never
started").
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from catalog import counts, sync_log
from catalog.models import Album, SyncFailure, SyncOperation
from catalog.services import importer
from catalog.services.download import NETWORK_ERROR, WorkbookError
from catalog.services.importer import (
    DATABASE_OUTAGE_ERRORS,
    STAGE_FINALIZING,
    DatabaseUnavailable,
    ImportCancelled,
    ImportResult,
    Progress,
    ProgressFn,
    Written,
)
from catalog.services.spotify import SpotifyError
from catalog.sources import display_url, source_label

logger = logging.getLogger(__name__)
# The clock of progress throttling, heartbeats and cancel polls (a module name tests can replace).
monotonic = time.monotonic

SYNC_ALREADY_RUNNING = "Sync already in progress"
SPOTIFY_NOT_CONFIGURED = "Spotify credentials not configured. Please check environment variables."
# What to do about it; follows SPOTIFY_NOT_CONFIGURED wherever a person reads it.
SPOTIFY_SETUP_HINT = (
    "Set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET, "
    "or SPOTIFY_ENABLED=0 to import the sheet without Spotify."
)
SYNC_INTERRUPTED = "Sync interrupted: the server stopped during the sync"
# A pending row handed to a task queue says so until a worker claims it (catalog/tasks.py).
SYNC_WAITING_FOR_WORKER = "Waiting for a worker to start the sync..."
SYNC_NO_WORKER = (
    "Sync never started: no worker picked it up. Is the task worker (manage.py db_worker) running?"
)
SYNC_STARTING = "Starting sync..."
# {changes} is counts.changes(): "12 new albums, 3 changed" or "nothing changed (...)".
SYNC_COMPLETE = "Sync complete: {changes}."
SYNC_COMPLETE_WITH_WARNINGS = (
    "Sync completed with warnings: {failed} of {attempted} failed; {changes}."
)
SYNC_REMOVALS_KEPT = "Sync completed with warnings: {warning}."
SPOTIFY_STOPPED = "Spotify enrichment stopped early: {reason}"
SYNC_CANCELLED = "Sync cancelled after {processed} of {total}"  # "after 500 of 2,556 albums"
SYNC_UNEXPECTED_ERROR = (
    "Sync failed because of an unexpected error ({kind}). The details are in the server log."
)
SYNC_RUNNER_FAILED = "Sync could not be started: the background runner refused the job"
# The catalog's database went away under the run (stopped, restarted, a killed connection, a
# full disk). {changes} is counts.changes() of what was committed before: it stays.
SYNC_DATABASE_UNAVAILABLE = (
    "Sync failed: the database became unavailable during the sync. Written before that: "
    "{changes}; the next sync goes on from there."
)
# The same before the run wrote anything (or for a dry run, which writes nothing).
SYNC_DATABASE_UNREACHABLE = (
    "Sync failed: the database is unavailable. Nothing was written; "
    "run the sync again once it is back."
)
NO_ACTIVE_SYNC = "No sync is running"

# At most ~4 progress writes a second; a stage change is written at once.
PROGRESS_WRITE_SECONDS = 0.25
# How often the writer thread reads the cancel flag (the importer asks between albums).
CANCEL_POLL_SECONDS = 0.5
# A run whose database went away writes its end as soon as the database answers again: it
# tries every DATABASE_RETRY_SECONDS for up to DATABASE_RETRY_LIMIT_SECONDS, then leaves the
# row to stale recovery (docs/architecture.md, "When the database goes away").
DATABASE_RETRY_SECONDS = 1.0
DATABASE_RETRY_LIMIT_SECONDS = 300.0
# Workbook notes kept on the row for the history (the count is kept in full). The whole
# workbook gives about 250; the bound only keeps a broken workbook from filling the row.
WARNINGS_KEPT = 5000

Status = SyncOperation.Status
FailureKind = SyncOperation.FailureKind

# Failures that mean "the network is down" rather than "the program is wrong".
NETWORK_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)

Enqueue = Callable[[int], object]


class SyncAlreadyRunning(Exception):
    """Another sync (web or command line) holds the lock."""


class SpotifyNotConfigured(Exception):
    """Enrichment is on but SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET are missing."""


class SyncRunnerRefused(Exception):
    """The runner could not take the job; the row is already marked failed (SYNC_RUNNER_FAILED)."""


@dataclass(frozen=True)
class SyncOptions:
    source: str | None = None  # workbook URL or file path; None: settings.GOOGLE_SHEETS_XLSX_URL
    skip_spotify: bool = False
    refresh_spotify: bool = False
    allow_removals: bool = False  # hide albums past SYNC_MAX_HIDE_FRACTION (a confirmation)

    def for_storage(self) -> dict[str, Any]:
        """The options as saved on the row, for the history and for a runner: a URL source
        loses its credentials and query string (a file path is kept; only staff see it)."""
        stored = asdict(self)
        if self.source and "://" in self.source:
            stored["source"] = display_url(self.source)
        return stored

    @classmethod
    def from_stored(cls, stored: Any) -> SyncOptions:
        """The options saved on a row (`SyncOperation.options`); unknown keys are ignored."""
        known = {option.name for option in dataclass_fields(cls)}
        values = stored if isinstance(stored, dict) else {}
        return cls(**{name: value for name, value in values.items() if name in known})


def run_operation(operation_id: int) -> None:
    """Run the sync of the pending row `operation_id` with the options stored on that row.

    What the task `catalog.tasks.run_sync` runs, on whichever Tasks backend; it takes only
    the id, so a task queue can serialise it.
    """
    SyncManager().execute(operation_id)


def spotify_credentials_missing(options: SyncOptions) -> bool:
    """True when this run would enrich from Spotify but has no credentials to do it."""
    if options.skip_spotify or not settings.SPOTIFY_ENABLED:
        return False
    return not (settings.SPOTIFY_CLIENT_ID and settings.SPOTIFY_CLIENT_SECRET)


def stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)


def recover_stale() -> int:
    """Mark active rows whose heartbeat stopped as interrupted (one UPDATE); return how many.

    `finished_at` becomes the last heartbeat: the moment the run was last known to be alive. A
    row still waiting for a worker never started: it gets SYNC_NO_WORKER instead of
    SYNC_INTERRUPTED (`SyncOperation.failure_kind` stores which).
    """
    recovered = SyncOperation.objects.mark_stale(
        stale_before(),
        interrupted=SYNC_INTERRUPTED,
        never_started=SYNC_NO_WORKER,
        waiting=SYNC_WAITING_FOR_WORKER,
    )
    if recovered:
        sync_log.runs_interrupted(recovered)
    return recovered


def stale_outcome(operation: SyncOperation) -> tuple[str, str]:
    """What recover_stale() writes on this (active) row: its failure kind and its text."""
    waiting = operation.status == Status.PENDING and operation.message == SYNC_WAITING_FOR_WORKER
    if waiting:
        return FailureKind.NEVER_STARTED, SYNC_NO_WORKER
    return FailureKind.INTERRUPTED, SYNC_INTERRUPTED


def is_stale(operation: SyncOperation) -> bool:
    return operation.is_active() and operation.heartbeat_at < stale_before()


def join_sentences(first: str, second: str) -> str:
    """'2 new albums' + 'Spotify ...' -> '2 new albums. Spotify ...' (no run-on)."""
    if not first:
        return second
    return f"{first} {second}" if first.endswith((".", "!", "?")) else f"{first}. {second}"


def completion_message(result: ImportResult) -> str:
    """The result line, in the words of catalog/counts.py: "Sync complete: 12 new albums,
    3 changed." (or "nothing changed"), or the warnings line when albums failed; followed by
    why Spotify enrichment stopped early, if it did."""
    changed = counts.changes(
        created=result.created,
        updated=result.updated,
        removed=result.removed,
        unchanged=result.unchanged,
    )
    if result.failed:
        # Albums this run worked on (written or looked up), not the whole workbook: a repeat
        # run whose 5 lookups all failed is "5 of 5", not "5 of 2,555".
        attempted = max(result.attempted, result.failed)
        message = SYNC_COMPLETE_WITH_WARNINGS.format(
            failed=counts.number(result.failed), attempted=counts.albums(attempted), changes=changed
        )
    else:
        message = SYNC_COMPLETE.format(changes=changed)
    if result.removals_kept:
        # The guard's warning comes first in the result's warnings (see import_rows).
        kept = SYNC_REMOVALS_KEPT.format(warning=result.warnings[0])
        message = kept if not result.failed else join_sentences(message, result.warnings[0])
    if result.spotify_stopped:
        message = join_sentences(message, SPOTIFY_STOPPED.format(reason=result.spotify_stopped))
    return message


def process_stopping() -> bool:
    """Whether this interpreter is shutting down: its server was told to stop or reload
    (SIGTERM, SIGHUP, SIGINT), and the run's thread outlives the request that started it.

    Then thread pools refuse new work ("cannot schedule new futures after interpreter
    shutdown") and connections close: whatever the run raises is the stop, not a bug.
    `threading._SHUTTING_DOWN` is set by CPython's threading module when that shutdown begins
    (before the thread pools learn of it); `sys.is_finalizing()` covers the later phase.
    """
    return bool(getattr(threading, "_SHUTTING_DOWN", False)) or sys.is_finalizing()


def is_database_outage(exc: BaseException) -> bool:
    """The catalog's database went away (OperationalError, InterfaceError), not one album's
    data being refused (IntegrityError, DataError: the importer fails that album alone)."""
    return isinstance(exc, (DatabaseUnavailable, *DATABASE_OUTAGE_ERRORS))


def is_expected_failure(exc: BaseException) -> bool:
    """A failure of the outside world (sheet, Spotify, network, the database going away), not
    a bug in this program."""
    if is_database_outage(exc):
        return True
    return isinstance(exc, (WorkbookError, SpotifyError, *NETWORK_EXCEPTIONS))


def failure_kind(exc: BaseException) -> str:
    """Which outside world (or this program) an exception that ended a run comes from."""
    if isinstance(exc, WorkbookError):
        return FailureKind.WORKBOOK
    if isinstance(exc, SpotifyError):
        return FailureKind.SPOTIFY
    if isinstance(exc, NETWORK_EXCEPTIONS):
        return FailureKind.NETWORK
    if is_database_outage(exc):
        return FailureKind.DATABASE
    return FailureKind.UNEXPECTED


def failure_message(exc: BaseException) -> str:
    """What the panel says about an exception that ended a run (never the exception's text
    for unexpected errors: it could carry URLs or credentials)."""
    if isinstance(exc, WorkbookError | SpotifyError):
        return str(exc)  # written for the user by the service
    if isinstance(exc, NETWORK_EXCEPTIONS):
        return NETWORK_ERROR
    if is_database_outage(exc):
        # Never the driver's text: it names the server, and could name more.
        if isinstance(exc, DatabaseUnavailable):
            return database_unavailable_message(exc.result)
        return SYNC_DATABASE_UNREACHABLE
    return SYNC_UNEXPECTED_ERROR.format(kind=type(exc).__name__)


def database_unavailable_message(result: ImportResult) -> str:
    written = counts.changes(
        created=result.created,
        updated=result.updated,
        removed=result.removed,
        unchanged=result.unchanged,
    )
    return SYNC_DATABASE_UNAVAILABLE.format(changes=written)


def close_broken_connection() -> None:
    """Drop this thread's connection after the database went away, so that the next query
    opens a new one (a broken connection is never reused: every query on it would fail even
    once the server is back). Closing a dead connection may itself fail: that is fine."""
    with contextlib.suppress(DatabaseError):
        connections["default"].close()


def _fit(value: str, limit: int = 500) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def count_fields(written: Written) -> dict[str, int]:
    """The row's count columns for what a run has committed."""
    return {
        "created_count": written.created,
        "updated_count": written.updated,
        "unchanged_count": written.unchanged,
        "removed_count": written.removed,
        "failed_count": written.failed,
    }


class ProgressWriter:
    """Carries one run's progress to its row: throttled, heartbeat, cancel flag, lost lock.

    `report()` and `should_cancel()` never touch the database, so the importer may call them
    from any thread; `tick()` does the writing and is called by the writer thread (or inline by
    `report()` when there is no writer thread). Every write is a narrow UPDATE of the row while
    it is active (`SyncOperation.objects.update_active`): the row is never saved whole, so a
    `cancel_requested` set by another request is never overwritten. A write that matches no row,
    or a cancel poll that finds the row no longer active, means the run lost its lock (it was
    marked interrupted): `should_cancel()` then answers True so that the run stops.
    """

    def __init__(self, operation_id: int, *, clock: Callable[[], float] | None = None) -> None:
        self.operation_id = operation_id
        # The module's clock, looked up now: tests replace `sync.monotonic` to move time by hand.
        self._clock = clock or monotonic
        self._lock = threading.Lock()
        self._pending: Progress | None = None
        self._pending_stage_started: datetime | None = None
        self._stage = ""
        self._stage_changed = False
        self._last_write = self._clock()
        self._last_cancel_poll: float | None = None
        self._cancel = threading.Event()
        self.wake = threading.Event()
        self.last: Progress | None = None
        self.lost_lock = False
        self.writes = 0  # progress and heartbeat UPDATEs made; tests pin the throttle with it

    def report(self, progress: Progress) -> None:
        with self._lock:
            self.last = progress
            self._pending = progress
            if progress.stage != self._stage:
                self._stage = progress.stage
                self._stage_changed = True
                self._pending_stage_started = timezone.now()
        if self._stage_changed:
            self.wake.set()

    def should_cancel(self) -> bool:
        """Whether the run should stop. The writer thread reads the flag every
        CANCEL_POLL_SECONDS; a CPU-bound caller (a long parse) can starve that thread of the GIL
        for seconds, so when its last read is overdue the caller's own thread reads it."""
        last = self._last_cancel_poll
        if last is not None and self._clock() - last >= CANCEL_POLL_SECONDS:
            self.tick()
        return self._cancel.is_set()

    def tick(self) -> None:
        """Write pending progress when due (a stage change at once), else a heartbeat when due;
        read the cancel flag (and whether the row is still active) every CANCEL_POLL_SECONDS."""
        now = self._clock()
        with self._lock:
            pending, self._pending = self._pending, None
            stage_changed, self._stage_changed = self._stage_changed, False
            stage_started = self._pending_stage_started
            due = stage_changed or now - self._last_write >= PROGRESS_WRITE_SECONDS
            if pending is not None and not due:
                self._pending = pending  # keep it for a later tick
                self._stage_changed = stage_changed
                pending = None
        if pending is not None:
            fields: dict[str, Any] = {
                "stage": pending.stage,
                "message": _fit(pending.message),
                "processed": pending.processed,
                "total": pending.total,
                "heartbeat_at": timezone.now(),
            }
            if stage_changed:
                fields["stage_started_at"] = stage_started
            if (written := pending.written) is not None:
                # Only what is committed: a run that dies keeps true counts on its row.
                fields.update(count_fields(written))
            self._update(**fields)
            self._last_write = now
        elif now - self._last_write >= settings.SYNC_HEARTBEAT_SECONDS:
            self._update(heartbeat_at=timezone.now())
            self._last_write = now
        if self._last_cancel_poll is None or now - self._last_cancel_poll >= CANCEL_POLL_SECONDS:
            self._last_cancel_poll = now
            state = SyncOperation.objects.run_state(self.operation_id)
            if state is None or not state[0]:
                self._lose_lock()
            elif state[1]:
                self._cancel.set()

    def _update(self, **fields: Any) -> None:
        updated = SyncOperation.objects.update_active(self.operation_id, **fields)
        self.writes += 1
        if not updated:
            self._lose_lock()

    def _lose_lock(self) -> None:
        if not self.lost_lock:
            logger.warning(
                "Sync #%s lost its lock (its row is no longer active): stopping the run",
                self.operation_id,
            )
        self.lost_lock = True
        self._cancel.set()


class _WriterThread(threading.Thread):
    """Ticks the writer a few times a second until stopped; closes its DB connection after."""

    def __init__(self, writer: ProgressWriter) -> None:
        super().__init__(name=f"sync-writer-{writer.operation_id}", daemon=True)
        self.writer = writer
        self.operation_id = writer.operation_id
        self._stop_event = threading.Event()

    def run(self) -> None:
        failing = False
        try:
            while not self._stop_event.is_set():
                self.writer.wake.wait(PROGRESS_WRITE_SECONDS)
                self.writer.wake.clear()
                if self._stop_event.is_set():
                    break
                try:
                    self.writer.tick()
                except DatabaseError as exc:
                    # A busy database delays one heartbeat; one that went away is asked again
                    # on a new connection at the next tick, so the heartbeat resumes as soon
                    # as it is back. One line per outage, not one per tick.
                    if not failing:
                        logger.warning(
                            "Sync #%s: progress write failed: %s",
                            self.operation_id,
                            type(exc).__name__,
                        )
                    failing = True
                    close_broken_connection()
                    continue
                except Exception:
                    # Never let the heartbeat die quietly: the run would soon read as stale.
                    logger.exception("Sync #%s: progress writer error", self.operation_id)
                if failing:
                    logger.warning("Sync #%s: progress writes resumed", self.operation_id)
                    failing = False
        finally:
            connections.close_all()

    def stop(self) -> None:
        self._stop_event.set()
        self.writer.wake.set()
        self.join()


class _InlineReporter:
    """Without a writer thread: write from the importer's own calls (single-connection tests)."""

    def __init__(self, writer: ProgressWriter) -> None:
        self.writer = writer

    def report(self, progress: Progress) -> None:
        self.writer.report(progress)
        self.writer.tick()

    def should_cancel(self) -> bool:
        self.writer.tick()
        return self.writer.should_cancel()


def _import_catalog(**kwargs: Any) -> ImportResult:
    # Looked up at call time so that tests patching the importer module are honoured.
    return importer.import_catalog(**kwargs)


@dataclass(frozen=True)
class _Outcome:
    status: str
    message: str
    result: ImportResult | None = None
    processed: int | None = None
    total: int | None = None
    failure_kind: str = ""  # SyncOperation.FailureKind of a failed run


class SyncManager:
    """Start, run, cancel and recover syncs. Views, the sync task and the import_albums command
    share it.

    `enqueue` gets the id of a committed pending web row and must arrange for
    `run_operation(id)` to run (the web passes `catalog.tasks.enqueue_sync`; only `start()`
    needs it). Progress and heartbeats are written by a writer thread, except when the run
    happens inside a transaction (tests): other connections could not see the row, so the
    importer's own calls write it. `last_result`
    holds the latest run's ImportResult (the command prints its details).
    """

    def __init__(self, enqueue: Enqueue | None = None) -> None:
        self.enqueue = enqueue
        self.last_result: ImportResult | None = None

    # --- taking the lock -------------------------------------------------------------------

    def start(self, *, options: SyncOptions, user: Any = None) -> SyncOperation:
        """Take the lock (a pending web row) and hand its id to `enqueue` once committed.

        Raises SpotifyNotConfigured or SyncAlreadyRunning without creating a row.
        """
        if self.enqueue is None:
            raise TypeError("SyncManager.start() needs an enqueue callable (catalog.tasks)")
        operation = self._acquire(options=options, source=SyncOperation.Source.WEB, user=user)
        operation_id = operation.pk
        transaction.on_commit(lambda: self._submit(operation_id))
        return operation

    def run_foreground(
        self, *, options: SyncOptions, on_progress: ProgressFn | None = None
    ) -> SyncOperation:
        """Take the lock (a pending command-line row) and run the sync in this thread.

        Ctrl-C ends the row as cancelled and is re-raised.
        """
        operation = self._acquire(options=options, source=SyncOperation.Source.CLI, user=None)
        # This process still holds the options as given: the row's copy has the URL redacted.
        self.execute(operation.pk, on_progress=on_progress, options=options)
        operation.refresh_from_db()
        return operation

    def cancel(self) -> SyncOperation | None:
        """Ask the active sync to stop at its next check; None when nothing runs."""
        recover_stale()
        operation = SyncOperation.objects.active().first()
        if operation is None:
            return None
        SyncOperation.objects.request_cancel(operation.pk)
        operation.cancel_requested = True
        return operation

    def recover_stale(self) -> int:
        return recover_stale()

    def _acquire(self, *, options: SyncOptions, source: str, user: Any) -> SyncOperation:
        if spotify_credentials_missing(options):
            raise SpotifyNotConfigured(SPOTIFY_NOT_CONFIGURED)
        recover_stale()
        now = timezone.now()
        try:
            # take_lock() runs in atomic(): on SQLite and PostgreSQL alike, the failed INSERT
            # must not leave the caller's connection inside a broken transaction.
            return SyncOperation.objects.take_lock(
                source=source,
                triggered_by=user if getattr(user, "is_authenticated", False) else None,
                # "workbook": how the history names the source (a file name, or the URL
                # without credentials or query), fixed when the run starts.
                options={**options.for_storage(), "workbook": source_label(options.source)},
                message=SYNC_STARTING,
                started_at=now,
                heartbeat_at=now,
            )
        except IntegrityError as exc:
            raise SyncAlreadyRunning(SYNC_ALREADY_RUNNING) from exc

    def _submit(self, operation_id: int) -> None:
        try:
            assert self.enqueue is not None  # checked by start()
            self.enqueue(operation_id)
        except Exception:
            # Only a row the job never claimed: an enqueue that runs the job inline (tests)
            # also raises from the job.
            refused = SyncOperation.objects.refuse(
                operation_id, reason=SYNC_RUNNER_FAILED, now=timezone.now()
            )
            if not refused:
                raise
            logger.exception("Sync #%s: the runner refused the job", operation_id)
            raise SyncRunnerRefused(SYNC_RUNNER_FAILED) from None

    # --- the run ---------------------------------------------------------------------------

    def execute(
        self,
        operation_id: int,
        *,
        on_progress: ProgressFn | None = None,
        options: SyncOptions | None = None,
    ) -> None:
        """Run the pending row's sync with the options stored on it (or `options`, the caller's
        unredacted copy), and record how it ended.

        Does nothing when the row is no longer pending (recovered as stale, or run already).
        """
        now = timezone.now()
        claimed = SyncOperation.objects.claim(operation_id, now=now)
        if not claimed:
            logger.warning("Sync #%s is no longer pending; not running it", operation_id)
            return
        if options is None:
            stored = SyncOperation.objects.values_list("options", flat=True).get(pk=operation_id)
            options = SyncOptions.from_stored(stored)
        sync_log.run_started(operation_id)

        writer = ProgressWriter(operation_id)
        in_transaction = transaction.get_connection().in_atomic_block
        thread = None if in_transaction else _WriterThread(writer)
        reporter = writer if thread else _InlineReporter(writer)

        def report(progress: Progress) -> None:
            reporter.report(progress)
            if on_progress is not None:
                on_progress(progress)

        if thread:
            thread.start()
        try:
            try:
                result = _import_catalog(
                    source=options.source,
                    skip_spotify=options.skip_spotify or not settings.SPOTIFY_ENABLED,
                    refresh_spotify=options.refresh_spotify,
                    allow_removals=options.allow_removals,
                    on_progress=report,
                    should_cancel=reporter.should_cancel,
                )
            finally:
                if thread:
                    thread.stop()
        except ImportCancelled as exc:
            self.last_result = exc.result
            outcome = _cancelled(exc.result, exc.processed, exc.total)
        except DatabaseUnavailable as exc:
            # What was committed stays, and the row says exactly that (docs/architecture.md,
            # "When the database goes away"); no cancel check: the database is not there.
            self.last_result = exc.result
            logger.warning(
                "Sync #%s: the database became unavailable (%s)",
                operation_id,
                type(exc.__cause__).__name__,
            )
            outcome = _Outcome(
                Status.FAILED,
                failure_message(exc),
                exc.result,
                *_last_counts(writer),
                failure_kind=FailureKind.DATABASE,
            )
        except KeyboardInterrupt:
            self._finish(operation_id, _cancelled(None, *_last_counts(writer)))
            raise
        except Exception as exc:
            # The outside world failing is an outcome for the user (row, panel, command line);
            # so is the server stopping under the run; anything else is a bug, logged with its
            # traceback.
            if process_stopping():
                logger.warning("Sync #%s interrupted: the server is stopping", operation_id)
                outcome = _interrupted(*_last_counts(writer))
            elif is_database_outage(exc):
                logger.warning("Sync #%s: the database became unavailable", operation_id)
                outcome = _Outcome(
                    Status.FAILED,
                    failure_message(exc),
                    None,
                    *_last_counts(writer),
                    failure_kind=FailureKind.DATABASE,
                )
            else:
                if not is_expected_failure(exc):
                    logger.exception("Sync #%s failed unexpectedly", operation_id)
                if self._cancel_requested(operation_id, writer):
                    outcome = _cancelled(None, *_last_counts(writer))
                else:
                    outcome = _Outcome(
                        Status.FAILED, failure_message(exc), failure_kind=failure_kind(exc)
                    )
        else:
            self.last_result = result
            finalized = writer.last is not None and writer.last.stage == STAGE_FINALIZING
            if not finalized and self._cancel_requested(operation_id, writer):
                # Cancel wins: the import finished a step that does not check the flag (a
                # Spotify request that hung, a stop for another reason) after the click. Once
                # it reached "Finalizing" everything is written: a late click changes nothing.
                outcome = _cancelled(result, *_last_counts(writer))
            elif not finalized and process_stopping():
                # Stopped early by the server's stop (a lookup refused, say): not complete.
                outcome = _interrupted(*_last_counts(writer), result)
            else:
                processed, total = _last_counts(writer)
                outcome = _Outcome(
                    Status.COMPLETED, completion_message(result), result, processed, total
                )
        self._finish(operation_id, outcome)

    @staticmethod
    def _cancel_requested(operation_id: int, writer: ProgressWriter) -> bool:
        """Whether cancel was asked for: as the writer last saw it, or on the row right now."""
        if writer.should_cancel() and not writer.lost_lock:
            return True
        return SyncOperation.objects.cancel_was_requested(operation_id)

    def _finish(self, operation_id: int, outcome: _Outcome) -> None:
        """Write the terminal state (and the failed albums) in one transaction.

        Only over an active row: a run recovered as stale meanwhile has lost its lock (another
        run may hold it now), so "interrupted" stays and this outcome is only logged.

        When the database does not answer (it went away under the run), try again on a new
        connection every DATABASE_RETRY_SECONDS, so that the lock is released moments after it
        is back rather than SYNC_STALE_AFTER_SECONDS later; past
        DATABASE_RETRY_LIMIT_SECONDS stale recovery frees it. Inside a transaction (tests) a
        new connection would lose it: no retry there.
        """
        deadline = monotonic() + DATABASE_RETRY_LIMIT_SECONDS
        while True:
            try:
                written = self._write_outcome(operation_id, outcome)
                break
            except DATABASE_OUTAGE_ERRORS as exc:
                if transaction.get_connection().in_atomic_block or monotonic() >= deadline:
                    raise
                # The type only: the driver's text names the server.
                logger.debug(
                    "Sync #%s: outcome not written yet (%s)", operation_id, type(exc).__name__
                )
                close_broken_connection()
                time.sleep(DATABASE_RETRY_SECONDS)
        if written:
            try:
                sync_log.run_ended(operation_id)
            except DATABASE_OUTAGE_ERRORS:
                # The outcome is on the row; only its log line is lost.
                logger.warning("Sync #%s ended; the database went away again", operation_id)

    def _write_outcome(self, operation_id: int, outcome: _Outcome) -> bool:
        """Whether the row took the outcome (it was still active)."""
        now = timezone.now()
        fields: dict[str, Any] = {
            "message": _fit(outcome.message),
            "error": outcome.message if outcome.status == Status.FAILED else "",
            "finished_at": now,
            "heartbeat_at": now,
        }
        if outcome.processed is not None and outcome.total is not None:
            fields.update(processed=outcome.processed, total=outcome.total)
        result = outcome.result
        if result is not None:
            fields.update(
                **count_fields(result.written()),
                kept_count=result.removals_kept,
                warnings_count=len(result.warnings),
                warnings=[_fit(warning) for warning in result.warnings[:WARNINGS_KEPT]],
                spotify_stopped=_fit(result.spotify_stopped),
            )
        with transaction.atomic():
            updated = SyncOperation.objects.finish(
                operation_id, status=outcome.status, failure_kind=outcome.failure_kind, **fields
            )
            if not updated:
                logger.warning(
                    "Sync #%s lost its lock (marked interrupted while it ran); "
                    "its outcome is not recorded: %s",
                    operation_id,
                    outcome.message,
                )
                return False
            if result is not None and result.failures:
                self._record_failures(operation_id, result)
        return True

    @staticmethod
    def _record_failures(operation_id: int, result: ImportResult) -> None:
        album_ids = {f.album_id for f in result.failures if f.album_id is not None}
        # An album may have been deleted since (by hand, in the admin): keep the failure.
        existing = set(Album.objects.filter(pk__in=album_ids).values_list("pk", flat=True))
        SyncFailure.objects.bulk_create(
            SyncFailure(
                operation_id=operation_id,
                album_id=failure.album_id if failure.album_id in existing else None,
                label=_fit(failure.label, 600),
                reason=_fit(failure.reason),
            )
            for failure in result.failures
        )


def _last_counts(writer: ProgressWriter) -> tuple[int, int]:
    last = writer.last
    return (last.processed, last.total) if last else (0, 0)


def _cancelled(result: ImportResult | None, processed: int, total: int) -> _Outcome:
    message = SYNC_CANCELLED.format(processed=counts.number(processed), total=counts.albums(total))
    return _Outcome(Status.CANCELLED, message, result, processed, total)


def _interrupted(processed: int, total: int, result: ImportResult | None = None) -> _Outcome:
    return _Outcome(
        Status.FAILED, SYNC_INTERRUPTED, result, processed, total, FailureKind.INTERRUPTED
    )
