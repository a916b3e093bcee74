"""SyncManager: the lock, the run's progress/heartbeat/cancel writes, failures, the foreground run.

Most tests run the sync inline (InlineRunner, writer_thread=False) so that everything shares the
test's database connection and transaction; the last tests use the real threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.db import connections
from django.utils import timezone

from catalog.models import Album, SyncFailure, SyncOperation
from catalog.services import sync
from catalog.services.importer import (
    STAGE_ENRICHING,
    STAGE_FETCHING,
    STAGE_IMPORTING,
    AlbumFailure,
    ImportCancelled,
    ImportResult,
    Progress,
)
from catalog.services.spotify import CREDENTIALS_INVALID, SpotifyError
from catalog.services.sync import (
    InlineRunner,
    ProgressWriter,
    SyncAlreadyRunning,
    SyncManager,
    SyncOptions,
    ThreadRunner,
)
from catalog.services.workbook import NETWORK_ERROR, NOT_A_WORKBOOK, WorkbookError
from tests.factories import make_album
from tests.sync_factories import RecordingRunner, make_operation

Status = SyncOperation.Status


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeImport:
    """Stands in for importer.import_catalog: reports `steps`, then returns or raises."""

    def __init__(
        self,
        steps: list[Progress] = (),  # type: ignore[assignment]
        result: ImportResult | None = None,
        raises: BaseException | None = None,
        between: Callable[[int], None] | None = None,
    ) -> None:
        self.steps = list(steps)
        self.result = result or ImportResult(created=2, updated=1, unchanged=4, total=7)
        self.raises = raises
        self.between = between
        self.calls: list[dict[str, Any]] = []
        self.thread: threading.Thread | None = None

    def __call__(self, **kwargs: Any) -> ImportResult:
        self.calls.append(kwargs)
        self.thread = threading.current_thread()
        for number, step in enumerate(self.steps, start=1):
            kwargs["on_progress"](step)
            if self.between:
                self.between(number)
            if kwargs["should_cancel"]():
                raise ImportCancelled(self.result, step.processed, step.total)
        if self.raises:
            raise self.raises
        return self.result


def importing(processed: int, total: int = 5) -> Progress:
    return Progress(STAGE_IMPORTING, processed, total, f"Syncing album {processed} of {total}...")


@pytest.fixture(autouse=True)
def credentials(settings):
    settings.SPOTIFY_ENABLED = True
    settings.SPOTIFY_CLIENT_ID = "client-id"
    settings.SPOTIFY_CLIENT_SECRET = "client-secret"
    RecordingRunner.jobs.clear()


def inline_manager(fake: FakeImport, clock: FakeClock | None = None) -> SyncManager:
    return SyncManager(
        InlineRunner(), import_fn=fake, clock=clock or FakeClock(), writer_thread=False
    )


def run_web_sync(manager: SyncManager, capture, **kwargs: Any) -> SyncOperation:
    with capture(execute=True):
        operation = manager.start(options=SyncOptions(**kwargs))
    operation.refresh_from_db()
    return operation


# --- the lock -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_start_creates_a_pending_web_row_and_submits_it_after_commit(
    staff_user, django_capture_on_commit_callbacks
):
    """start() inserts the pending row (the lock) and hands the run over once committed."""
    manager = SyncManager(RecordingRunner())

    with django_capture_on_commit_callbacks() as callbacks:
        operation = manager.start(options=SyncOptions(refresh_spotify=True), user=staff_user)
        assert RecordingRunner.jobs == []  # not before the row is visible to other threads

    for callback in callbacks:
        callback()
    assert len(RecordingRunner.jobs) == 1
    operation.refresh_from_db()
    assert operation.status == Status.PENDING
    assert operation.source == SyncOperation.Source.WEB
    assert operation.triggered_by == staff_user
    assert operation.message == sync.SYNC_STARTING
    assert operation.options == {
        "source": None,
        "skip_spotify": False,
        "refresh_spotify": True,
        "dry_run": False,
    }


@pytest.mark.django_db
def test_second_start_raises_and_leaves_the_connection_usable():
    """The loser of the race gets SyncAlreadyRunning; its failed INSERT breaks no transaction."""
    manager = SyncManager(RecordingRunner())
    first = manager.start(options=SyncOptions())

    with pytest.raises(SyncAlreadyRunning, match=sync.SYNC_ALREADY_RUNNING):
        manager.start(options=SyncOptions())

    assert list(SyncOperation.objects.values_list("pk", flat=True)) == [first.pk]


@pytest.mark.django_db
def test_start_refuses_while_a_command_line_sync_runs():
    """Web and command line share the lock."""
    make_operation(status=Status.RUNNING, source=SyncOperation.Source.CLI)

    with pytest.raises(SyncAlreadyRunning):
        SyncManager(RecordingRunner()).start(options=SyncOptions())


@pytest.mark.django_db
def test_start_refuses_without_spotify_credentials(settings):
    """Enrichment on without credentials: SpotifyNotConfigured, and no row."""
    settings.SPOTIFY_CLIENT_ID = ""

    with pytest.raises(sync.SpotifyNotConfigured, match=sync.SPOTIFY_NOT_CONFIGURED):
        SyncManager(RecordingRunner()).start(options=SyncOptions())

    assert not SyncOperation.objects.exists()


@pytest.mark.django_db
def test_skip_spotify_needs_no_credentials(settings):
    """A sheet-only run (skip_spotify) needs no credentials."""
    settings.SPOTIFY_CLIENT_ID = settings.SPOTIFY_CLIENT_SECRET = ""

    assert SyncManager(RecordingRunner()).start(options=SyncOptions(skip_spotify=True)).pk


@pytest.mark.django_db
def test_start_recovers_a_stale_sync_first(settings):
    """A row whose heartbeat stopped is marked interrupted, and the new sync starts."""
    old = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1)
    stale = make_operation(status=Status.PENDING, heartbeat_at=old)

    new = SyncManager(RecordingRunner()).start(options=SyncOptions())

    stale.refresh_from_db()
    assert (stale.status, stale.error, stale.message) == (
        Status.FAILED,
        sync.SYNC_INTERRUPTED,
        sync.SYNC_INTERRUPTED,
    )
    assert stale.finished_at == old
    assert new.status == Status.PENDING


@pytest.mark.django_db
def test_recover_stale_is_one_update(settings, django_assert_num_queries):
    """Recovery is a single UPDATE, whatever it finds."""
    old = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1)
    make_operation(status=Status.RUNNING, heartbeat_at=old)

    with django_assert_num_queries(1):
        assert sync.recover_stale() == 1


@pytest.mark.django_db
def test_recover_stale_leaves_a_beating_sync_alone(settings):
    """A heartbeat younger than SYNC_STALE_AFTER_SECONDS keeps the row active."""
    beat = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS - 5)
    live = make_operation(status=Status.RUNNING, heartbeat_at=beat)

    assert sync.recover_stale() == 0
    live.refresh_from_db()
    assert live.status == Status.RUNNING


# --- a run, end to end (inline) -------------------------------------------------------------------


@pytest.mark.django_db
def test_run_completes_with_counts_and_the_result_line(django_capture_on_commit_callbacks):
    """A successful import: completed, its counts, "Sync complete! Updated X albums"."""
    fake = FakeImport([importing(5, 7)])

    operation = run_web_sync(inline_manager(fake), django_capture_on_commit_callbacks)

    assert operation.status == Status.COMPLETED
    assert operation.message == "Sync complete! Updated 3 albums"
    assert operation.error == ""
    assert (operation.created_count, operation.updated_count, operation.unchanged_count) == (
        2,
        1,
        4,
    )
    assert (operation.processed, operation.total) == (5, 7)
    assert operation.finished_at is not None
    assert not SyncFailure.objects.exists()


@pytest.mark.django_db
def test_run_with_failed_albums_completes_with_warnings(django_capture_on_commit_callbacks):
    """Failed albums: "completed with warnings: 45/50 ...", one SyncFailure row each."""
    album = make_album()
    failures = [AlbumFailure(f"Band - Album {n}", "not found on Spotify") for n in range(4)]
    failures.append(AlbumFailure(str(album), "Spotify error (HTTP 500)", album_id=album.pk))
    result = ImportResult(created=5, unchanged=45, failed=5, failures=failures, total=50)

    operation = run_web_sync(
        inline_manager(FakeImport(result=result)), django_capture_on_commit_callbacks
    )

    assert operation.status == Status.COMPLETED
    assert operation.message == (
        "Sync completed with warnings: 45/50 albums updated successfully. 5 failed."
    )
    assert operation.failed_count == 5
    assert operation.display_status() == "Completed with warnings"
    rows = list(SyncFailure.objects.filter(operation=operation))
    assert [row.reason for row in rows][-1] == "Spotify error (HTTP 500)"
    assert rows[-1].album == album


@pytest.mark.django_db
def test_run_says_why_spotify_enrichment_stopped(django_capture_on_commit_callbacks):
    """Spotify stopping early is a warning on a completed run, with its reason."""
    result = ImportResult(updated=2, spotify_stopped="Spotify quota exceeded")

    operation = run_web_sync(
        inline_manager(FakeImport(result=result)), django_capture_on_commit_callbacks
    )

    assert operation.status == Status.COMPLETED
    assert operation.message == (
        "Sync complete! Updated 2 albums Spotify enrichment stopped early: Spotify quota exceeded"
    )
    assert operation.warnings_count == 1


@pytest.mark.django_db
def test_failures_of_a_dry_run_keep_no_dangling_album_link(django_capture_on_commit_callbacks):
    """A failure naming an album id that does not exist is kept without the link."""
    result = ImportResult(failed=1, failures=[AlbumFailure("A - B", "bad", album_id=987654)])

    operation = run_web_sync(
        inline_manager(FakeImport(result=result)), django_capture_on_commit_callbacks
    )

    failure = SyncFailure.objects.get(operation=operation)
    assert failure.album is None
    assert failure.label == "A - B"


@pytest.mark.django_db
def test_run_passes_the_options_to_the_importer(django_capture_on_commit_callbacks):
    """source, refresh_spotify, dry_run and skip_spotify reach import_catalog."""
    fake = FakeImport()

    run_web_sync(
        inline_manager(fake),
        django_capture_on_commit_callbacks,
        source="/tmp/book.xlsx",
        refresh_spotify=True,
        dry_run=True,
    )

    (call,) = fake.calls
    assert (call["source"], call["refresh_spotify"], call["dry_run"], call["skip_spotify"]) == (
        "/tmp/book.xlsx",
        True,
        True,
        False,
    )


@pytest.mark.django_db
def test_run_skips_spotify_when_switched_off_in_settings(
    settings, django_capture_on_commit_callbacks
):
    """SPOTIFY_ENABLED off: the importer is told to skip enrichment."""
    settings.SPOTIFY_ENABLED = False
    fake = FakeImport()

    run_web_sync(inline_manager(fake), django_capture_on_commit_callbacks)

    assert fake.calls[0]["skip_spotify"] is True


@pytest.mark.django_db
def test_a_row_no_longer_pending_is_not_run(settings, django_capture_on_commit_callbacks):
    """If the row was recovered as stale before the runner got to it, nothing is imported."""
    fake = FakeImport()
    manager = SyncManager(RecordingRunner(), import_fn=fake, writer_thread=False)
    with django_capture_on_commit_callbacks(execute=True):
        operation = manager.start(options=SyncOptions())
    SyncOperation.objects.filter(pk=operation.pk).update(status=Status.FAILED)

    RecordingRunner.jobs[0]()

    assert fake.calls == []


@pytest.mark.django_db
def test_a_runner_refusing_the_job_fails_the_row(django_capture_on_commit_callbacks):
    """A runner that cannot take the job leaves a failed row, not a lock held for a minute."""

    class BrokenRunner:
        def submit(self, fn: Callable[[], None]) -> None:
            raise RuntimeError("queue is down")

    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        SyncManager(BrokenRunner()).start(options=SyncOptions())

    operation = SyncOperation.objects.get()
    assert (operation.status, operation.error) == (Status.FAILED, sync.SYNC_RUNNER_FAILED)


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "message"),
    [
        (WorkbookError(NOT_A_WORKBOOK), NOT_A_WORKBOOK),
        (WorkbookError(NETWORK_ERROR), NETWORK_ERROR),
        (requests.ConnectionError("connection refused"), NETWORK_ERROR),
        (requests.Timeout("read timed out"), NETWORK_ERROR),
        (SpotifyError(CREDENTIALS_INVALID), CREDENTIALS_INVALID),
    ],
)
def test_expected_failures_end_failed_with_their_message(
    error, message, django_capture_on_commit_callbacks
):
    """Workbook messages as they are; network failures as NETWORK_ERROR; lock released."""
    operation = run_web_sync(
        inline_manager(FakeImport(raises=error)), django_capture_on_commit_callbacks
    )

    assert (operation.status, operation.error, operation.message) == (
        Status.FAILED,
        message,
        message,
    )
    assert not operation.is_active()


@pytest.mark.django_db
def test_unexpected_exception_fails_clearly_and_logs_the_traceback(
    caplog, django_capture_on_commit_callbacks
):
    """A bug: a clear message naming the exception type only (its text may hold secrets)."""
    error = ValueError("token=very-secret-value")

    with caplog.at_level(logging.ERROR, logger="catalog.services.sync"):
        operation = run_web_sync(
            inline_manager(FakeImport(raises=error)), django_capture_on_commit_callbacks
        )

    assert operation.status == Status.FAILED
    assert operation.error == sync.SYNC_UNEXPECTED_ERROR.format(kind="ValueError")
    assert "very-secret-value" not in operation.error
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info and record.exc_info[1] is error


# --- progress, throttling, heartbeat, cancel ------------------------------------------------------


@pytest.mark.django_db
def test_progress_writes_are_throttled():
    """Many reports within 0.25 s make one write; the latest progress is written after."""
    operation = make_operation(status=Status.RUNNING)
    clock = FakeClock()
    writer = ProgressWriter(operation.pk, clock=clock)

    for processed in range(1, 101):
        writer.report(importing(processed, 100))
        writer.tick()
    operation.refresh_from_db()
    assert writer.writes == 1  # the stage change, at once
    assert operation.processed == 1

    clock.now += sync.PROGRESS_WRITE_SECONDS
    writer.tick()
    operation.refresh_from_db()
    assert writer.writes == 2
    assert (operation.processed, operation.message) == (100, "Syncing album 100 of 100...")


@pytest.mark.django_db
def test_stage_changes_are_written_at_once():
    """A new stage is written immediately, with the time the stage began (for the estimate)."""
    operation = make_operation(status=Status.RUNNING)
    writer = ProgressWriter(operation.pk, clock=FakeClock())

    writer.report(Progress(STAGE_FETCHING, 0, 0, "Fetching albums from Google Sheets..."))
    writer.tick()
    writer.report(Progress(STAGE_ENRICHING, 0, 300, "Enriching..."))
    writer.tick()

    operation.refresh_from_db()
    assert writer.writes == 2
    assert operation.stage == STAGE_ENRICHING
    assert operation.stage_started_at is not None


@pytest.mark.django_db
def test_heartbeat_is_stamped_when_nothing_else_is_written(settings):
    """With no progress to write, a tick after SYNC_HEARTBEAT_SECONDS stamps heartbeat_at."""
    before = timezone.now() - timedelta(minutes=1)
    operation = make_operation(status=Status.RUNNING, heartbeat_at=before)
    clock = FakeClock()
    writer = ProgressWriter(operation.pk, clock=clock)

    writer.tick()
    assert writer.writes == 0

    clock.now += settings.SYNC_HEARTBEAT_SECONDS
    writer.tick()
    operation.refresh_from_db()
    assert writer.writes == 1
    assert operation.heartbeat_at > before


@pytest.mark.django_db
def test_progress_write_keeps_a_cancel_requested_by_another_request():
    """Progress is written with a narrow UPDATE: a cancel flag set meanwhile survives it."""
    operation = make_operation(status=Status.RUNNING)
    clock = FakeClock()
    writer = ProgressWriter(operation.pk, clock=clock)

    SyncOperation.objects.filter(pk=operation.pk).update(cancel_requested=True)
    writer.report(importing(3))
    writer.tick()

    operation.refresh_from_db()
    assert operation.cancel_requested
    assert operation.processed == 3
    assert writer.should_cancel()


@pytest.mark.django_db
def test_cancel_flag_is_read_at_most_every_half_second():
    """The cancel flag costs one SELECT per CANCEL_POLL_SECONDS, not one per album."""
    operation = make_operation(status=Status.RUNNING)
    clock = FakeClock()
    writer = ProgressWriter(operation.pk, clock=clock)
    writer.tick()

    SyncOperation.objects.filter(pk=operation.pk).update(cancel_requested=True)
    writer.tick()
    assert not writer.should_cancel()

    clock.now += sync.CANCEL_POLL_SECONDS
    writer.tick()
    assert writer.should_cancel()


@pytest.mark.django_db
def test_cancel_ends_the_run_and_keeps_the_albums_already_synced(
    django_capture_on_commit_callbacks,
):
    """Cancel mid-run: "Sync cancelled after N of M albums"; albums written so far stay."""
    clock = FakeClock()
    manager_box: list[SyncManager] = []

    def between(number: int) -> None:
        make_album(title=f"Synced {number}")
        if number == 2:
            assert manager_box[0].cancel() is not None  # as the cancel view would
        clock.now += 1

    fake = FakeImport([importing(n) for n in range(1, 6)], between=between)
    manager = inline_manager(fake, clock)
    manager_box.append(manager)

    operation = run_web_sync(manager, django_capture_on_commit_callbacks)

    assert operation.status == Status.CANCELLED
    assert operation.message == "Sync cancelled after 2 of 5 albums"
    assert operation.created_count == 2
    assert Album.objects.filter(title__startswith="Synced").count() == 2


@pytest.mark.django_db
def test_cancel_without_an_active_sync_returns_none():
    """Nothing running: cancel() answers None and changes nothing."""
    finished = make_operation()

    assert SyncManager(RecordingRunner()).cancel() is None
    finished.refresh_from_db()
    assert not finished.cancel_requested


# --- the foreground (command line) run ------------------------------------------------------------


@pytest.mark.django_db
def test_run_foreground_runs_in_the_calling_thread_as_a_cli_sync():
    """run_foreground: a cli row, the import in this thread, progress forwarded, final row."""
    fake = FakeImport([importing(1, 2), importing(2, 2)])
    seen: list[Progress] = []

    operation = inline_manager(fake).run_foreground(options=SyncOptions(), on_progress=seen.append)

    assert fake.thread is threading.current_thread()
    assert operation.source == SyncOperation.Source.CLI
    assert operation.triggered_by is None
    assert operation.status == Status.COMPLETED
    assert [p.processed for p in seen] == [1, 2]


@pytest.mark.django_db
def test_run_foreground_refuses_while_a_web_sync_runs():
    """The command cannot start while the web holds the lock."""
    make_operation(status=Status.RUNNING)
    fake = FakeImport()

    with pytest.raises(SyncAlreadyRunning):
        inline_manager(fake).run_foreground(options=SyncOptions())
    assert fake.calls == []


@pytest.mark.django_db
def test_run_foreground_ctrl_c_ends_cancelled_and_is_reraised():
    """Ctrl-C: the row ends cancelled ("after N of M"), the lock is free, the interrupt goes on."""
    fake = FakeImport([importing(3, 9)], raises=KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):
        inline_manager(fake).run_foreground(options=SyncOptions())

    operation = SyncOperation.objects.get()
    assert operation.status == Status.CANCELLED
    assert operation.message == "Sync cancelled after 3 of 9 albums"


# --- results and configuration --------------------------------------------------------------------


def test_default_runner_is_a_thread_runner(settings):
    """Decision 5: a daemon thread in the web process unless SYNC_RUNNER names another."""
    del settings.SYNC_RUNNER
    assert isinstance(sync.default_runner(), ThreadRunner)
    settings.SYNC_RUNNER = "catalog.services.sync.InlineRunner"
    assert isinstance(sync.default_runner(), InlineRunner)


def test_completion_message_counts_changed_albums():
    """ "Updated X" counts new and updated albums."""
    assert (
        sync.completion_message(ImportResult(created=2, updated=3, unchanged=40))
        == "Sync complete! Updated 5 albums"
    )


def test_warnings_message_counts_albums_not_failures_twice():
    """An album Spotify could not enrich was imported too: "45/50" comes from the total."""
    result = ImportResult(created=0, updated=10, unchanged=40, failed=5, total=50)
    assert sync.completion_message(result) == (
        "Sync completed with warnings: 45/50 albums updated successfully. 5 failed."
    )


# --- the real threads -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_thread_runner_runs_off_the_request_with_heartbeats(settings, monkeypatch):
    """ThreadRunner: the import runs in another thread while the writer thread keeps the
    heartbeat (and a message reported before a long wait) on the row; both threads close
    their database connections."""
    settings.SYNC_HEARTBEAT_SECONDS = 0.05
    writes: list[dict[str, Any]] = []
    closed_by: list[str] = []
    original_update = ProgressWriter._update
    original_close_all = connections.close_all

    def spy_update(self: ProgressWriter, **fields: Any) -> None:
        writes.append(fields)
        original_update(self, **fields)

    def spy_close_all() -> None:
        closed_by.append(threading.current_thread().name)
        original_close_all()

    monkeypatch.setattr(ProgressWriter, "_update", spy_update)
    monkeypatch.setattr(connections, "close_all", spy_close_all)
    wait = threading.Event()
    rate_limited = Progress(STAGE_ENRICHING, 1, 2, "Spotify rate limit reached: resuming in 1 s")

    def slow_import(**kwargs: Any) -> ImportResult:
        kwargs["on_progress"](rate_limited)
        wait.wait(1.2)  # as a rate-limit pause would: no progress, no database work
        return ImportResult(updated=1)

    runner = ThreadRunner()
    operation = SyncManager(runner, import_fn=slow_import).start(options=SyncOptions())
    runner.join(timeout=10)

    operation.refresh_from_db()
    assert operation.status == Status.COMPLETED
    assert any(w.get("message") == rate_limited.message for w in writes)
    assert sum(1 for w in writes if set(w) == {"heartbeat_at"}) >= 2
    assert "sync-runner" in closed_by
    assert f"sync-writer-{operation.pk}" in closed_by


@pytest.mark.django_db(transaction=True)
def test_writer_thread_survives_a_failing_write(settings, monkeypatch, caplog):
    """A write error is logged and the heartbeat goes on: the run does not turn stale."""
    settings.SYNC_HEARTBEAT_SECONDS = 0.05
    original_tick = ProgressWriter.tick
    ticks: list[str] = []

    def flaky_tick(self: ProgressWriter) -> None:
        ticks.append("tick")
        if len(ticks) == 1:
            raise RuntimeError("disk on fire")
        original_tick(self)

    monkeypatch.setattr(ProgressWriter, "tick", flaky_tick)
    done = threading.Event()

    def slow_import(**kwargs: Any) -> ImportResult:
        done.wait(1.2)
        return ImportResult()

    runner = ThreadRunner()
    with caplog.at_level(logging.ERROR, logger="catalog.services.sync"):
        operation = SyncManager(runner, import_fn=slow_import).start(options=SyncOptions())
        runner.join(timeout=10)

    operation.refresh_from_db()
    assert operation.status == Status.COMPLETED
    assert len(ticks) >= 3
    assert "progress writer error" in caplog.text
