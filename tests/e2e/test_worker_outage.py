"""`db_worker` outlives a PostgreSQL outage: the same process picks up the next Sync Now.

A PostgreSQL cluster of the test's own (the session's server serves the other tests) is stopped
with `pg_ctl stop -m fast`, as an operator's restart does, and started again ~5 s later;
gunicorn and `manage.py db_worker` run against it as in production with SYNC_RUNNER=tasks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from catalog.management.commands.db_worker import DATABASE_BACK, DATABASE_UNAVAILABLE
from tests.support.e2e.catalog_data import releases, stored_albums, workbook
from tests.support.e2e.client import AppClient
from tests.support.e2e.deadlines import scaled
from tests.support.e2e.servers import AppServer, WorkerProcess, app_environment, wait_for
from tests.support.e2e.waits import wait_enriching, wait_finished
from tests.support.postgres_cluster import ScratchCluster
from tests.support.processes import ScratchDatabase, prepare_database
from tests.support.spotify_standin import SpotifyStandIn
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 5
ALBUMS = 12
SLOW_LOOKUP = 0.5  # seconds per Spotify lookup: enrichment takes ~6 s, time to stop the server
STALE_AFTER = 6
# Bounds, not sleeps: the worker's backoff tops out at 10 s, so it is back well within this.
RECOVERY_TIMEOUT = scaled(45)


@dataclass
class OutageApp:
    cluster: ScratchCluster
    db: ScratchDatabase
    server: AppServer
    worker: WorkerProcess
    pid: int
    staff: AppClient
    answers_while_down: list[int] = field(default_factory=list)

    def log(self) -> str:
        return self.worker.log_path.read_text(errors="replace")

    def worker_alive(self) -> bool:
        process = self.worker.process
        assert process is not None
        if process.poll() is not None:
            raise AssertionError(
                f"the worker exited with {process.returncode}:\n{self.worker.log_tail(30)}"
            )
        return process.pid == self.pid

    def outage(self, *, noticed: tuple[str, ...] = (DATABASE_UNAVAILABLE,)) -> None:
        """Stop PostgreSQL for OUTAGE_SECONDS; return once the worker's log shows one of the
        `noticed` lines and the server accepts connections again."""
        self.cluster.stop()
        stopped_at = time.monotonic()
        wait_for(
            lambda: self.worker_alive() and any(line in self.log() for line in noticed),
            timeout=RECOVERY_TIMEOUT,
            what="the worker to notice the outage",
        )
        # Meanwhile a visitor's pages say the catalog is unavailable for a moment (503).
        self.answers_while_down = [
            requests.get(self.server.url + path, timeout=30).status_code
            for path in ("/catalog/albums/", "/catalog/sync/status/")
        ]
        # The outage lasts OUTAGE_SECONDS whatever the worker does meanwhile.
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        assert self.worker_alive()
        self.cluster.start()

    def tasks(self) -> list[tuple[str, str]]:
        return [
            (status, str(worker_ids))
            for status, worker_ids in self.db.query(
                "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult"
                " ORDER BY enqueued_at"
            )
        ]


@pytest.fixture
def outage_app(
    workbook_server: WorkbookServer, standin: SpotifyStandIn, tmp_path: Path
) -> Iterator[OutageApp]:
    """gunicorn and db_worker on a PostgreSQL cluster the test may stop, with Spotify on."""
    workbook_server.set_workbook(workbook(releases(ALBUMS, prefix="outage")))
    with ScratchCluster() as cluster:
        url = cluster.create_database("progmetal")
        prepare_database(url)
        env = app_environment(
            database_url=url,
            overrides={
                "GOOGLE_SHEETS_XLSX_URL": workbook_server.url,
                "SPOTIFY_ENABLED": "1",
                "SPOTIFY_CLIENT_ID": standin.client_id,
                "SPOTIFY_CLIENT_SECRET": standin.client_secret,
                "SPOTIFY_API_BASE_URL": standin.base_url,
                "SPOTIFY_TOKEN_URL": standin.token_url,
                "SPOTIFY_CONCURRENCY": "1",
                "SYNC_RUNNER": "tasks",
                "SYNC_HEARTBEAT_SECONDS": "1",
                "SYNC_STALE_AFTER_SECONDS": str(STALE_AFTER),
            },
        )
        server = AppServer(env=env, workers=1, log_path=tmp_path / "server.log")
        worker = WorkerProcess(env=env, log_path=tmp_path / "worker.log", worker_id="outage")
        try:
            server.start()
            worker.start()
            assert worker.process is not None
            staff = AppClient(server.url)
            staff.login()
            yield OutageApp(
                cluster=cluster,
                db=ScratchDatabase(url=url, vendor="postgresql", name="progmetal"),
                server=server,
                worker=worker,
                pid=worker.process.pid,
                staff=staff,
            )
        except BaseException:
            print(f"\n--- worker log ---\n{worker.log_tail(60)}")
            print(f"\n--- server log ---\n{server.log_tail(40)}")
            raise
        finally:
            worker.stop()
            server.stop()


def test_worker_survives_a_database_outage_and_runs_the_next_sync(
    outage_app: OutageApp,
) -> None:
    """PostgreSQL stopped for ~5 s while db_worker idles: the worker logs the outage once,
    reconnects when the server is back, and the same process (same pid) runs the Sync Now
    queued afterwards to completion."""
    app = outage_app

    app.outage()
    wait_for(
        lambda: app.worker_alive() and DATABASE_BACK in app.log(),
        timeout=RECOVERY_TIMEOUT,
        what="the worker to reconnect",
    )
    assert app.log().count(DATABASE_UNAVAILABLE) == 1
    assert app.answers_while_down == [503, 503]

    assert app.staff.trigger().status_code == 202
    final = wait_finished(app.staff, timeout=scaled(60))
    assert final["status"] == "completed", final
    assert app.worker_alive()
    assert app.tasks() == [("SUCCESSFUL", "['outage']")]
    assert len(stored_albums(app.db)) == ALBUMS


def test_worker_survives_an_outage_mid_sync_and_runs_the_next_sync(
    outage_app: OutageApp, standin: SpotifyStandIn
) -> None:
    """PostgreSQL stopped for ~5 s during enrichment: however that sync ends, the worker stays
    up, and the same process runs the next Sync Now to completion."""
    app = outage_app
    standin.set_latency(SLOW_LOOKUP)
    assert app.staff.trigger().status_code == 202
    wait_enriching(app.staff, upto=ALBUMS // 2)

    # Mid-sync the run meets the outage first (catalog/services/sync.py logs it from its
    # heartbeat or its import) and keeps trying to record its end until the database is back;
    # the worker's own loop may never see an error at all.
    app.outage(
        noticed=(
            "progress write failed",
            "the database became unavailable",
            DATABASE_UNAVAILABLE,
        )
    )
    first = wait_finished(app.staff, timeout=STALE_AFTER + RECOVERY_TIMEOUT)
    assert first["status"] in ("completed", "failed"), first
    assert app.worker_alive()

    standin.set_latency(0)
    assert app.staff.trigger().status_code == 202
    final = wait_finished(app.staff, timeout=scaled(60))
    assert final["status"] == "completed", final
    assert final["id"] != first["id"]
    assert app.worker_alive()
    assert app.tasks()[-1] == ("SUCCESSFUL", "['outage']")
