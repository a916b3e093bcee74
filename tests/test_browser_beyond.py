"""The upcoming releases page and the album page's click-to-load player in a real browser
(Playwright, Debian's headless Chromium). Requests to Spotify are answered by a stand-in
route, and recorded: no test reaches the internet."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Request, Route, expect

from catalog.models import Album
from tests.support.factories import make_album, make_genre

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT_MS = 15_000
NO_RELOAD_MARK = "window.__sameDocument = true"
SPOTIFY_ID = "4aawyAB9vmqN3uQ7FjRGTy"


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server) -> dict[str, Any]:
    return {**browser_context_args, "base_url": live_server.url}


@pytest.fixture
def spotify_requests(page: Page) -> list[str]:
    """Every request the page makes to a host other than the live server, answered here by a
    small stand-in page instead of the network."""
    seen: list[str] = []

    def answer(route: Route, request: Request) -> None:
        seen.append(request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>Spotify stand-in</p>")

    page.route(re.compile(r"^https?://(?!(localhost|127\.0\.0\.1)[:/]).*"), answer)
    return seen


@pytest.fixture
def browser_page(page: Page, spotify_requests: list[str]) -> Page:
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return page


def in_days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def test_upcoming_page_groups_by_month_and_filters_in_place(browser_page: Page):
    """Month sections soonest first; a filter swaps the results without a page load, puts
    the filter in the address bar and in the calendar link."""
    djent = make_genre("Djent")
    make_album(title="Tomorrow", release_date=in_days(1), genres=[djent])
    make_album(title="Far off", release_date=in_days(70), format=Album.Format.EP)
    make_album(title="Yesterday", release_date=in_days(-1))
    make_album(title="Today", release_date=timezone.localdate())

    browser_page.goto("/catalog/upcoming/")
    browser_page.evaluate(NO_RELOAD_MARK)

    titles = browser_page.locator(".album-tile__title").all_inner_texts()
    assert titles == ["Tomorrow", "Far off"]
    headings = browser_page.locator(".month-group__title").all_inner_texts()
    assert len(headings) == 2
    assert headings[0] == in_days(1).strftime("%B %Y")

    browser_page.select_option("#filter-format", "EP")

    expect(browser_page).to_have_url(re.compile(r"/catalog/upcoming/\?format=EP$"))
    expect(browser_page.locator(".album-tile")).to_have_count(1)
    expect(browser_page.locator(".album-tile__title")).to_have_text("Far off")
    expect(browser_page.get_by_role("link", name="Download the .ics file")).to_have_attribute(
        "href", "/catalog/upcoming.ics?format=EP"
    )
    assert browser_page.evaluate("window.__sameDocument === true")


def test_upcoming_page_is_reached_from_the_header(browser_page: Page):
    make_album(title="Soon", release_date=in_days(3))
    browser_page.goto("/catalog/albums/")

    browser_page.get_by_role("navigation", name="Site").get_by_role("link", name="Upcoming").click()

    expect(browser_page.get_by_role("heading", level=1)).to_have_text("Upcoming releases")
    expect(browser_page.locator(".album-tile__title")).to_have_text("Soon")


def test_player_loads_only_when_asked(browser_page: Page, spotify_requests: list[str]):
    """Opening the album page sends Spotify nothing; the button brings the embedded player,
    which takes the focus."""
    album = make_album(
        spotify_album_id=SPOTIFY_ID, spotify_url=f"https://open.spotify.com/album/{SPOTIFY_ID}"
    )

    browser_page.goto(f"/catalog/albums/{album.pk}/")
    browser_page.wait_for_load_state("networkidle")
    button = browser_page.get_by_role("button", name=re.compile("Play here"))
    expect(button).to_be_visible()
    assert spotify_requests == []
    assert browser_page.locator("iframe").count() == 0

    button.click()

    frame = browser_page.locator("iframe.player__frame")
    expect(frame).to_have_attribute("src", f"https://open.spotify.com/embed/album/{SPOTIFY_ID}")
    expect(frame).to_be_focused()
    expect(browser_page.frame_locator("iframe.player__frame").locator("p")).to_have_text(
        "Spotify stand-in"
    )
    assert spotify_requests == [f"https://open.spotify.com/embed/album/{SPOTIFY_ID}"]
    expect(button).to_have_count(0)


def test_without_javascript_the_plain_link_remains(browser, live_server):
    """No script: no dead button, the Spotify link is there."""
    album = make_album(
        spotify_album_id=SPOTIFY_ID, spotify_url=f"https://open.spotify.com/album/{SPOTIFY_ID}"
    )
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto(f"/catalog/albums/{album.pk}/")
        expect(page.get_by_role("button", name=re.compile("Play here"))).to_be_hidden()
        expect(page.get_by_role("link", name="Spotify")).to_have_attribute(
            "href", f"https://open.spotify.com/album/{SPOTIFY_ID}"
        )
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_new_pages_have_no_serious_accessibility_violations(browser_page: Page, width: int):
    """axe (tests/test_browser_a11y.py) on the upcoming page, the statistics and an album page
    whose player is loaded."""
    from tests.test_browser_a11y import check

    browser_page.set_viewport_size({"width": width, "height": 900})
    make_album(release_date=in_days(2), genres=[make_genre("Djent")])
    album = make_album(release_date=in_days(40), spotify_album_id=SPOTIFY_ID)

    browser_page.goto("/catalog/upcoming/")
    check(browser_page, f"upcoming {width}px")
    browser_page.goto("/catalog/stats/")
    check(browser_page, f"statistics {width}px")
    browser_page.goto(f"/catalog/albums/{album.pk}/")
    browser_page.get_by_role("button", name=re.compile("Play here")).click()
    expect(browser_page.locator("iframe.player__frame")).to_be_attached()
    check(browser_page, f"album with player {width}px")


def test_sort_menu_reorders_in_place_and_shows_a_chip(browser_page: Page):
    """Choosing an order swaps the results without a page load, puts it in the address bar
    and shows it as a chip, which puts the default order back."""
    make_album(title="Old", release_date=datetime.date(2001, 1, 1))
    make_album(title="New", release_date=datetime.date(2024, 1, 1))
    browser_page.goto("/catalog/albums/")
    browser_page.evaluate(NO_RELOAD_MARK)
    assert browser_page.locator(".album-tile__title").all_inner_texts() == ["New", "Old"]

    browser_page.select_option("#filter-sort", "oldest")

    expect(browser_page).to_have_url(re.compile(r"/catalog/albums/\?sort=oldest$"))
    expect(browser_page.locator(".album-tile__title").first).to_have_text("Old")
    chip = browser_page.locator(".chip", has_text="Sort: Oldest release")
    expect(chip).to_be_visible()
    assert browser_page.evaluate("window.__sameDocument === true")

    chip.click()

    expect(browser_page).to_have_url(re.compile(r"/catalog/albums/$"))
    expect(browser_page.locator(".album-tile__title").first).to_have_text("New")
    expect(browser_page.locator("#filter-sort")).to_have_value("")
