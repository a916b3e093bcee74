"""A sync that loses its database (docs/architecture.md, "When the database goes away"): it ends
failed with one message that says so, its row records what was really written, the lock is
free moments after the database answers again, and the next sync completes the catalog."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from django.db import OperationalError, connection, connections
from django.db.backends import utils as backend_utils

from catalog.models import Album, SyncOperation
from catalog.services import sync
from catalog.services.importer import STAGE_IMPORTING, ImportResult, Progress  # noqa
from catalog.services.sync import SyncManager, SyncOptions, database_unavailable_message
from tests.support.e2e.servers import wait_for
from tests.support.sync_factories import make_operation
from tests.support.workbooks import ReleaseSpec, save_workbook

pytestmark = pytest.mark.django_db(transaction=True)

ALBUMS = 350  # four batches of 100: the outage comes after the second
OUTAGE_AFTER = 200
# The lock must be free this soon after the database is back (the operator's 10 s).
RELEASED_WITHIN = 10.0


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    releases = [
        ReleaseSpec(f"Band {n}", f"Album {n}", date(2025, 1, 1 + n % 28)) for n in range(ALBUMS)
    ]
    return save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": releases})


class CursorOutage:
    """Every query, on every connection of every thread, fails as on a database that went
    away (OperationalError) between `start()` and `end()`: the cursor boundary."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = threading.Event()
        self.ended_at: float | None = None
        for name in ("execute", "executemany"):
            original = getattr(backend_utils.CursorWrapper, name)
            monkeypatch.setattr(backend_utils.CursorWrapper, name, self._guard(original))

    def _guard(self, original: Callable) -> Callable:
        outage = self

        def guarded(cursor, *args, **kwargs):
            if outage.down.is_set():
                raise OperationalError("server closed the connection unexpectedly")
            return original(cursor, *args, **kwargs)

        return guarded

    def start(self, *, seconds: float) -> None:
        self.down.set()

        def end() -> None:
            time.sleep(seconds)  # the outage's length is the test's input, not a wait
            self.ended_at = time.monotonic()
            self.down.clear()

        threading.Thread(target=end, daemon=True).start()

    def end(self) -> None:
        self.ended_at = time.monotonic()
        self.down.clear()


def run_sync(workbook: Path, on_progress: Callable[[Progress], None]) -> SyncOperation:
    return SyncManager().run_foreground(
        options=SyncOptions(source=str(workbook), skip_spotify=True), on_progress=on_progress
    )


def after_batches(action: Callable[[], None]) -> Callable[[Progress], None]:
    """A progress callback that runs `action` once OUTAGE_AFTER albums are committed."""
    done: list[bool] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage == STAGE_IMPORTING and progress.processed >= OUTAGE_AFTER and not done:
            done.append(True)
            action()

    return on_progress


def assert_failed_with_true_counts(operation: SyncOperation) -> None:
    assert operation.status == SyncOperation.Status.FAILED
    assert operation.failure_kind == SyncOperation.FailureKind.DATABASE
    written = Album.objects.count()
    assert 0 < written < ALBUMS
    assert operation.created_count == written
    assert operation.error == database_unavailable_message(ImportResult(created=written))
    assert not SyncOperation.objects.active().exists()


def assert_next_sync_completes(workbook: Path, written: int) -> None:
    operation = run_sync(workbook, lambda progress: None)
    assert operation.status == SyncOperation.Status.COMPLETED
    assert (operation.created_count, operation.unchanged_count) == (ALBUMS - written, written)
    assert Album.objects.count() == ALBUMS


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A failing test gives up within a minute; the retry interval is the shipped one (it is
    # what the time to a free lock measures).
    monkeypatch.setattr(sync, "DATABASE_RETRY_LIMIT_SECONDS", 60.0)
    yield


def test_outage_mid_import_ends_failed_with_the_counts_written_soon_after_it_ends(
    workbook, monkeypatch, quick_retry
):
    """Every query fails for 3 s after two batches: the run ends failed ("the database became
    unavailable") within moments of the database answering again, counting the 200 albums it
    wrote, and the next sync writes the rest."""
    outage = CursorOutage(monkeypatch)

    operation = run_sync(workbook, after_batches(lambda: outage.start(seconds=3)))

    assert outage.ended_at is not None
    assert time.monotonic() - outage.ended_at < RELEASED_WITHIN
    assert_failed_with_true_counts(operation)
    assert operation.created_count == OUTAGE_AFTER
    assert_next_sync_completes(workbook, OUTAGE_AFTER)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_terminate_backend")
def test_killed_database_connections_end_the_run_failed_and_free_the_lock(workbook, quick_retry):
    """pg_terminate_backend on the run's connections (the import's and the heartbeat's): the
    run opens a new connection to record its end at once, with the counts it wrote."""

    def terminate_others() -> None:
        def kill() -> None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
            finally:
                connections.close_all()

        killer = threading.Thread(target=kill)
        killer.start()
        killer.join(timeout=30)

    started = time.monotonic()
    operation = run_sync(workbook, after_batches(terminate_others))

    assert time.monotonic() - started < 60
    assert_failed_with_true_counts(operation)
    assert_next_sync_completes(workbook, Album.objects.count())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's page limit")
def test_full_disk_on_sqlite_ends_the_run_failed_with_the_counts_written(workbook, quick_retry):
    """The run's connection cannot grow the file ("database or disk is full"): the run ends
    failed, saying the database became unavailable, with the counts of what it wrote."""

    def fill_the_disk() -> None:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA page_count")
            (pages,) = cursor.fetchone() or (0,)
            cursor.execute(f"PRAGMA max_page_count = {pages}")

    operation = run_sync(workbook, after_batches(fill_the_disk))

    assert_failed_with_true_counts(operation)
    with connection.cursor() as cursor:  # space is freed
        cursor.execute("PRAGMA max_page_count = 1073741823")
    assert_next_sync_completes(workbook, Album.objects.count())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_terminate_backend")
def test_heartbeat_resumes_after_its_connection_is_killed(settings):
    """The writer thread's connection killed (pg_terminate_backend): it opens a new one and
    the heartbeat goes on, instead of failing on the dead connection until the row is stale."""
    settings.SYNC_HEARTBEAT_SECONDS = 0.2
    operation = make_operation(status=SyncOperation.Status.RUNNING)
    writer = sync._WriterThread(sync.ProgressWriter(operation.pk))

    def heartbeat() -> datetime:
        return SyncOperation.objects.values_list("heartbeat_at", flat=True).get(pk=operation.pk)

    def wait_beat_after(moment: datetime) -> datetime:
        def later() -> datetime | None:
            beat = heartbeat()
            return beat if beat > moment else None

        return wait_for(
            later,
            timeout=15,
            what="a heartbeat written after the connection was killed",
        )

    writer.start()
    try:
        wait_beat_after(operation.heartbeat_at)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            cursor.execute("SELECT now()")
            (killed_at,) = cursor.fetchone() or (None,)
        assert killed_at is not None
        assert wait_beat_after(killed_at)
        assert writer.is_alive()
    finally:
        writer.stop()


def test_the_row_counts_the_committed_batches_while_the_run_goes_on(workbook):
    """The counts reach the row as batches commit (the writer thread's progress writes), so a
    run that dies where no outcome can be written (kill -9) keeps counts that were true."""
    seen: list[tuple[int, int]] = []

    def row_created() -> int | None:
        created = SyncOperation.objects.values_list("created_count", flat=True).get()
        return created or None

    def look() -> None:
        # The import waits here, after two committed batches: the row must catch up.
        created = wait_for(row_created, timeout=15, what="counts on the row")
        seen.append((created, Album.objects.count()))

    operation = run_sync(workbook, after_batches(look))

    assert seen == [(OUTAGE_AFTER, OUTAGE_AFTER)]
    assert operation.status == SyncOperation.Status.COMPLETED


def test_an_outage_longer_than_the_retry_limit_leaves_the_row_to_stale_recovery(
    workbook, monkeypatch
):
    """The run does not wait forever for its database: past DATABASE_RETRY_LIMIT_SECONDS it
    gives up (the command prints its one line), and the row, still active, is stale
    recovery's to free."""
    monkeypatch.setattr(sync, "DATABASE_RETRY_LIMIT_SECONDS", 2.0)
    outage = CursorOutage(monkeypatch)
    started = time.monotonic()

    try:
        with pytest.raises(OperationalError):
            # An unbounded retry would get through once this outage ends, and not raise.
            run_sync(workbook, after_batches(lambda: outage.start(seconds=30)))
        gave_up_after = time.monotonic() - started
    finally:
        outage.end()

    assert gave_up_after < 30
    operation = SyncOperation.objects.get()
    assert operation.status == SyncOperation.Status.RUNNING
