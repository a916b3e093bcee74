"""PostgreSQL stopped under a real sync (docs/architecture.md, "When the database goes away"):
`import_albums` prints one line on stderr, Sync Now under gunicorn frees its lock; either way the
row reads failed within seconds of the restart with the counts the albums table really holds,
and the next sync completes the catalog."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from catalog.services.importer import ImportResult
from catalog.services.sync import database_unavailable_message
from tests.support.e2e.client import AppClient
from tests.support.e2e.deadlines import scaled
from tests.support.e2e.servers import AppServer, app_environment, wait_for
from tests.support.postgres_cluster import ScratchCluster
from tests.support.processes import (
    ScratchDatabase,
    clean_environment,
    manage,
    prepare_database,
    start_manage,
)
from tests.support.workbook_server import WorkbookServer
from tests.support.workbooks import ReleaseSpec, make_workbook, save_workbook

pytestmark = pytest.mark.slow

ALBUMS = 8000  # a few seconds of import: the outage falls mid-import
STOP_AFTER = 1000  # albums committed before PostgreSQL is stopped
OUTAGE_SECONDS = 5  # how long PostgreSQL stays down (the scenario, not a wait)
RELEASED_WITHIN = 10  # seconds after the restart by which the lock must be free
RUN_TIMEOUT = scaled(120)


def releases() -> list[ReleaseSpec]:
    return [
        ReleaseSpec(f"Band {n}", f"Album {n}", date(2025, 1, 1 + n % 28), genres=f"Genre {n % 50}")
        for n in range(ALBUMS)
    ]


def outage_when_written(
    cluster: ScratchCluster, db: ScratchDatabase, running: Callable[[], bool]
) -> datetime:
    """Once STOP_AFTER albums are committed (while `running()`), stop PostgreSQL for
    OUTAGE_SECONDS; return the moment it accepts connections again."""
    wait_for(
        lambda: running() and db.scalar("SELECT count(*) FROM catalog_album") >= STOP_AFTER,
        timeout=RUN_TIMEOUT,
        interval=0.05,
        what=f"{STOP_AFTER} albums to be written",
    )
    cluster.stop()
    time.sleep(OUTAGE_SECONDS)  # the outage's length: the scenario, not a wait
    cluster.start()
    return datetime.now(UTC)


def test_postgresql_stopped_mid_import(tmp_path: Path) -> None:
    """`pg_ctl stop -m fast` mid-import, 5 s down, `pg_ctl start`: the command exits non-zero
    with one line (no traceback), the row reads failed (database) within 10 s of the restart
    with created = the albums stored, and the next `import_albums` completes the catalog."""
    path = save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": releases()})
    with ScratchCluster() as cluster:
        url = cluster.create_database("catalog")
        prepare_database(url)
        db = ScratchDatabase(url=url, vendor="postgresql", name="catalog")
        env = clean_environment(
            database_url=url, overrides={"SPOTIFY_ENABLED": "0", "SYNC_HEARTBEAT_SECONDS": "1"}
        )
        try:
            process = start_manage("import_albums", "--file", str(path), env=env)
            back = outage_when_written(cluster, db, lambda: process.poll() is None)
            back_at = time.monotonic()
            _, stderr = process.communicate(timeout=RUN_TIMEOUT)
            exited_after = time.monotonic() - back_at
        except BaseException:
            print(f"--- PostgreSQL log ---\n{cluster.log_tail()}")
            raise
        finally:
            if process.poll() is None:
                process.kill()

        stored = db.scalar("SELECT count(*) FROM catalog_album")
        status, kind, error, created, finished_at = db.query(
            "SELECT status, failure_kind, error, created_count, finished_at "
            "FROM catalog_syncoperation ORDER BY id"
        )[-1]
        print(
            f"outage: {stored} albums stored, row {status} ({kind}) created={created}, "
            f"finished {finished_at and (finished_at - back).total_seconds()} s and exited "
            f"{exited_after:.1f} s after the restart; stderr: {stderr.strip()!r}"
        )
        assert process.returncode != 0
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines() == [
            f"CommandError: {database_unavailable_message(ImportResult(created=stored))}"
        ]
        assert (status, kind) == ("failed", "database")
        assert STOP_AFTER <= stored < ALBUMS
        assert created == stored
        assert (finished_at - back).total_seconds() < RELEASED_WITHIN
        assert exited_after < RELEASED_WITHIN

        again = manage("import_albums", "--file", str(path), "-v", "0", env=env)
        assert again.returncode == 0, again.stderr
        assert db.scalar("SELECT count(*) FROM catalog_album") == ALBUMS
        assert (
            db.scalar("SELECT created_count FROM catalog_syncoperation ORDER BY id DESC LIMIT 1")
            == ALBUMS - stored
        )


def last_sync(db: ScratchDatabase) -> tuple | None:
    """(status, failure_kind, error, created_count, finished_at) of the latest sync row."""
    rows = db.query(
        "SELECT status, failure_kind, error, created_count, finished_at "
        "FROM catalog_syncoperation ORDER BY id DESC LIMIT 1"
    )
    return rows[0] if rows else None


def ended(db: ScratchDatabase) -> tuple | None:
    row = last_sync(db)
    return row if row is not None and row[0] not in ("pending", "running") else None


def test_postgresql_stopped_under_sync_now(tmp_path: Path) -> None:
    """Sync Now under gunicorn (the thread runner), PostgreSQL stopped mid-import for 5 s: the
    row reads failed (the database became unavailable) within 10 s of the restart, with
    created = the albums stored; Sync Now then answers 202, not 409, and that sync completes."""
    with WorkbookServer() as workbook_server, ScratchCluster() as cluster:
        workbook_server.set_workbook(make_workbook({"2025 Prog-metal": releases()}))
        url = cluster.create_database("catalog")
        prepare_database(url)
        db = ScratchDatabase(url=url, vendor="postgresql", name="catalog")
        overrides = {
            "GOOGLE_SHEETS_XLSX_URL": workbook_server.url,
            "SPOTIFY_ENABLED": "0",
            "SYNC_HEARTBEAT_SECONDS": "1",
        }
        server = AppServer(
            env=app_environment(database_url=url, overrides=overrides),
            workers=2,
            log_path=tmp_path / "server.log",
        )
        server.start()
        try:
            client = AppClient(server.url)
            client.login()
            assert client.trigger().status_code == 202
            back = outage_when_written(cluster, db, lambda: True)

            status, kind, error, created, finished_at = wait_for(
                lambda: ended(db), timeout=RELEASED_WITHIN, interval=0.1, what="the sync to end"
            )
            stored = db.scalar("SELECT count(*) FROM catalog_album")
            print(
                f"Sync Now outage: {stored} albums stored, row {status} ({kind}) "
                f"created={created}, finished {(finished_at - back).total_seconds():.1f} s "
                "after the restart"
            )
            assert (status, kind) == ("failed", "database")
            assert created == stored
            assert STOP_AFTER <= stored < ALBUMS
            assert error == database_unavailable_message(ImportResult(created=stored))
            assert (finished_at - back).total_seconds() < RELEASED_WITHIN

            assert client.trigger().status_code == 202
            next_status, _, _, next_created, _ = wait_for(
                lambda: ended(db), timeout=RUN_TIMEOUT, interval=0.2, what="the next sync to end"
            )
            assert (next_status, next_created) == ("completed", ALBUMS - stored)
            assert db.scalar("SELECT count(*) FROM catalog_album") == ALBUMS
        except BaseException:
            print(f"--- server log ---\n{server.log_tail(80)}")
            print(f"--- PostgreSQL log ---\n{cluster.log_tail()}")
            raise
        finally:
            server.stop()
