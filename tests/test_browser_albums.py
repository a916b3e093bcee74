"""The album list in a real browser (Playwright, Debian's headless Chromium): filters through
HTMX without a page load, shareable URLs, chips, the genre search box, and no sideways scroll."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from catalog.models import Album
from catalog.views import ALBUMS_PER_PAGE
from tests.factories import make_album, make_genre

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT_MS = 15_000  # a loaded 2-core box slows these tests down; it must not fail them
# Set on the window by the test; a full page load would lose it.
NO_RELOAD_MARK = "window.__sameDocument = true"


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server) -> dict[str, Any]:
    return {**browser_context_args, "base_url": live_server.url}


@pytest.fixture
def albums_page(page: Page) -> Page:
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return page


def open_list(page: Page, query: str = "") -> None:
    page.goto(f"/catalog/albums/{query}")
    page.evaluate(NO_RELOAD_MARK)


def expect_path(page: Page, path: str) -> None:
    """The address bar shows `path` (with its query string) on the live server."""
    expect(page).to_have_url(re.compile(r"^https?://[^/]+" + re.escape(path) + "$"))


def still_same_document(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def tile_titles(page: Page) -> list[str]:
    return page.locator(".album-tile__title").all_inner_texts()


def test_changing_a_filter_swaps_the_results_and_pushes_the_url(albums_page: Page):
    """Picking a format updates the grid in place and puts the filter in the address bar."""
    make_album(title="The EP", format=Album.Format.EP)
    make_album(title="The LP", format=Album.Format.LP, release_date=datetime.date(2024, 1, 1))
    open_list(albums_page)

    albums_page.select_option("#filter-format", "EP")

    expect_path(albums_page, "/catalog/albums/?format=EP")
    expect(albums_page.locator(".album-tile")).to_have_count(1)
    assert tile_titles(albums_page) == ["The EP"]
    assert still_same_document(albums_page)


def test_typing_a_search_filters_after_a_pause(albums_page: Page):
    """The search box filters as you type, without empty parameters in the URL."""
    make_album(title="Obsidian Tide")
    make_album(title="Glass Orbit")
    open_list(albums_page)

    albums_page.fill("#filter-q", "obsid")

    expect_path(albums_page, "/catalog/albums/?q=obsid")
    expect(albums_page.locator(".album-tile")).to_have_count(1)
    assert still_same_document(albums_page)


def test_genre_search_box_narrows_the_options_without_filtering(albums_page: Page):
    """Typing in the genre box hides other genres; it does not change the results."""
    djent, doom = make_genre("Djent"), make_genre("Doom Metal")
    make_album(genres=[djent])
    make_album(genres=[doom])
    open_list(albums_page)

    albums_page.fill("#genre-search", "dje")

    visible = albums_page.eval_on_selector_all(
        "#filter-genre option", "options => options.filter(o => !o.hidden).map(o => o.value)"
    )
    assert visible == ["djent"]
    expect(albums_page.locator(".album-tile")).to_have_count(2)
    expect_path(albums_page, "/catalog/albums/")


def test_removing_a_chip_updates_results_and_form(albums_page: Page):
    """A chip's removal shows the wider list and clears that value in the form too."""
    djent = make_genre("Djent")
    make_album(title="Djent EP", genres=[djent], format=Album.Format.EP)
    make_album(title="Djent LP", genres=[djent], release_date=datetime.date(2024, 1, 1))
    open_list(albums_page, "?genre=djent&format=EP")
    expect(albums_page.locator(".album-tile")).to_have_count(1)

    albums_page.locator(".chip", has_text="EP").click()

    expect_path(albums_page, "/catalog/albums/?genre=djent")
    expect(albums_page.locator(".album-tile")).to_have_count(2)
    expect(albums_page.locator("#filter-format")).to_have_value("")
    assert still_same_document(albums_page)


def test_page_links_swap_the_results(albums_page: Page):
    """The next-page link loads page 2 in place and pushes its URL."""
    for day in range(ALBUMS_PER_PAGE + 2):
        make_album(release_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=day))
    open_list(albums_page)

    albums_page.locator(".pagination a[rel=next]").click()

    expect_path(albums_page, "/catalog/albums/?page=2")
    expect(albums_page.locator(".album-tile")).to_have_count(2)
    assert still_same_document(albums_page)


@pytest.mark.parametrize("width", [375, 768, 1920])
def test_no_horizontal_scroll(albums_page: Page, width: int):
    """The list and the detail page fit the window at phone, tablet and desktop widths."""
    album = make_album(
        title="A" * 120,
        artist="Band " + "Name" * 30,
        genres=[make_genre("Avant-Garde Progressive Experimental Technical Death Metal")],
        country="Somewhere, A Very Long Country Name",
    )
    albums_page.set_viewport_size({"width": width, "height": 900})

    for path in ["/catalog/albums/?q=a&format=LP", f"/catalog/albums/{album.pk}/"]:
        albums_page.goto(path)
        assert albums_page.evaluate("document.documentElement.scrollWidth") == width
