"""Sync Now in a real browser (Playwright, Debian's headless Chromium) against gunicorn, with
loopback stand-ins for the workbook and Spotify."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from catalog.services.sync import SPOTIFY_NOT_CONFIGURED
from tests.e2e.conftest import LiveApp, StartApp
from tests.support.e2e.catalog_data import half_written, releases, workbook
from tests.support.e2e.client import ALBUMS_PATH, STATUS_PATH
from tests.support.e2e.deadlines import scaled
from tests.support.processes import STAFF_PASSWORD, STAFF_USERNAME, start_manage
from tests.support.spotify_standin import SpotifyStandIn
from tests.support.workbook_server import WorkbookServer
from tests.support.workbooks import ReleaseSpec

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SYNC_TIMEOUT_MS = round(scaled(45) * 1000)  # a whole sync (or up to its enrichment) when busy
QUIET_SECONDS = 5  # no status poll may follow completion within this window
# Each Spotify lookup is held this long until a test has seen what it waits for (then it sets the
# latency to 0): enrichment outlasts any poll, however busy the machine. The app's lookup
# timeout is raised above it (APP_ENV).
HELD_LOOKUP = scaled(3.0)
APP_ENV = {"SPOTIFY_TIMEOUT": str(round(scaled(30)))}
COMMAND_TIMEOUT = scaled(60)
CANCELLED = re.compile(r"Sync cancelled after (\d+) of (\d+) albums")
# The importer's stage messages (catalog/services/importer.py).
PROGRESS = re.compile(
    r"Fetching albums from Google Sheets|Syncing album \d+ of \d+|"
    r"Enriching with Spotify metadata|Finalizing synchronization"
)

# Records each distinct text of #sync-message, however briefly shown (the panel swaps itself).
RECORD_MESSAGES = """() => {
  window.__syncMessages = [];
  const record = () => {
    const element = document.querySelector('#sync-message');
    const text = element ? element.textContent.replace(/\\s+/g, ' ').trim() : '';
    const seen = window.__syncMessages;
    if (text && seen[seen.length - 1] !== text) seen.push(text);
  };
  new MutationObserver(record).observe(
    document.body, {subtree: true, childList: true, characterData: true}
  );
  record();
}"""


# Whether the panel has shown two different progress messages (RECORD_MESSAGES records them);
# its argument is PROGRESS.pattern.
TWO_PROGRESS_MESSAGES = """pattern => new Set(
  window.__syncMessages.filter(text => new RegExp(pattern).test(text))
).size >= 2"""


def log_in(page: Page, app: LiveApp) -> None:
    page.goto(f"{app.url}/admin/login/?next={ALBUMS_PATH}")
    page.fill("#id_username", STAFF_USERNAME)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(app.url + ALBUMS_PATH)


def slow_sync(
    workbook_server: WorkbookServer, standin: SpotifyStandIn, *, albums: int
) -> list[ReleaseSpec]:
    """A workbook of `albums` releases, each enriched by a Spotify request held HELD_LOOKUP
    seconds (start the app with APP_ENV)."""
    specs = releases(albums, prefix=f"browser{albums}")
    workbook_server.set_workbook(workbook(specs))
    # "Fetching albums from Google Sheets..." outlasts the panel's first poll (after 2 s).
    workbook_server.delay = 2.5
    standin.set_latency(HELD_LOOKUP)
    return specs


def test_sync_now_shows_progress_then_refreshes_the_grid_and_stops_polling(
    page: Page, start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """A staff click on Sync Now disables the button ("Syncing..."), shows at least two progress
    messages, then "Sync complete:"; the grid shows the new albums without a navigation, the
    button is enabled again and no status request is made in the 5 s after completion."""
    specs = slow_sync(workbook_server, standin, albums=10)
    app = start_app(workers=2, env=APP_ENV)
    log_in(page, app)

    button = page.locator("#sync-button")
    message = page.locator("#sync-message")
    tiles = page.locator("#album-grid article.album-tile[data-album-id]")
    expect(button).to_have_text("Sync Now")
    expect(button).to_be_enabled()
    expect(page.locator("article.album-tile")).to_have_count(0)

    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    status_requests: list[float] = []

    def on_request(request: Request) -> None:
        if urlsplit(request.url).path == STATUS_PATH:
            status_requests.append(time.monotonic())

    page.on("request", on_request)
    page.evaluate("window.__e2eMarker = 'before-sync'")
    page.evaluate(RECORD_MESSAGES)

    expect(page.locator(".empty-state")).to_contain_text("Press Sync Now above")
    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_text("Syncing...")
    # The empty catalog no longer asks for the click it just got.
    expect(page.locator(".empty-state")).to_contain_text("A sync is running")
    page.wait_for_function(TWO_PROGRESS_MESSAGES, arg=PROGRESS.pattern, timeout=SYNC_TIMEOUT_MS)
    standin.set_latency(0)
    expect(message).to_contain_text("Sync complete:", timeout=SYNC_TIMEOUT_MS)
    completed_at = time.monotonic()

    expect(tiles).to_have_count(len(specs))
    expect(page.locator("#album-grid")).to_contain_text(str(specs[0].album))
    expect(button).to_be_enabled()
    expect(button).to_have_text("Sync Now")
    assert page.evaluate("window.__e2eMarker") == "before-sync"
    assert navigations == []

    seen = page.evaluate("window.__syncMessages")
    progress = {text for text in seen if PROGRESS.search(text)}
    assert len(progress) >= 2, seen
    assert status_requests, "the panel never polled the status"

    page.wait_for_timeout(QUIET_SECONDS * 1000)  # the observation window itself, not a wait
    late = [at - completed_at for at in status_requests if at > completed_at]
    assert late == [], f"status requested {late} s after completion"
    assert page.evaluate("window.__e2eMarker") == "before-sync"


def test_missing_spotify_credentials_are_reported_in_the_panel(
    page: Page, start_app: StartApp, workbook_server: WorkbookServer
) -> None:
    """With enrichment on and no Spotify credentials, Sync Now shows SPOTIFY_NOT_CONFIGURED in the
    panel, starts nothing and leaves the button enabled."""
    workbook_server.set_workbook(workbook(releases(3, prefix="nocreds")))
    app = start_app(workers=1, spotify=False)
    log_in(page, app)

    page.locator("#sync-button").click()
    expect(page.locator("#sync-panel")).to_contain_text(SPOTIFY_NOT_CONFIGURED)
    expect(page.locator("#sync-button")).to_be_enabled()
    expect(page.locator("#sync-button")).to_have_text("Sync Now")
    assert [row for row in app.sync_operations() if row[1] in ("pending", "running")] == []
    expect(page.locator("article.album-tile")).to_have_count(0)


def test_reload_mid_sync_shows_the_sync_still_in_progress(
    page: Page, start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """A page reload during a sync renders it in progress at once (button disabled, a progress
    message), and the reloaded page follows it to completion."""
    specs = slow_sync(workbook_server, standin, albums=10)
    app = start_app(workers=2, env=APP_ENV)
    log_in(page, app)

    page.locator("#sync-button").click()
    expect(page.locator("#sync-message")).to_contain_text(
        "Enriching with Spotify metadata", timeout=SYNC_TIMEOUT_MS
    )
    page.reload(wait_until="domcontentloaded")

    # As served, before any poll: the page itself knows about the running sync.
    assert page.locator("#sync-button").is_disabled()
    assert page.locator("#sync-button").inner_text().strip() == "Syncing..."
    shown = page.locator("#sync-message").inner_text().strip()
    assert shown
    assert "Sync complete:" not in shown

    standin.set_latency(0)
    expect(page.locator("#sync-message")).to_contain_text("Sync complete:", timeout=SYNC_TIMEOUT_MS)
    expect(page.locator("#sync-button")).to_be_enabled()
    expect(page.locator("#album-grid article.album-tile")).to_have_count(len(specs))


def test_cancel_mid_sync_reports_how_far_it_got_and_enables_the_button(
    page: Page, start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """Cancel during enrichment ends the sync "Sync cancelled after N of M albums" (N < M),
    re-enables Sync Now, and the albums written so far are whole."""
    specs = slow_sync(workbook_server, standin, albums=12)
    app = start_app(workers=2, env=APP_ENV)
    log_in(page, app)
    page.on("dialog", lambda dialog: dialog.accept())  # in case the cancel asks to confirm

    page.locator("#sync-button").click()
    expect(page.locator("#sync-message")).to_contain_text(
        "Enriching with Spotify metadata", timeout=SYNC_TIMEOUT_MS
    )
    page.locator("#sync-cancel").click()

    message = page.locator("#sync-message")
    expect(message).to_have_text(CANCELLED, timeout=SYNC_TIMEOUT_MS)
    match = CANCELLED.search(message.inner_text())
    assert match is not None
    assert int(match.group(1)) < int(match.group(2))
    expect(page.locator("#sync-button")).to_be_enabled()
    expect(page.locator("#sync-button")).to_have_text("Sync Now")
    expect(page.locator("#sync-cancel")).to_be_hidden()
    assert [row[1] for row in app.sync_operations()] == ["cancelled"]
    assert half_written(app.db, specs) == []


RECORD_ANNOUNCEMENTS = """() => {
  const node = document.getElementById("sync-announcer");
  node.__persistent = "same-node";
  window.__announced = [];
  new MutationObserver(() => {
    const text = node.textContent.trim();
    if (text) window.__announced.push(text);
  }).observe(node, {subtree: true, childList: true, characterData: true});
}"""


def test_status_region_is_one_node_whose_text_follows_the_stages(
    page: Page, start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """The role=status node is never replaced across polls (a property set on it survives the
    whole sync), it is outside the swapped panel, and its text changes with the stage and then
    says the outcome, each once: counts alone do not re-announce."""
    slow_sync(workbook_server, standin, albums=10)
    app = start_app(workers=2, env=APP_ENV)
    log_in(page, app)
    announcer = page.locator("#sync-announcer")
    expect(announcer).to_have_attribute("role", "status")
    assert page.locator("#sync-panel #sync-announcer").count() == 0
    page.evaluate(RECORD_ANNOUNCEMENTS)

    page.locator("#sync-button").click()
    expect(announcer).to_have_text("Sync: adding Spotify data.", timeout=SYNC_TIMEOUT_MS)
    standin.set_latency(0)
    expect(page.locator("#sync-message")).to_contain_text("Sync complete:", timeout=SYNC_TIMEOUT_MS)
    expect(announcer).to_contain_text("Sync complete:")

    assert page.evaluate("document.getElementById('sync-announcer').__persistent") == "same-node"
    announced = page.evaluate("window.__announced")
    assert "Sync: adding Spotify data." in announced, announced
    assert announced[-1].startswith("Sync complete:"), announced
    assert len(announced) == len(set(announced)), f"an announcement repeated: {announced}"
    assert page.locator("#sync-alert").text_content() == ""


# Records each status request htmx sends (its argument is STATUS_PATH): whether the tab was
# hidden then, and whether it left while SHOW_TAB dispatched visibilitychange. Read in the page,
# a check sent just before the tab was hidden cannot pass for one sent after, and the check the
# tab's showing sends cannot be mistaken for the next tick of the idle timer.
RECORD_STATUS_CHECKS = """path => {
  window.__statusChecks = [];
  document.body.addEventListener('htmx:configRequest', event => {
    if (event.detail.path !== path) return;
    window.__statusChecks.push({hidden: document.hidden, onShowing: window.__showingTab === true});
  });
}"""
SHOW_TAB = """() => {
  Object.defineProperty(document, 'hidden', {value: false, configurable: true});
  window.__showingTab = true;
  try {
    document.dispatchEvent(new Event('visibilitychange'));
  } finally {
    window.__showingTab = false;
  }
}"""


def test_an_open_page_follows_a_sync_started_from_the_shell(
    page: Page, start_app: StartApp, workbook_server: WorkbookServer, standin: SpotifyStandIn
) -> None:
    """A visitor's list page, opened before anything ran, notices `manage.py import_albums`
    started in a shell (a real process on the same database): the panel follows it with its
    progress and the grid fills when it completes, without a reload. While the tab is hidden the
    idle check is not sent; it is sent at once when the tab shows again."""
    specs = slow_sync(workbook_server, standin, albums=6)
    app = start_app(workers=2, env={**APP_ENV, "SYNC_IDLE_CHECK_SECONDS": "2"})
    page.goto(app.url + ALBUMS_PATH)
    page.evaluate("window.__e2eMarker = 'opened'")
    panel = page.locator("#sync-panel")
    expect(panel).to_have_attribute("data-sync-state", "never")
    page.evaluate(RECORD_STATUS_CHECKS, STATUS_PATH)

    # Hidden: no idle check for three intervals; shown again: one at once, sent for the event.
    page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true})")
    page.wait_for_timeout(6000)  # the observation window itself
    checks = page.evaluate("window.__statusChecks")
    assert [check for check in checks if check["hidden"]] == [], checks
    page.evaluate(SHOW_TAB)
    checks = page.evaluate("window.__statusChecks")
    assert any(check["onShowing"] for check in checks), f"no check when the tab showed: {checks}"

    command = start_manage("import_albums", env=app.server.env)
    try:
        expect(panel).to_have_attribute(
            "data-sync-state", re.compile("pending|running"), timeout=SYNC_TIMEOUT_MS
        )
        standin.set_latency(0)
        expect(page.locator("#sync-message")).to_contain_text(
            "Sync complete:", timeout=SYNC_TIMEOUT_MS
        )
        expect(page.locator("#album-grid article.album-tile[data-album-id]")).to_have_count(
            len(specs)
        )
        assert page.locator("#sync-finished").inner_text().endswith("from the command line")
        assert page.evaluate("window.__e2eMarker") == "opened"
        _, stderr = command.communicate(timeout=COMMAND_TIMEOUT)
        assert command.returncode == 0, stderr
    finally:
        if command.poll() is None:
            command.kill()


def test_staff_confirm_a_large_removal_from_the_panel(
    page: Page, start_app: StartApp, workbook_server: WorkbookServer
) -> None:
    """A workbook that lost most of its rows: the sync keeps every album visible and says so;
    the staff's confirm button (a CSRF-protected POST) runs a sync that hides them."""
    specs = releases(12, prefix="confirm")
    workbook_server.set_workbook(workbook(specs))
    app = start_app(workers=2, spotify=False, env={"SPOTIFY_ENABLED": "0"})
    log_in(page, app)
    button = page.locator("#sync-button")
    message = page.locator("#sync-message")
    tiles = page.locator("#album-grid article.album-tile[data-album-id]")
    button.click()
    expect(message).to_contain_text("Sync complete:", timeout=SYNC_TIMEOUT_MS)
    expect(tiles).to_have_count(12)

    workbook_server.set_workbook(workbook(specs[:2]))  # a tab deleted, say: 10 of 12 gone
    button.click()
    expect(message).to_contain_text(
        "Sync completed with warnings: 10 albums are no longer in the workbook; more than 10% "
        "of the catalog, so they stay visible.",
        timeout=SYNC_TIMEOUT_MS,
    )
    expect(tiles).to_have_count(12)
    confirm = page.locator("#sync-confirm-removals-button")
    expect(confirm).to_have_text("Sync and hide the 10 albums no longer in the workbook")

    confirm.click()
    expect(message).to_contain_text("Sync complete:", timeout=SYNC_TIMEOUT_MS)
    expect(tiles).to_have_count(2)
    expect(page.locator("#sync-counts")).to_contain_text("10 removed (no longer in the workbook)")
    expect(confirm).to_have_count(0)
    operations = app.sync_operations()
    assert [status for _, status, _, _ in operations] == ["completed"] * 3
