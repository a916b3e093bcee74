"""The Sync Now panel's own JavaScript in a real browser (Playwright, Debian's headless
Chromium): "Last synced: 2 minutes ago" moves on by itself every minute, without a reload.

The panel is rendered by Django's templates and served to the browser through Playwright's
request routing (static/js/sync.js from disk): no server, no database, and the browser's clock
is Playwright's fake one, so a minute passes in no time. The browser is Debian's Chromium
(tests/conftest.py's browser_type_launch_args).
"""

from __future__ import annotations

import mimetypes
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from catalog.models import SyncOperation
from catalog.sync_panel import SyncPanel

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://sync-panel.test"
TIMEOUT_MS = 15_000


def panel_page(*, finished_at: datetime, now: datetime) -> str:
    """A page with the sync panel (as the album list includes it) after a completed sync."""
    operation = SyncOperation(
        pk=7,
        status=SyncOperation.Status.COMPLETED,
        message="Sync complete: 2 new albums.",
        started_at=finished_at - timedelta(seconds=30),
        finished_at=finished_at,
    )
    panel = SyncPanel(operation=operation, last_synced_at=finished_at, now=now)
    body = render_to_string(
        "catalog/sync_panel.html",
        {"sync_panel": panel, "user": AnonymousUser(), "messages": []},
    )
    return f"<!doctype html><html><head><title>Sync panel</title></head><body>{body}</body></html>"


def serve(page: Page, html: str) -> None:
    """The page at ORIGIN/ and the repository's static files under ORIGIN/static/."""

    def handle(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(body=html, content_type="text/html; charset=utf-8")
        elif path.startswith("/static/") and (ROOT / path.lstrip("/")).is_file():
            file = ROOT / path.lstrip("/")
            route.fulfill(path=file, content_type=mimetypes.guess_type(file.name)[0] or "")
        else:
            route.fulfill(status=404, body="not found")

    page.route(f"{ORIGIN}/**", handle)


def test_last_synced_text_updates_itself_every_minute(page: Page) -> None:
    """ "Last synced: 2 minutes ago" as served becomes "3 minutes ago" one minute later, in the
    same document (sync.js's minute timer), and the <time> keeps the sync's ISO time."""
    page.set_default_timeout(TIMEOUT_MS)
    now = timezone.now()
    finished_at = now - timedelta(minutes=2, seconds=5)
    serve(page, panel_page(finished_at=finished_at, now=now))
    page.clock.install(time=now)

    page.goto(f"{ORIGIN}/")
    page.evaluate("window.__sameDocument = true")
    last_synced = page.locator("#last-synced")
    expect(last_synced).to_have_text(re.compile(r"^\s*Last synced:\s+2\s+minutes ago\s*$"))

    page.clock.fast_forward(60_000)

    expect(last_synced).to_have_text(re.compile(r"^\s*Last synced:\s+3\s+minutes ago\s*$"))
    assert page.evaluate("window.__sameDocument") is True
    assert last_synced.locator("time").get_attribute("datetime") == finished_at.isoformat()
