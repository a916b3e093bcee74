"""Waits the real-process tests share: a sync under way in enrichment, a sync read as
interrupted, a sync finished. Each polls the status JSON through an `AppClient`, bounded."""

from __future__ import annotations

import time

from catalog.services.importer import STAGE_ENRICHING
from tests.support.e2e.client import TERMINAL_STATUSES, AppClient
from tests.support.e2e.servers import wait_for


def enriching_midway(client: AppClient, *, upto: int) -> dict | None:
    """The status once enrichment is under way with at most `upto` albums done, else None; a
    sync that ended already fails the test."""
    status = client.status()
    assert status["status"] not in TERMINAL_STATUSES, status
    midway = status["stage"] == STAGE_ENRICHING and 1 <= status["processed"] <= upto
    return status if midway else None


def wait_enriching(client: AppClient, *, upto: int, timeout: float = 60) -> dict:
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


def wait_finished(client: AppClient, *, timeout: float = 90) -> dict:
    def finished() -> dict | None:
        status = client.status()
        return status if status["status"] in TERMINAL_STATUSES else None

    return wait_for(finished, timeout=timeout, interval=0.2, what="the sync to finish")
