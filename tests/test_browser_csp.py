"""The Content-Security-Policy holds in a real browser: Chromium reports no violation on the
pages a visitor and a staff member use, and htmx still works under it (a search swaps the
results). The idle check, moved out of an htmx trigger filter for this policy, is followed in
tests/e2e/test_browser_sync.py."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.factories import make_album, make_genre
from tests.support.sync_factories import make_operation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 15_000
# Collects what the browser reports, from before any page script runs.
VIOLATION_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server) -> dict[str, Any]:
    return {**browser_context_args, "base_url": live_server.url}


@pytest.fixture
def watched(page: Page) -> Page:
    page.add_init_script(VIOLATION_RECORDER)
    page.set_default_timeout(TIMEOUT_MS)
    return page


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_a_visitors_pages_raise_no_violation_and_htmx_filters_work(watched: Page) -> None:
    djent = make_genre("Djent")
    album = make_album(genres=[djent], title="Monolith", spotify_album_id="4uLU6hMCjMI75M1A2tKUQC")
    make_album(title="Other")
    make_operation()

    watched.goto("/catalog/albums/")
    with watched.expect_response(lambda r: "q=Monolith" in r.url):
        watched.fill("#filter-q", "Monolith")
    expect(watched.locator("#album-grid article.album-tile")).to_have_count(1)
    assert violations(watched) == []

    for url in (album.get_absolute_url(), "/catalog/upcoming/", "/catalog/stats/"):
        watched.goto(url)
        watched.wait_for_load_state("load")
        assert violations(watched) == [], url


def test_the_staff_login_and_the_admin_raise_no_violation(watched: Page, django_user_model) -> None:
    django_user_model.objects.create_user("curator", password="curator-password", is_staff=True)
    watched.goto("/admin/login/?next=/catalog/albums/")
    watched.fill("#id_username", "curator")
    watched.fill("#id_password", "curator-password")
    watched.click("input[type=submit]")
    watched.wait_for_url("**/catalog/albums/")
    assert violations(watched) == []

    watched.goto("/admin/")
    watched.wait_for_load_state("load")
    assert violations(watched) == []
