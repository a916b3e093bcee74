"""The one-active-sync constraint under real concurrency: many processes, one active sync."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.services.sync import SYNC_ALREADY_RUNNING
from tests.e2e.conftest import StartApp
from tests.support.e2e import trigger_client
from tests.support.e2e.catalog_data import releases, workbook
from tests.support.e2e.deadlines import scaled
from tests.support.e2e.servers import wait_for
from tests.support.e2e.waits import wait_finished
from tests.support.processes import REPO_ROOT
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

RACERS = 20
TRIGGER_CLIENT = Path(trigger_client.__file__)
WORKERS = 4
# The winner's sync waits this long for the workbook (the download's timeouts are longer): it is
# still active when the last racer arrives, however busy the machine, and the test cancels it once
# every racer has its answer.
HOLD = scaled(600)
READY_TIMEOUT = scaled(60)
ANSWER_TIMEOUT = scaled(90)


@pytest.mark.parametrize("runner", ["thread", "tasks"])
def test_concurrent_triggers_from_many_processes_start_exactly_one_sync(
    start_app: StartApp, workbook_server: WorkbookServer, tmp_path: Path, runner: str
) -> None:
    """20 staff trigger POSTs from 20 OS processes against 4 gunicorn workers, released together
    while no sync runs: exactly one answers 202, the other 19 answer 409 "Sync already in
    progress", and exactly one SyncOperation row exists; with either runner (with "tasks", a
    `db_worker` process runs the winner's sync, and exactly one task was queued)."""
    workbook_server.set_workbook(workbook(releases(5, prefix="race")))
    workbook_server.delay = HOLD
    held = str(round(2 * HOLD))
    app = start_app(
        workers=WORKERS,
        env={
            "SPOTIFY_ENABLED": "0",
            "SYNC_RUNNER": runner,
            "WORKBOOK_READ_TIMEOUT": held,
            "WORKBOOK_DOWNLOAD_TIMEOUT": held,
        },
    )
    if runner == "tasks":
        app.start_worker()
    staff = app.client()  # one login; every racer sends its session and CSRF cookies

    ready = tmp_path / "ready"
    ready.mkdir()
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-S",  # the racer needs only the standard library: start fast
                str(TRIGGER_CLIENT),
                f"--url={app.url}",
                f"--session={staff.session_id}",
                f"--csrf={staff.csrf_token}",
                f"--ready={ready / str(number)}",
                f"--go={go}",
                f"--timeout={READY_TIMEOUT + ANSWER_TIMEOUT}",
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(RACERS)
    ]
    try:
        wait_for(
            lambda: len(list(ready.iterdir())) == RACERS,
            timeout=READY_TIMEOUT,
            what="all racers to be ready",
        )
        go.touch()
        outputs = [racer.communicate(timeout=ANSWER_TIMEOUT) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait(timeout=10)

    assert all(racer.returncode == 0 for racer in racers), [err for _, err in outputs]
    answers = [json.loads(out) for out, _ in outputs]
    codes = sorted(answer["status"] for answer in answers)
    assert codes == [202] + [409] * (RACERS - 1)
    assert all(SYNC_ALREADY_RUNNING in a["body"] for a in answers if a["status"] == 409)

    operations = app.sync_operations()
    assert len(operations) == 1
    assert staff.status()["id"] == operations[0][0]
    if runner == "tasks":
        assert len(app.task_results()) == 1

    # The held sync, cancelled, ends while it waits for the workbook.
    assert staff.cancel().status_code == 202
    assert wait_finished(staff)["status"] == "cancelled"
