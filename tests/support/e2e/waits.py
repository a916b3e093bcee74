"""Waits the real-process tests share: a sync under way in enrichment, a sync read as
interrupted, a sync finished (each polling the status JSON through an `AppClient`), and a
SyncOperation row in a given state (read with SQL, whether or not a web server runs). Each is
bounded by a deadline of tests/support/e2e/deadlines.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from catalog.services.importer import STAGE_ENRICHING
from tests.support.e2e.client import TERMINAL_STATUSES, AppClient
from tests.support.e2e.deadlines import scaled
from tests.support.e2e.servers import wait_for
from tests.support.processes import ScratchDatabase

ENRICHING_TIMEOUT = scaled(60)  # from Sync Now to enrichment, through the download and import
FINISH_TIMEOUT = scaled(90)  # from the last check of a test to the end of the sync


def enriching_midway(client: AppClient, *, upto: int) -> dict | None:
    """The status once enrichment is under way with at most `upto` albums done, else None; a
    sync that ended already fails the test."""
    status = client.status()
    assert status["status"] not in TERMINAL_STATUSES, status
    midway = status["stage"] == STAGE_ENRICHING and 1 <= status["processed"] <= upto
    return status if midway else None


def wait_enriching(client: AppClient, *, upto: int, timeout: float = ENRICHING_TIMEOUT) -> dict:
    return wait_for(
        lambda: enriching_midway(client, upto=upto),
        timeout=timeout,
        interval=0.05,
        what="enrichment to be under way",
    )


def wait_interrupted(client: AppClient, *, deadline: float) -> dict:
    """The status once the sync reads failed, at the latest by `deadline` (time.monotonic())."""

    def interrupted() -> dict | None:
        status = client.status()
        return status if status["status"] == "failed" else None

    return wait_for(
        interrupted,
        timeout=max(0.0, deadline - time.monotonic()),
        interval=0.2,
        what="the status to read interrupted",
    )


def wait_finished(client: AppClient, *, timeout: float = FINISH_TIMEOUT) -> dict:
    def finished() -> dict | None:
        status = client.status()
        return status if status["status"] in TERMINAL_STATUSES else None

    return wait_for(finished, timeout=timeout, interval=0.2, what="the sync to finish")


@dataclass(frozen=True)
class SyncRow:
    """What a SyncOperation row says about its run, as stored."""

    id: int
    status: str
    stage: str
    processed: int
    total: int


def sync_row(db: ScratchDatabase, operation_id: int) -> SyncRow:
    [row] = db.query(
        "SELECT id, status, stage, processed, total FROM catalog_syncoperation WHERE id = %s",
        [operation_id],
    )
    return SyncRow(*row)


def wait_row(
    db: ScratchDatabase,
    operation_id: int,
    condition: Callable[[SyncRow], bool],
    *,
    what: str,
    timeout: float = FINISH_TIMEOUT,
) -> SyncRow:
    """The row once `condition` holds, read straight from the database (no web server needed)."""

    def reached() -> SyncRow | None:
        row = sync_row(db, operation_id)
        return row if condition(row) else None

    return wait_for(reached, timeout=timeout, interval=0.1, what=what)
