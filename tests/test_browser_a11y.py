"""axe-core (through the axe-playwright-python package, which bundles axe.min.js and drives the
same Debian Chromium as the other browser tests) finds no serious or critical accessibility
violation on the album list (empty, full, filtered; 375 px and 1280 px wide), the album page, the
sync history, the login page and the sync panel in each state. Minor and moderate findings are
printed (`pytest -s`) so they can be reviewed, not hidden."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from catalog.models import SyncOperation
from catalog.services import importer
from tests.support.factories import make_album, make_genre, make_vocal_style
from tests.support.sync_factories import add_failures, make_operation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Status = SyncOperation.Status
BLOCKING_IMPACTS = {"serious", "critical"}
WIDTHS = (375, 1280)
TIMEOUT_MS = 15_000


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server) -> dict[str, Any]:
    return {**browser_context_args, "base_url": live_server.url}


def check(page: Page, label: str) -> None:
    """Run axe on the loaded page: fail on serious/critical violations, print the rest."""
    page.wait_for_load_state("load")
    results = Axe().run(page)
    violations = results.response["violations"]
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"]]
        impact = violation["impact"]
        print(f"axe {label}: {violation['id']} ({impact}) x{len(targets)} {targets[:3]}")
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{label}:\n" + results.generate_report()


def catalog(count: int = 30) -> None:
    genres = [make_genre("Djent"), make_genre("Progressive metal")]
    make_vocal_style("Harsh")
    make_vocal_style("Clean")
    for _ in range(count):
        make_album(genres=genres)


def log_in(page: Page) -> None:
    page.goto("/admin/login/?next=/catalog/albums/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "curator-password")
    page.click("input[type=submit]")
    page.wait_for_url("**/catalog/albums/")


@pytest.mark.parametrize("width", WIDTHS)
def test_album_list_has_no_serious_violations(page: Page, width: int) -> None:
    """The list, empty, then full, then filtered, at a phone's and a desktop's width."""
    page.set_default_timeout(TIMEOUT_MS)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/catalog/albums/")
    check(page, f"album list empty {width}px")
    catalog()
    page.goto("/catalog/albums/")
    check(page, f"album list full {width}px")
    page.goto("/catalog/albums/?genre=djent&vocal=harsh&year=2025&q=Album")
    check(page, f"album list filtered {width}px")


def test_detail_history_and_login_have_no_serious_violations(page: Page, staff_user) -> None:
    """The album page, the history with a finished and a failed run, and the login page."""
    page.set_default_timeout(TIMEOUT_MS)
    album = make_album(genres=[make_genre("Djent")])
    add_failures(make_operation(failed_count=2), 2)
    make_operation(status=Status.FAILED, error="The workbook could not be read")
    page.goto(f"/catalog/albums/{album.pk}/")
    check(page, "album detail")
    page.goto("/admin/login/?next=/catalog/albums/")
    check(page, "login")
    log_in(page)
    page.goto("/catalog/sync/history/")
    check(page, "history (staff)")


PANEL_STATES = {
    "running": {
        "status": Status.RUNNING,
        "stage": importer.STAGE_ENRICHING,
        "processed": 4,
        "total": 10,
        "message": "Syncing album 4 of 10...",
    },
    "completed": {
        "status": Status.COMPLETED,
        "created_count": 30,
        "message": "Sync complete: 30 new albums.",
    },
    "warnings": {"status": Status.COMPLETED, "failed_count": 2, "warnings": ["Row 9: no date"]},
    "failed": {"status": Status.FAILED, "error": "The workbook could not be read"},
    "cancelled": {"status": Status.CANCELLED, "created_count": 3, "message": "Sync cancelled"},
}


@pytest.mark.parametrize("state", PANEL_STATES)
def test_sync_panel_has_no_serious_violations(page: Page, staff_user, state: str) -> None:
    """The panel, as staff see it (buttons, progress bar, failure lists opened), in each state."""
    page.set_default_timeout(TIMEOUT_MS)
    catalog(5)
    operation = make_operation(**PANEL_STATES[state])
    if operation.failed_count:
        add_failures(operation, operation.failed_count)
    log_in(page)
    page.goto("/catalog/albums/")
    page.locator("#sync-panel details").evaluate_all("nodes => nodes.forEach(n => n.open = true)")
    check(page, f"panel {state}")
