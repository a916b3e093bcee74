"""Stale recovery for real: a server killed mid-sync frees the lock, no album half-written."""

from __future__ import annotations

import time

import pytest

from catalog.services.sync import SYNC_INTERRUPTED
from tests.e2e.conftest import StartApp
from tests.support.e2e.catalog_data import half_written, releases, stored_albums, workbook
from tests.support.e2e.client import find_element
from tests.support.e2e.deadlines import lookups_outlasting, scaled
from tests.support.e2e.waits import wait_enriching, wait_finished, wait_interrupted
from tests.support.spotify_standin import SpotifyStandIn
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

STALE_AFTER = 4
HEARTBEAT = 1
# Allowance on top of SYNC_STALE_AFTER_SECONDS for the last heartbeat's age and a busy CI box.
MARGIN = scaled(HEARTBEAT + 4.0)
SLOW_LOOKUP = 0.5  # seconds per Spotify request
MIDWAY = 6  # the kill comes with at most this many albums enriched
# The lookups left after MIDWAY take far longer than a status read and a kill, however busy the
# machine: the kill always lands mid-enrichment. The second sync runs at full speed.
ALBUMS = MIDWAY + lookups_outlasting(scaled(15), latency=SLOW_LOOKUP)


def test_sync_killed_mid_enrichment_is_recovered_and_rerun(
    start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """`kill -9` of every server process during enrichment, then a restart on the same database:
    within SYNC_STALE_AFTER_SECONDS the status reads failed with SYNC_INTERRUPTED, Sync Now is
    enabled again, a new sync starts and completes, and no album was ever half-written."""
    specs = releases(ALBUMS, prefix="crash")
    workbook_server.set_workbook(workbook(specs))
    standin.set_latency(SLOW_LOOKUP)
    app = start_app(
        workers=2,
        env={
            "SYNC_STALE_AFTER_SECONDS": str(STALE_AFTER),
            "SYNC_HEARTBEAT_SECONDS": str(HEARTBEAT),
        },
    )
    staff = app.client()
    assert staff.trigger().status_code == 202

    wait_enriching(staff, upto=MIDWAY)
    app.server.kill()
    killed_at = time.monotonic()

    # The crash left the row active and the catalog consistent, with enrichment unfinished.
    assert [row[1] for row in app.sync_operations()] == ["running"]
    assert half_written(app.db, specs) == []
    assert not all(album.enriched for album in stored_albums(app.db).values())

    standin.set_latency(0)  # the next sync runs at full speed
    app.server.start()
    deadline = max(killed_at + STALE_AFTER + MARGIN, time.monotonic() + 1.0)

    status = wait_interrupted(staff, deadline=deadline)
    assert SYNC_INTERRUPTED in (status["error"] or status["message"])

    button = find_element(staff.page(), "sync-button")
    assert button is not None
    assert not button.has("disabled")
    assert button.text == "Sync Now"

    assert staff.trigger().status_code == 202
    final = wait_finished(staff)
    assert final["status"] == "completed", final

    albums = stored_albums(app.db)
    assert sorted(albums) == sorted(spec.spotify for spec in specs)
    assert half_written(app.db, specs) == []
    assert all(album.enriched for album in albums.values())
    operations = app.sync_operations()
    assert [status for _, status, _, _ in operations] == ["failed", "completed"]
    assert SYNC_INTERRUPTED in operations[0][2:]
