"""A run's workbook notes in a real browser (Playwright, Debian's headless Chromium): staff open
the collapsible entry on the history page and every note arrives in place, without a page load;
the note text stays text."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.sync_factories import make_operation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 15_000
NOTES = 253


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server) -> dict[str, Any]:
    return {**browser_context_args, "base_url": live_server.url}


def test_opening_a_runs_notes_loads_every_note_in_place(page: Page, staff_user) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    notes = [
        f"2025 Prog-metal, row {n}: length '<i>x</i>' is neither LP nor EP" for n in range(NOTES)
    ]
    operation = make_operation(warnings=notes, warnings_count=NOTES)
    page.goto("/admin/login/?next=/catalog/sync/history/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "curator-password")
    page.click("input[type=submit]")
    page.wait_for_url("**/catalog/sync/history/")
    page.evaluate("window.__sameDocument = true")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    entry = page.locator(f"#sync-notes-{operation.pk}")
    items = entry.locator("li")
    expect(items).to_have_count(0)

    entry.locator("summary").click()

    expect(items).to_have_count(NOTES)
    expect(items.last).to_have_text(
        f"2025 Prog-metal, row {NOTES - 1}: length '<i>x</i>' is neither LP nor EP"
    )
    assert entry.locator("i").count() == 0  # the markup in a note is shown, never parsed
    assert page.evaluate("window.__sameDocument === true")
    entry.locator("summary").click()  # closing and opening again asks nothing more
    entry.locator("summary").click()
    expect(items).to_have_count(NOTES)
    assert len([url for url in asked if "/notes/" in url]) == 1
