"""SYNC_RUNNER=tasks for real: gunicorn queues the sync, a `manage.py db_worker` process runs it.

A deploy (gunicorn killed and started again) does not touch a sync the worker runs; a worker
killed with `kill -9` leaves a row that stale recovery marks interrupted; with no worker at all
the panel says so and the lock is released after the stale limit.
"""

from __future__ import annotations

import time

import pytest

from catalog.services.sync import SYNC_INTERRUPTED, SYNC_NO_WORKER, SYNC_WAITING_FOR_WORKER
from catalog.sync_panel import NO_WORKER_YET
from tests.e2e.conftest import LiveApp, StartApp
from tests.support.e2e.catalog_data import half_written, releases, stored_albums, workbook
from tests.support.e2e.client import find_element
from tests.support.e2e.deadlines import lookups_outlasting, scaled
from tests.support.e2e.servers import START_TIMEOUT, wait_for
from tests.support.e2e.waits import wait_enriching, wait_finished, wait_interrupted, wait_row
from tests.support.spotify_standin import SpotifyStandIn
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

HEARTBEAT = 1
STALE_AFTER = round(scaled(6))
# Allowance on top of SYNC_STALE_AFTER_SECONDS for the last heartbeat's age and a busy CI box.
MARGIN = scaled(HEARTBEAT + 4.0)
SLOW_LOOKUP = 0.6  # seconds per Spotify request
MIDWAY = 10  # enrichment under way, with at most this many albums done
# The lookups left after MIDWAY outlast a whole gunicorn start (its deadline, and then some): a
# sync seen midway is still running after a restart or a kill, however slow the machine. Once a
# test has seen what it needs it sets the latency to 0, and the rest takes a few seconds.
ALBUMS = MIDWAY + lookups_outlasting(START_TIMEOUT + scaled(15), latency=SLOW_LOOKUP)
TASKS_ENV = {
    "SYNC_RUNNER": "tasks",
    "SYNC_HEARTBEAT_SECONDS": str(HEARTBEAT),
    "SYNC_STALE_AFTER_SECONDS": str(STALE_AFTER),
}


def started_in_the_worker(app: LiveApp) -> None:
    """The queued task was claimed by our db_worker (its id is on the task's row)."""
    tasks = app.task_results()
    assert len(tasks) >= 1
    assert "e2e-worker-" in str(tasks[-1][1]), tasks


def test_sync_runs_in_the_worker_and_a_gunicorn_restart_does_not_interrupt_it(
    start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """Sync Now answers 202 from gunicorn, the worker process runs the sync; `kill -9` of every
    gunicorn process mid-enrichment and a restart: the sync goes on, the panel follows it after
    the restart, and it completes with every album enriched."""
    specs = releases(ALBUMS, prefix="deploy")
    workbook_server.set_workbook(workbook(specs))
    standin.set_latency(SLOW_LOOKUP)
    app = start_app(workers=2, env=TASKS_ENV)
    app.start_worker()
    staff = app.client()

    assert staff.trigger().status_code == 202
    before = wait_enriching(staff, upto=MIDWAY)
    started_in_the_worker(app)

    app.server.kill()
    # No web process left: the worker carries the sync on, and its row says so.
    moved = wait_row(
        app.db,
        before["id"],
        lambda row: row.status != "running" or row.processed > before["processed"],
        what="the worker to go on enriching with gunicorn down",
    )
    assert moved.status == "running", moved
    app.server.start()
    # Followed across the restart: the same run, still running, further on.
    after = staff.status()
    assert (after["id"], after["status"]) == (before["id"], "running"), after
    assert after["processed"] >= moved.processed > before["processed"], (before, moved, after)

    standin.set_latency(0)  # seen across the restart: the rest at full speed
    final = wait_finished(staff)
    assert final["status"] == "completed", final
    assert final["id"] == before["id"]
    assert [row[1] for row in app.sync_operations()] == ["completed"]
    albums = stored_albums(app.db)
    assert sorted(albums) == sorted(spec.spotify for spec in specs)
    assert all(album.enriched for album in albums.values())
    assert [status for status, _ in app.task_results()] == ["SUCCESSFUL"]


def test_worker_killed_mid_sync_reads_interrupted_and_a_new_sync_completes(
    start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """`kill -9` of the worker during enrichment: within SYNC_STALE_AFTER_SECONDS the status
    reads failed with SYNC_INTERRUPTED, Sync Now is enabled again, and a new sync run by a new
    worker completes with no album half-written."""
    specs = releases(ALBUMS, prefix="wkill")
    workbook_server.set_workbook(workbook(specs))
    standin.set_latency(SLOW_LOOKUP)
    app = start_app(workers=2, env=TASKS_ENV)
    worker = app.start_worker()
    staff = app.client()

    assert staff.trigger().status_code == 202
    wait_enriching(staff, upto=MIDWAY)
    worker.kill()
    killed_at = time.monotonic()
    assert [row[1] for row in app.sync_operations()] == ["running"]
    assert half_written(app.db, specs) == []

    deadline = killed_at + STALE_AFTER + MARGIN

    status = wait_interrupted(staff, deadline=deadline)
    assert SYNC_INTERRUPTED in (status["error"] or status["message"])
    button = find_element(staff.page(), "sync-button")
    assert button is not None and not button.has("disabled")

    standin.set_latency(0)
    app.start_worker()
    assert staff.trigger().status_code == 202
    final = wait_finished(staff)
    assert final["status"] == "completed", final
    assert [row[1] for row in app.sync_operations()] == ["failed", "completed"]
    assert half_written(app.db, specs) == []
    assert all(album.enriched for album in stored_albums(app.db).values())


def test_no_worker_the_panel_says_so_and_the_lock_is_released(
    start_app: StartApp, workbook_server: WorkbookServer
) -> None:
    """With no worker running, the queued sync's panel says it waits for a worker, then asks
    whether `db_worker` runs; after SYNC_STALE_AFTER_SECONDS it reads "never started" and Sync
    Now works again. A worker started then skips the dead job and runs the new one."""
    workbook_server.set_workbook(workbook(releases(3, prefix="noworker")))
    app = start_app(workers=2, env={**TASKS_ENV, "SPOTIFY_ENABLED": "0"})
    staff = app.client()
    visitor = app.client(staff=False)

    queued_at = time.monotonic()
    assert staff.trigger().status_code == 202
    message = find_element(staff.panel_html(), "sync-message")
    assert message is not None and message.text == SYNC_WAITING_FOR_WORKER
    assert staff.trigger().status_code == 409  # the queued sync holds the lock

    hint = NO_WORKER_YET.format(seconds=STALE_AFTER)
    wait_for(
        lambda: staff.status()["message"] == hint,
        timeout=STALE_AFTER,
        interval=0.2,
        what="the panel to ask for a worker",
    )
    assert "db_worker" in hint

    def given_up() -> dict | None:
        status = visitor.status()  # any reader recovers it, logged in or not
        return status if status["status"] == "failed" else None

    status = wait_for(given_up, timeout=STALE_AFTER + MARGIN, interval=0.2, what="the lock to go")
    assert time.monotonic() - queued_at <= STALE_AFTER + MARGIN
    assert status["error"] == SYNC_NO_WORKER

    assert staff.trigger().status_code == 202
    app.start_worker()
    final = wait_finished(staff)
    assert final["status"] == "completed", final
    assert [row[1:3] for row in app.sync_operations()] == [
        ("failed", SYNC_NO_WORKER),
        ("completed", ""),
    ]
    # Both jobs reached the worker; the dead one found its row no longer pending.
    assert [status for status, _ in app.task_results()] == ["SUCCESSFUL", "SUCCESSFUL"]
