"""Fixtures for the end-to-end tests: the app as gunicorn processes on a scratch database, with a
loopback workbook server and Spotify stand-in, and Playwright on Debian's Chromium.

These tests talk HTTP (and read the scratch database with plain SQL); they never use
pytest-django's test database. Their waits follow events (a row's state, a log line, the server
answering) up to the deadlines of tests/support/e2e/deadlines.py, which E2E_TIME_SCALE stretches
on a slow machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e.client import AppClient
from tests.support.e2e.deadlines import scaled
from tests.support.e2e.servers import AppServer, WorkerProcess, app_environment
from tests.support.processes import DatabaseFactory, ScratchDatabase
from tests.support.spotify_standin import SpotifyStandIn
from tests.support.workbook_server import WorkbookServer

# Generous, bounded waits: a loaded 2-core CI box must slow these tests down, not fail them.
BROWSER_TIMEOUT_MS = round(scaled(15) * 1000)


# --- Playwright: launched by tests/conftest.py's browser_type_launch_args --------------------


@pytest.fixture(autouse=True)
def _browser_timeouts(request: pytest.FixtureRequest) -> None:
    if "page" in request.fixturenames:
        from playwright.sync_api import expect

        expect.set_options(timeout=BROWSER_TIMEOUT_MS)
        page = request.getfixturevalue("page")
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        page.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)


# --- loopback stand-ins for the outside world --------------------------------------------------


@pytest.fixture
def workbook_server() -> Iterator[WorkbookServer]:
    """A loopback workbook server (empty until the test sets a workbook)."""
    with WorkbookServer() as server:
        yield server


@pytest.fixture
def standin() -> Iterator[SpotifyStandIn]:
    """A loopback Spotify in Development Mode (single-album lookups: fine-grained progress)."""
    with SpotifyStandIn(mode="dev") as spotify:
        yield spotify


# --- the app as server processes ---------------------------------------------------------------


@dataclass
class LiveApp:
    server: AppServer
    db: ScratchDatabase
    log_dir: Path
    clients: list[AppClient] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, *, staff: bool = True) -> AppClient:
        """A `requests` client, logged in as the staff user unless `staff=False`."""
        client = AppClient(self.url)
        if staff:
            client.login()
        self.clients.append(client)
        return client

    def start_worker(self) -> WorkerProcess:
        """Start a `manage.py db_worker` on the app's database and environment (for
        SYNC_RUNNER=tasks); it stops at teardown."""
        number = len(self.workers)
        worker = WorkerProcess(
            env=self.server.env,
            log_path=self.log_dir / f"worker-{self.server.port}-{number}.log",
            worker_id=f"e2e-worker-{number}",
        )
        self.workers.append(worker)
        return worker.start()

    def task_results(self) -> list[tuple[Any, ...]]:
        """(status, worker_ids as stored) of every queued task, oldest first."""
        return self.db.query(
            "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult ORDER BY enqueued_at"
        )

    def sync_operations(self) -> list[tuple[Any, ...]]:
        """(id, status, error, message) of every SyncOperation, oldest first."""
        return self.db.query(
            "SELECT id, status, error, message FROM catalog_syncoperation ORDER BY id"
        )


StartApp = Callable[..., LiveApp]


@pytest.fixture
def start_app(
    request: pytest.FixtureRequest,
    scratch_databases: DatabaseFactory,
    workbook_server: WorkbookServer,
    standin: SpotifyStandIn,
    tmp_path: Path,
) -> Iterator[StartApp]:
    """Start the app with gunicorn on a fresh scratch database: `start_app(workers=4, env={...})`.

    The server reads the workbook from `workbook_server` and, unless `spotify=False` (no
    credentials, enrichment still on), talks to the `standin`. Servers stop at teardown; a
    failed test prints the end of their logs.
    """
    apps: list[LiveApp] = []

    def start(
        *, workers: int = 2, spotify: bool = True, env: dict[str, str] | None = None
    ) -> LiveApp:
        db = scratch_databases.create()
        overrides = {
            "GOOGLE_SHEETS_XLSX_URL": workbook_server.url,
            "WORKBOOK_READ_TIMEOUT": "30",
            "SPOTIFY_ENABLED": "1",
            "SPOTIFY_TIMEOUT": "5",
            # One lookup at a time: progress moves album by album, as the tests expect.
            "SPOTIFY_CONCURRENCY": "1",
            "SYNC_HEARTBEAT_SECONDS": "1",
            "SYNC_STALE_AFTER_SECONDS": "60",
        }
        if spotify:
            overrides |= {
                "SPOTIFY_CLIENT_ID": standin.client_id,
                "SPOTIFY_CLIENT_SECRET": standin.client_secret,
                "SPOTIFY_API_BASE_URL": standin.base_url,
                "SPOTIFY_TOKEN_URL": standin.token_url,
            }
        overrides |= env or {}
        server = AppServer(
            env=app_environment(database_url=db.url, overrides=overrides),
            workers=workers,
            log_path=tmp_path / f"server-{len(apps)}.log",
        )
        app = LiveApp(server=server, db=db, log_dir=tmp_path)
        apps.append(app)
        server.start()
        return app

    yield start

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for app in apps:
        app.server.close()
        for worker in app.workers:
            worker.stop()
        for client in app.clients:
            client.session.close()
        if failed:
            print(f"\n--- server log ({app.server.log_path}) ---\n{app.server.log_tail(80)}")
            for worker in app.workers:
                print(f"\n--- worker log ({worker.log_path}) ---\n{worker.log_tail(80)}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
