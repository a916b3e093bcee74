"""A server stopped by a signal during Spotify enrichment: the sync reads "interrupted".

A graceful stop (SIGTERM), a graceful reload (SIGHUP) and a quick stop (SIGINT) let the worker's
interpreter shut down while the sync thread still runs; `kill -9` is tests/e2e/test_crash.py.
Whether the stopping worker records the outcome itself or the row is recovered as stale after
the restart, the history must say SYNC_INTERRUPTED, never "unexpected error".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import pytest

from catalog.services.sync import SYNC_INTERRUPTED
from tests.e2e.conftest import StartApp
from tests.support.e2e.catalog_data import half_written, releases, workbook
from tests.support.e2e.deadlines import lookups_outlasting, scaled
from tests.support.e2e.waits import wait_enriching, wait_finished
from tests.support.spotify_standin import SpotifyStandIn
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

STALE_AFTER = 4
SLOW_LOOKUP = 0.5  # seconds per Spotify request
MIDWAY = 6  # the signal comes with at most this many albums enriched
# The lookups left after MIDWAY outlast the worker's stop (gunicorn's graceful timeout, then the
# interpreter's shutdown), however busy the machine: the signal always lands mid-enrichment.
ALBUMS = MIDWAY + lookups_outlasting(scaled(20), latency=SLOW_LOOKUP)
STOP_TIMEOUT = scaled(15)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=str)
def test_a_signal_during_enrichment_reads_as_interrupted(
    signum: int, start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    specs = releases(ALBUMS, prefix="restart")
    workbook_server.set_workbook(workbook(specs))
    standin.set_latency(SLOW_LOOKUP)
    app = start_app(
        workers=1,
        env={"SYNC_STALE_AFTER_SECONDS": str(STALE_AFTER), "SYNC_HEARTBEAT_SECONDS": "1"},
    )
    staff = app.client()
    assert staff.trigger().status_code == 202

    wait_enriching(staff, upto=MIDWAY)
    process = app.server.process
    assert process is not None
    os.kill(process.pid, signum)  # to the master, as a supervisor or `docker stop` does
    if signum != signal.SIGHUP:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        assert process.poll() is not None, "the server did not stop"
        standin.set_latency(0)
        app.server.start()

    status = wait_finished(staff, timeout=STALE_AFTER + scaled(20))
    assert status["status"] == "failed", status
    [(_, state, error, message)] = app.sync_operations()
    assert (state, error, message) == ("failed", SYNC_INTERRUPTED, SYNC_INTERRUPTED)
    log = app.server.log_tail(400)
    assert "failed unexpectedly" not in log
    assert "unexpected error" not in log
    assert half_written(app.db, specs) == []
