"""The album list in a real browser (Playwright, Debian's headless Chromium): filters through
HTMX without a page load, shareable URLs, chips, the genre search box, the filter options
refreshed after a sync, and the layout (no sideways scroll, even checkbox columns)."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from catalog.models import Album
from catalog.views import ALBUMS_PER_PAGE
from tests.support.factories import make_album, make_genre, make_vocal_style

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


MAY_2024 = datetime.date(2024, 5, 1)


def selected_values(page: Page, select: str) -> list[str]:
    """The values the browser holds selected (its state, not the `selected` attributes)."""
    return page.evaluate(
        f"[...document.querySelectorAll('{select} option')].filter(o => o.selected)"
        ".map(o => o.value)"
    )


def test_sync_completed_brings_the_filter_options_and_keeps_the_focus(albums_page: Page):
    """After the first sync the genre, vocal style and year options appear without a reload;
    the search box keeps the focus and the chosen format stays."""
    open_list(albums_page, "?format=LP")
    expect(albums_page.locator(".genre-empty")).to_be_visible()
    expect(albums_page.locator("#filter-genre")).to_be_hidden()
    expect(albums_page.locator("#vocal-options")).to_have_text("None yet")
    make_album(
        title="First Synced",
        genres=[make_genre("Djent")],
        vocal_style=make_vocal_style("Harsh"),
        release_date=datetime.date(2024, 5, 1),
    )
    albums_page.focus("#filter-q")

    albums_page.evaluate("htmx.trigger(document.body, 'syncCompleted')")

    expect(albums_page.locator(".album-tile")).to_have_count(1)
    expect(albums_page.locator("#filter-genre")).to_be_visible()
    expect(albums_page.locator("#filter-genre option")).to_have_text(["Djent (1)"])
    expect(albums_page.locator(".genre-empty")).to_be_hidden()
    expect(albums_page.locator("#vocal-options input[value=harsh]")).to_be_visible()
    expect(albums_page.locator("#filter-year option")).to_have_text(["Any year", "2024"])
    expect(albums_page.locator("#filter-format")).to_have_value("LP")
    assert albums_page.evaluate("document.activeElement.id") == "filter-q"
    assert still_same_document(albums_page)


def test_sync_completed_keeps_exactly_the_chosen_options_selected(albums_page: Page):
    """The refreshed genre and year lists hold selected what the URL asks for, and nothing
    else (swapped options once arrived all selected)."""
    make_album(genres=[make_genre("Djent"), make_genre("Zeuhl")], release_date=MAY_2024)
    make_album(genres=[make_genre("Sludge")], release_date=datetime.date(2023, 5, 1))
    open_list(albums_page, "?year=2024")
    make_album(genres=[make_genre("Post-Punk")], release_date=datetime.date(2022, 5, 1))

    albums_page.evaluate("htmx.trigger(document.body, 'syncCompleted')")

    expect(albums_page.locator("#filter-year option")).to_have_count(4)
    assert selected_values(albums_page, "#filter-genre") == []
    assert selected_values(albums_page, "#filter-year") == ["2024"]
    assert still_same_document(albums_page)


def test_quick_filter_changes_end_on_the_last_one_without_console_errors(albums_page: Page):
    """Changing a filter again before the results arrive queues the request: the last choice
    wins and nothing is logged as an error (an aborted request would be)."""
    make_album(title="The EP", format=Album.Format.EP)
    make_album(title="The LP", format=Album.Format.LP, release_date=datetime.date(2024, 1, 1))
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    albums_page.on("console", record)
    open_list(albums_page)

    for value in ["EP", "LP", "", "LP", "EP"]:
        albums_page.select_option("#filter-format", value)

    expect_path(albums_page, "/catalog/albums/?format=EP")
    # A locator, not wait_for_function: its string predicate is eval'd, which the site's
    # Content-Security-Policy forbids.
    expect(albums_page.locator(".htmx-request")).to_have_count(0)
    assert tile_titles(albums_page) == ["The EP"]
    assert errors == []


def test_artist_name_opens_the_artist_page(albums_page: Page):
    """The artist's name on a tile (above the tile's own link) opens that artist's albums."""
    haken = make_album(title="By Haken", artist="Haken").artist
    make_album(title="By Leprous", artist="Leprous")
    open_list(albums_page)

    albums_page.get_by_role("link", name="Haken", exact=True).click()

    expect_path(albums_page, f"/catalog/artists/{haken.pk}/")
    expect(albums_page.locator(".album-tile")).to_have_count(1)
    expect(albums_page.get_by_role("heading", name="Haken", exact=True)).to_be_visible()


@pytest.mark.parametrize("width", [375, 768, 1280])
def test_vocal_style_checkboxes_sit_in_even_columns(albums_page: Page, width: int):
    """The vocal style checkboxes form a grid (every row as full as the first but the last)
    whose columns hold their labels."""
    for name in ["Clean", "Harsh", "Instrumental", "Instrumental/Harsh", "Mixed"]:
        make_album(vocal_style=make_vocal_style(name))
    albums_page.set_viewport_size({"width": width, "height": 900})
    open_list(albums_page)
    albums_page.evaluate("document.querySelector('.filters__more').open = true")

    lefts = albums_page.eval_on_selector_all(
        "#vocal-options .check",
        "labels => labels.map(label => Math.round(label.getBoundingClientRect().left))",
    )
    columns = sorted(set(lefts))
    assert lefts == [columns[n % len(columns)] for n in range(len(lefts))]
    overflowing = albums_page.eval_on_selector_all(
        "#vocal-options .check",
        "labels => labels.filter(label => label.scrollWidth > label.clientWidth).length",
    )
    assert overflowing == 0


@pytest.mark.parametrize("width", [1024, 1280, 1920])
def test_search_placeholder_is_not_cut_off(albums_page: Page, width: int):
    """The search box is wide enough for its whole placeholder beside the Search button."""
    albums_page.set_viewport_size({"width": width, "height": 900})
    open_list(albums_page)

    spare = albums_page.eval_on_selector(
        "#filter-q",
        """input => {
          const style = getComputedStyle(input);
          const context = document.createElement("canvas").getContext("2d");
          context.font = style.font;
          const room = input.clientWidth - parseFloat(style.paddingLeft)
            - parseFloat(style.paddingRight);
          return room - context.measureText(input.placeholder).width;
        }""",
    )
    assert spare >= 0


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


@pytest.mark.parametrize("width", [375, 1280])
def test_pager_fits_on_two_rows(albums_page: Page, width: int, monkeypatch):
    """Previous, next and the nearby pages of a long list take two rows at most on a phone."""
    monkeypatch.setattr("catalog.views.ALBUMS_PER_PAGE", 2)
    for day in range(40):
        make_album(release_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=day))
    albums_page.set_viewport_size({"width": width, "height": 900})

    albums_page.goto("/catalog/albums/?page=7")

    rows = albums_page.evaluate(
        """() => new Set([...document.querySelectorAll(
            '.pagination a, .pagination__current, .pagination__gap')]
            .map(el => Math.round(el.getBoundingClientRect().top))).size"""
    )
    assert rows <= 2
    assert albums_page.evaluate("document.documentElement.scrollWidth") == width


def test_logging_in_from_the_header_returns_to_the_page_as_filtered(albums_page: Page, staff_user):
    """The header's "Log in" leads back to the list as it is when clicked (a filter picked
    through htmx included), now with the staff controls; "Log out" returns there too."""
    make_album(title="The EP", format=Album.Format.EP)
    make_album(title="The LP", format=Album.Format.LP, release_date=datetime.date(2024, 1, 1))
    open_list(albums_page)
    albums_page.select_option("#filter-format", "EP")
    expect_path(albums_page, "/catalog/albums/?format=EP")

    albums_page.get_by_role("link", name="Log in").click()
    albums_page.fill("#id_username", "curator")
    albums_page.fill("#id_password", "curator-password")
    albums_page.get_by_role("button", name="Log in").click()

    expect_path(albums_page, "/catalog/albums/?format=EP")
    assert tile_titles(albums_page) == ["The EP"]
    expect(albums_page.locator("#sync-button")).to_be_visible()

    albums_page.select_option("#filter-format", "LP")
    expect_path(albums_page, "/catalog/albums/?format=LP")
    albums_page.get_by_role("button", name="Log out").click()
    expect_path(albums_page, "/catalog/albums/?format=LP")
    expect(albums_page.get_by_role("link", name="Log in")).to_be_visible()
