"""`db_worker` outlives a PostgreSQL outage: the same process picks up the next Sync Now.

A PostgreSQL cluster of the test's own (the session's server serves the other tests) is stopped
with `pg_ctl stop -m fast`, as an operator's restart does, while the worker idles, and started
again ~5 s later; gunicorn and `manage.py db_worker` run against it as in production with
SYNC_RUNNER=tasks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.management.commands.db_worker import DATABASE_BACK, DATABASE_UNAVAILABLE
from tests.support.e2e.catalog_data import releases, stored_albums, workbook
from tests.support.e2e.client import AppClient
from tests.support.e2e.postgres_cluster import PostgresCluster
from tests.support.e2e.servers import AppServer, WorkerProcess, app_environment, wait_for
from tests.support.e2e.waits import wait_finished
from tests.support.processes import ScratchDatabase, prepare_database
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 5
ALBUMS = 3
# Bounds, not sleeps: the worker's backoff tops out at 10 s, so it is back well within this.
RECOVERY_TIMEOUT = 45


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


def log_text(worker: WorkerProcess) -> str:
    return worker.log_path.read_text(errors="replace")


def alive(worker: WorkerProcess) -> bool:
    assert worker.process is not None
    if worker.process.poll() is not None:
        raise AssertionError(
            f"the worker exited with {worker.process.returncode}:\n{worker.log_tail(30)}"
        )
    return True


def test_worker_survives_a_database_outage_and_runs_the_next_sync(
    cluster: PostgresCluster, workbook_server: WorkbookServer, tmp_path: Path
) -> None:
    """PostgreSQL stopped for ~5 s while db_worker idles: the worker logs the outage once,
    reconnects when the server is back, and the same process (same pid) runs the Sync Now
    queued afterwards to completion."""
    workbook_server.set_workbook(workbook(releases(ALBUMS, prefix="outage")))
    url = cluster.create_database("progmetal")
    prepare_database(url)
    db = ScratchDatabase(url=url, vendor="postgresql", name="progmetal")
    env = app_environment(
        database_url=url,
        overrides={
            "GOOGLE_SHEETS_XLSX_URL": workbook_server.url,
            "SPOTIFY_ENABLED": "0",
            "SYNC_RUNNER": "tasks",
            "SYNC_HEARTBEAT_SECONDS": "1",
        },
    )
    server = AppServer(env=env, workers=1, log_path=tmp_path / "server.log")
    worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log", worker_id="outage-worker")
    try:
        server.start()
        worker.start()
        assert worker.process is not None
        pid = worker.process.pid
        staff = AppClient(server.url)
        staff.login()

        cluster.stop()
        stopped_at = time.monotonic()
        wait_for(
            lambda: alive(worker) and DATABASE_UNAVAILABLE in log_text(worker),
            timeout=RECOVERY_TIMEOUT,
            what="the worker to notice the outage",
        )
        # The outage lasts OUTAGE_SECONDS whatever the worker does meanwhile.
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        assert alive(worker)
        cluster.start()

        wait_for(
            lambda: alive(worker) and DATABASE_BACK in log_text(worker),
            timeout=RECOVERY_TIMEOUT,
            what="the worker to reconnect",
        )
        assert log_text(worker).count(DATABASE_UNAVAILABLE) == 1

        assert staff.trigger().status_code == 202
        final = wait_finished(staff, timeout=60)
        assert final["status"] == "completed", final
        assert worker.process.pid == pid and alive(worker)
        tasks = db.query("SELECT status, worker_ids FROM django_tasks_database_dbtaskresult")
        assert [status for status, _ in tasks] == ["SUCCESSFUL"]
        assert "outage-worker" in str(tasks[0][1])
        assert len(stored_albums(db)) == ALBUMS
    except BaseException:
        print(f"\n--- worker log ---\n{worker.log_tail(60)}\n--- server log ---\n")
        print(server.log_tail(40))
        raise
    finally:
        worker.stop()
        server.stop()
