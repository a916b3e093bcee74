import datetime

import pytest
from django.template import Context, Template

from catalog.forms import SEARCH_MAX_LENGTH
from catalog.models import Album
from catalog.selectors import GenreFacet
from catalog.templatetags.album_tags import (
    UNKNOWN_RELEASE_DATE,
    format_release_date,
    genre_options,
    is_web_url,
    listen_links,
    search_url,
)

DAY = Album.DatePrecision.DAY
MONTH = Album.DatePrecision.MONTH
YEAR = Album.DatePrecision.YEAR


@pytest.mark.parametrize(
    ("precision", "expected"),
    [(DAY, "Jan 15, 2025"), (MONTH, "January 2025"), (YEAR, "2025")],
)
def test_release_date_follows_its_precision(precision, expected):
    """A day date reads "Jan 15, 2025", a month date "January 2025", a year date "2025"."""
    assert format_release_date(datetime.date(2025, 1, 15), precision) == expected


def test_single_digit_day_has_no_leading_zero():
    """Days are written without a leading zero."""
    assert format_release_date(datetime.date(2024, 9, 3), DAY) == "Sep 3, 2024"


def test_missing_date_falls_back_to_the_year():
    """Without a date, the year is shown when it is known."""
    assert format_release_date(None, DAY, 2023) == "2023"


def test_missing_date_and_year_says_unknown():
    """Without a date or year, the date is called unknown."""
    assert format_release_date(None, DAY, None) == UNKNOWN_RELEASE_DATE


def render(source: str, **context) -> str:
    return Template("{% load album_tags %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("precision", "expected"),
    [(DAY, "2025-01-15|Jan 15, 2025"), (MONTH, "2025-01|January 2025"), (YEAR, "2025|2025")],
)
def test_filters_render_the_date_and_its_machine_readable_form(precision, expected):
    """`release_date` and `release_date_iso` agree on the precision."""
    album = Album(
        release_date=datetime.date(2025, 1, 15), release_date_precision=precision, year=2025
    )

    assert render("{{ album|release_date_iso }}|{{ album|release_date }}", album=album) == expected


def test_iso_form_of_an_undated_album_is_its_year():
    """An album without a date has its year as the machine-readable date."""
    assert render("{{ album|release_date_iso }}", album=Album(release_date=None, year=2022)) == (
        "2022"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://open.spotify.com/album/x", True),
        ("http://band.bandcamp.com/", True),
        ("javascript:alert(1)", False),
        (" JaVaScRiPt:alert(1)", False),
        ("data:text/html,x", False),
        ("/relative", False),
    ],
)
def test_only_http_urls_are_web_urls(url, expected):
    """Links are only http(s)."""
    assert is_web_url(url) is expected


def test_listen_links_in_order_and_without_blanks():
    """Listening links come in a fixed order and skip the missing ones."""
    album = Album(
        amazon_url="https://amazon.com/x",
        spotify_url="https://open.spotify.com/album/x",
        bandcamp_url="",
    )

    assert listen_links(album) == [
        ("Spotify", "https://open.spotify.com/album/x"),
        ("Amazon", "https://amazon.com/x"),
    ]


def test_genre_options_escape_and_mark_the_selection():
    """Genre options escape names and slugs, show counts and select the chosen ones."""
    facets = [
        GenreFacet(slug="djent", name="Djent", album_count=12),
        GenreFacet(slug="x", name='<b>"Loud"</b>', album_count=1),
    ]

    html = genre_options(facets, ["djent"])

    assert html == (
        '<option value="djent" selected>Djent (12)</option>'
        '<option value="x">&lt;b&gt;&quot;Loud&quot;&lt;/b&gt; (1)</option>'
    )


def test_search_url_searches_the_list_for_the_text():
    """`search_url` is the album list's URL searching for the text, query-encoded."""
    assert search_url("Dream & Theatre") == "/catalog/albums/?q=Dream+%26+Theatre"


def test_search_url_cuts_the_text_to_what_the_search_accepts():
    """A name longer than the search box accepts is cut, so the link still searches."""
    assert (
        search_url("x" * (SEARCH_MAX_LENGTH + 20))
        == f"/catalog/albums/?q={'x' * SEARCH_MAX_LENGTH}"
    )
