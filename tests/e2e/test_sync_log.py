"""A sync's start and end lines reach the server log, from gunicorn and from the command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from catalog.services.download import WORKBOOK_NOT_FOUND
from tests.e2e.conftest import StartApp
from tests.support.e2e.catalog_data import releases, workbook
from tests.support.e2e.deadlines import scaled
from tests.support.e2e.servers import wait_for
from tests.support.e2e.waits import wait_finished
from tests.support.processes import (
    STAFF_USERNAME,
    ScratchDatabase,
    clean_environment,
    manage,
)
from tests.support.workbook_server import EXPORT_PATH, MISSING, WorkbookServer
from tests.support.workbooks import save_workbook

pytestmark = pytest.mark.slow

ALBUMS = 3
# The end line is written just after the row reads finished.
LOG_TIMEOUT = scaled(10)


def log_lines(text: str, operation_id: int) -> list[str]:
    """The messages of the `catalog.sync` records about sync `operation_id`, without the time
    and level the log format puts first (gunicorn's access lines are left out)."""
    marker = f"catalog.sync Sync #{operation_id} "
    return [
        line[line.index(marker) + len("catalog.sync ") :]
        for line in text.splitlines()
        if marker in line
    ]


def both_lines(path: Path, operation_id: int) -> list[str] | None:
    lines = log_lines(path.read_text(errors="replace"), operation_id)
    return lines if len(lines) == 2 else None


def test_a_web_sync_logs_its_start_and_its_end(
    start_app: StartApp, workbook_server: WorkbookServer
) -> None:
    """Sync Now in a gunicorn worker (DEBUG off): one line when it starts (the panel, who, the
    workbook without its query, Spotify), one when it ends (outcome, counts, duration); then a
    failed download logs its reason."""
    workbook_server.set_workbook(workbook(releases(ALBUMS, prefix="log")))
    app = start_app(workers=1)
    staff = app.client()

    assert staff.trigger().status_code == 202
    done = wait_finished(staff)
    assert done["status"] == "completed"
    host = f"127.0.0.1:{workbook_server.port}"
    lines = wait_for(
        lambda: both_lines(app.server.log_path, done["id"]),
        timeout=LOG_TIMEOUT,
        what="both log lines",
    )
    assert lines[0] == (
        f"Sync #{done['id']} started from the web panel by {STAFF_USERNAME}: "
        f"http://{host}{EXPORT_PATH}, Spotify for new albums"
    )
    assert re.fullmatch(
        rf"Sync #{done['id']} completed in \d+ s: {ALBUMS} new · 0 changed · 0 unchanged"
        r" · 0 failed",
        lines[1],
    ), lines[1]

    workbook_server.routes[EXPORT_PATH] = MISSING  # the sheet was deleted
    assert staff.trigger().status_code == 202
    failed = wait_finished(staff)
    assert failed["status"] == "failed"
    [_, end] = wait_for(
        lambda: both_lines(app.server.log_path, failed["id"]),
        timeout=LOG_TIMEOUT,
        what="the lines",
    )
    reason = WORKBOOK_NOT_FOUND.format(url=workbook_server.url, origin="GOOGLE_SHEETS_XLSX_URL")
    assert re.fullmatch(rf"Sync #{failed['id']} failed after \d+ s: {re.escape(reason)}", end)


def test_a_command_sync_logs_its_start_and_end_from_v_2(
    tmp_path: Path, scratch_database: ScratchDatabase
) -> None:
    """import_albums logs the same two lines (the command and its pid, the file's name); at
    -v 1 they stay out of the way, its own summary says the same."""
    path = save_workbook(tmp_path / "export.xlsx", {"2025 Prog-metal": releases(ALBUMS)})
    env = clean_environment(database_url=scratch_database.url, overrides={"SPOTIFY_ENABLED": "0"})

    verbose = manage("import_albums", "--file", str(path), "-v", "2", env=env, check=True)
    quiet = manage("import_albums", "--file", str(path), env=env, check=True)
    missing = manage("import_albums", "--file", str(tmp_path / "gone.xlsx"), "-v", "2", env=env)

    start, end = log_lines(verbose.stderr, 1)
    assert re.fullmatch(
        r"Sync #1 started from the command line \(import_albums, pid \d+\): export\.xlsx, "
        r"Spotify disabled",
        start,
    ), start
    assert re.fullmatch(
        rf"Sync #1 completed in \d+ s: {ALBUMS} new · 0 changed · 0 unchanged · 0 failed", end
    ), end
    assert "catalog.sync" not in quiet.stderr
    assert missing.returncode == 1
    [_, failure] = log_lines(missing.stderr, 3)
    assert re.match(r"Sync #3 failed after \d+ s: Workbook file not found: ", failure), failure
