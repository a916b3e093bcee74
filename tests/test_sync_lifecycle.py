"""The sync lifecycle on its model: SyncOperationQuerySet's reads and transitions, and the
failure kind each way of ending writes (the panel reads the kind, never the error text)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from catalog import sync_panel
from catalog.models import SyncOperation
from catalog.services import importer, sync
from catalog.services.download import NETWORK_ERROR, NOT_A_WORKBOOK, WorkbookError
from catalog.services.importer import ImportCancelled, ImportResult
from catalog.services.spotify import CREDENTIALS_INVALID, SpotifyError
from catalog.services.sync import SyncManager, SyncOptions
from tests.support.sync_factories import make_operation

Status = SyncOperation.Status
Kind = SyncOperation.FailureKind


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


# --- reads ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_active_and_stale_select_the_rows_that_hold_the_lock(settings):
    """active(): pending or running; stale(before): active with a heartbeat older than before."""
    finished = [make_operation(status=status) for status in (Status.COMPLETED, Status.FAILED)]
    running = make_operation(status=Status.RUNNING, heartbeat_at=ago(60))

    assert list(SyncOperation.objects.active()) == [running]
    assert list(SyncOperation.objects.stale(ago(30))) == [running]
    assert list(SyncOperation.objects.stale(ago(90))) == []
    assert set(SyncOperation.objects.exclude(pk=running.pk)) == set(finished)


@pytest.mark.django_db
def test_latest_first_and_last_completed():
    """latest_first(): newest start first; last_completed(): completed runs only, the latest
    finished first (a failed run since does not count)."""
    older = make_operation(started_at=ago(600), finished_at=ago(500))
    newer = make_operation(started_at=ago(300), finished_at=ago(200))
    failed = make_operation(status=Status.FAILED, started_at=ago(100), finished_at=ago(90))

    assert list(SyncOperation.objects.latest_first()) == [failed, newer, older]
    assert list(SyncOperation.objects.last_completed()) == [newer, older]


# --- transitions ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_take_lock_creates_a_pending_row_once():
    """The first take_lock() holds the lock; a second raises and leaves the first alone."""
    first = SyncOperation.objects.take_lock(message="Starting sync...")

    with pytest.raises(IntegrityError):
        SyncOperation.objects.take_lock(message="Starting sync...")

    assert first.status == Status.PENDING
    assert list(SyncOperation.objects.values_list("pk", flat=True)) == [first.pk]


@pytest.mark.django_db
def test_claim_moves_a_pending_row_once():
    operation = make_operation(status=Status.PENDING)
    now = timezone.now()

    assert SyncOperation.objects.claim(operation.pk, now=now) == 1
    assert SyncOperation.objects.claim(operation.pk, now=now) == 0
    operation.refresh_from_db()
    assert (operation.status, operation.heartbeat_at, operation.stage_started_at) == (
        Status.RUNNING,
        now,
        now,
    )


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.CANCELLED])
@pytest.mark.django_db
def test_active_only_transitions_leave_a_finished_row_alone(status):
    """Progress, cancel and finish match nothing once the row has left the lock."""
    operation = make_operation(status=status, message="as it ended")
    objects = SyncOperation.objects

    assert objects.update_active(operation.pk, message="progress") == 0
    assert objects.request_cancel(operation.pk) == 0
    assert objects.finish(operation.pk, status=Status.COMPLETED, message="late") == 0
    assert objects.refuse(operation.pk, reason="refused", now=timezone.now()) == 0
    assert objects.claim(operation.pk, now=timezone.now()) == 0
    operation.refresh_from_db()
    assert (operation.status, operation.message, operation.cancel_requested) == (
        status,
        "as it ended",
        False,
    )


@pytest.mark.django_db
def test_request_cancel_and_finish_move_an_active_row():
    operation = make_operation(status=Status.RUNNING)

    assert SyncOperation.objects.request_cancel(operation.pk) == 1
    assert SyncOperation.objects.run_state(operation.pk) == (True, True)
    assert SyncOperation.objects.cancel_was_requested(operation.pk)
    assert (
        SyncOperation.objects.finish(
            operation.pk, status=Status.FAILED, failure_kind=Kind.WORKBOOK, error="bad sheet"
        )
        == 1
    )
    assert SyncOperation.objects.run_state(operation.pk) == (False, True)
    assert SyncOperation.objects.run_state(operation.pk + 1000) is None
    operation.refresh_from_db()
    assert (operation.status, operation.failure_kind, operation.error) == (
        Status.FAILED,
        Kind.WORKBOOK,
        "bad sheet",
    )


@pytest.mark.django_db
def test_finish_needs_a_terminal_status():
    operation = make_operation(status=Status.RUNNING)

    with pytest.raises(ValueError, match="terminal status"):
        SyncOperation.objects.finish(operation.pk, status=Status.PENDING)

    operation.refresh_from_db()
    assert operation.status == Status.RUNNING


@pytest.mark.django_db
def test_refuse_fails_a_pending_row_as_runner_refused():
    operation = make_operation(status=Status.PENDING)

    assert SyncOperation.objects.refuse(operation.pk, reason="no runner", now=timezone.now()) == 1

    operation.refresh_from_db()
    assert (operation.status, operation.failure_kind, operation.error, operation.message) == (
        Status.FAILED,
        Kind.RUNNER_REFUSED,
        "no runner",
        "no runner",
    )


@pytest.mark.django_db
def test_recover_stale_stores_interrupted_and_never_started(settings):
    """A row that waited for a worker never started; any other stale row was interrupted."""
    old = ago(settings.SYNC_STALE_AFTER_SECONDS + 1)
    # One active row at a time: recover the waiting one, then the running one.
    waiting = make_operation(
        status=Status.PENDING, message=sync.SYNC_WAITING_FOR_WORKER, heartbeat_at=old
    )
    assert sync.recover_stale() == 1
    running = make_operation(status=Status.RUNNING, heartbeat_at=old)
    assert sync.recover_stale() == 1

    waiting.refresh_from_db()
    running.refresh_from_db()
    assert (waiting.failure_kind, waiting.error) == (Kind.NEVER_STARTED, sync.SYNC_NO_WORKER)
    assert (running.failure_kind, running.error) == (Kind.INTERRUPTED, sync.SYNC_INTERRUPTED)
    assert waiting.was_interrupted() and running.was_interrupted()


# --- the kind each ending writes ------------------------------------------------------------------


def run_with_import(monkeypatch, import_catalog) -> SyncOperation:
    monkeypatch.setattr(importer, "import_catalog", import_catalog)
    return SyncManager().run_foreground(options=SyncOptions(skip_spotify=True))


def raising(error: BaseException):
    def import_catalog(**kwargs):
        raise error

    return import_catalog


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (WorkbookError(NOT_A_WORKBOOK), Kind.WORKBOOK),
        (WorkbookError(NETWORK_ERROR), Kind.WORKBOOK),
        (SpotifyError(CREDENTIALS_INVALID), Kind.SPOTIFY),
        (requests.ConnectionError("connection refused"), Kind.NETWORK),
        (TimeoutError("timed out"), Kind.NETWORK),
        (ZeroDivisionError("a bug"), Kind.UNEXPECTED),
    ],
)
@pytest.mark.django_db
def test_a_failed_run_stores_its_failure_kind(monkeypatch, error, kind):
    operation = run_with_import(monkeypatch, raising(error))

    assert (operation.status, operation.failure_kind) == (Status.FAILED, kind)
    assert not operation.was_interrupted()


@pytest.mark.django_db
def test_a_run_the_server_stopped_under_is_stored_interrupted(monkeypatch):
    monkeypatch.setattr(threading, "_SHUTTING_DOWN", True, raising=False)

    operation = run_with_import(monkeypatch, raising(RuntimeError("cannot schedule new futures")))

    assert (operation.status, operation.failure_kind, operation.error) == (
        Status.FAILED,
        Kind.INTERRUPTED,
        sync.SYNC_INTERRUPTED,
    )


@pytest.mark.django_db
def test_completed_and_cancelled_runs_store_no_failure_kind(monkeypatch):
    completed = run_with_import(monkeypatch, lambda **kwargs: ImportResult(created=1, total=1))
    cancelled = run_with_import(
        monkeypatch, raising(ImportCancelled(ImportResult(), processed=0, total=0))
    )

    assert (completed.status, completed.failure_kind) == (Status.COMPLETED, "")
    assert (cancelled.status, cancelled.failure_kind) == (Status.CANCELLED, "")


# --- the panel reads the kind, not the text -------------------------------------------------------


@pytest.mark.django_db
def test_the_panel_reads_interrupted_from_the_kind_not_the_text():
    """A failure whose text happens to equal the interrupted sentence is still a failure
    (visitors read it in general terms); a stored interruption is one whatever its text."""
    make_operation(
        status=Status.FAILED,
        failure_kind=Kind.WORKBOOK,
        error=sync.SYNC_INTERRUPTED,
        message=sync.SYNC_INTERRUPTED,
        started_at=ago(400),
    )
    panel = sync_panel.load_sync_panel()
    assert panel.state == "failed"
    assert panel.message.startswith(sync_panel.PUBLIC_FAILURE)

    make_operation(
        status=Status.FAILED,
        failure_kind=Kind.NEVER_STARTED,
        error="Sync never started (as an older version worded it)",
        message="Sync never started (as an older version worded it)",
    )
    panel = sync_panel.load_sync_panel()
    assert panel.state == "interrupted"
    assert panel.message == "Sync never started (as an older version worded it)"


@pytest.mark.django_db
def test_the_panel_read_that_recovers_a_stale_row_shows_its_stored_kind(settings):
    """The panel's own recovery sets the kind on the row it shows as the UPDATE wrote it."""
    make_operation(
        status=Status.RUNNING,
        stage=importer.STAGE_IMPORTING,
        heartbeat_at=ago(settings.SYNC_STALE_AFTER_SECONDS + 1),
    )

    panel = sync_panel.load_sync_panel()

    assert panel.operation is not None
    stored = SyncOperation.objects.get()
    assert panel.operation.failure_kind == stored.failure_kind == Kind.INTERRUPTED
    assert (panel.state, panel.message) == ("interrupted", sync.SYNC_INTERRUPTED)


# --- the data migration ---------------------------------------------------------------------------

BEFORE = ("catalog", "0005_syncoperation_kept_count")
AFTER = ("catalog", "0006_syncoperation_failure_kind")


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_kind_of_older_rows_from_their_text():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        old_model = executor.loader.project_state(BEFORE).apps.get_model("catalog", "SyncOperation")
        errors = {
            "interrupted": sync.SYNC_INTERRUPTED,
            "never_started": sync.SYNC_NO_WORKER,
            "runner_refused": sync.SYNC_RUNNER_FAILED,
            "network": NETWORK_ERROR,
            "unexpected": sync.SYNC_UNEXPECTED_ERROR.format(kind="KeyError"),
            "spotify": CREDENTIALS_INVALID,
            "workbook": NOT_A_WORKBOOK,
        }
        ids = {
            kind: old_model.objects.create(status="failed", error=error, message=error).pk
            for kind, error in errors.items()
        }
        ids[""] = old_model.objects.create(status="completed", message="Sync complete").pk

        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("catalog"))

    stored = dict(SyncOperation.objects.values_list("pk", "failure_kind"))
    assert {kind: stored[pk] for kind, pk in ids.items()} == {kind: kind for kind in ids}
