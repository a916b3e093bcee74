"""The upcoming releases page: albums after today in the site's time zone, soonest first,
grouped by month, with the album list's filters."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Album
from tests.support.factories import make_album, make_artist, make_genre, make_vocal_style

pytestmark = pytest.mark.django_db

# The empty states' words, from templates/catalog/upcoming.html.
EMPTY_UPCOMING = "No upcoming releases are in the catalog yet"
EMPTY_UPCOMING_FILTERED = "No upcoming releases match these filters"

UPCOMING_URL = reverse("catalog:upcoming")
# Noon UTC on 2026-06-15: "today" for every test here unless it moves the clock itself.
NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
TODAY = NOW.date()
TILE_ID = re.compile(r'class="album-tile[^"]*" data-album-id="(\d+)"')
HEADING = re.compile(r'<h2 id="month-\d+" class="month-group__title">([^<]*)</h2>')


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    """`timezone.localdate()` reads `timezone.now()`: pin it, so "today" is known."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def listed_ids(response) -> list[int]:
    return [int(pk) for pk in TILE_ID.findall(response.content.decode())]


def headings(response) -> list[str]:
    return HEADING.findall(response.content.decode())


def test_lists_albums_after_today_soonest_first(client):
    """Past albums, today's and hidden ones stay out; the rest come soonest first."""
    later = make_album(release_date=days(40))
    soon = make_album(release_date=days(1))
    make_album(release_date=TODAY)
    make_album(release_date=days(-3))
    make_album(release_date=days(5), in_workbook=False)

    response = client.get(UPCOMING_URL)

    assert response.status_code == 200
    assert listed_ids(response) == [soon.pk, later.pk]


def test_groups_by_month_with_dated_releases_first(client):
    """Month headings in order; within a month, dated releases before month-only ones; albums
    known only to their year after that year's months."""
    precision = Album.DatePrecision
    july_month = make_album(release_date=datetime.date(2026, 7, 1), release_date_precision="month")
    july_late = make_album(release_date=datetime.date(2026, 7, 30))
    july_early = make_album(release_date=datetime.date(2026, 7, 2))
    next_year = make_album(release_date=datetime.date(2027, 1, 1), release_date_precision="year")
    undated = make_album(release_date=None, year=2027)
    january = make_album(release_date=datetime.date(2027, 1, 20))
    june = make_album(release_date=datetime.date(2026, 6, 16), release_date_precision=precision.DAY)

    response = client.get(UPCOMING_URL)

    assert headings(response) == ["June 2026", "July 2026", "January 2027", "Sometime in 2027"]
    assert listed_ids(response) == [
        june.pk,
        july_early.pk,
        july_late.pk,
        july_month.pk,
        january.pk,
        next_year.pk,
        undated.pk,
    ]


def test_a_month_or_year_only_date_is_upcoming_only_when_all_of_it_is_ahead(client):
    """ "June 2026" on June 15 may be out already; "July 2026" and "2027" are ahead."""
    make_album(release_date=datetime.date(2026, 6, 1), release_date_precision="month")
    make_album(release_date=datetime.date(2026, 1, 1), release_date_precision="year")
    make_album(release_date=None, year=2026)
    july = make_album(release_date=datetime.date(2026, 7, 1), release_date_precision="month")

    assert listed_ids(client.get(UPCOMING_URL)) == [july.pk]


def test_today_is_the_sites_time_zone_day(client, settings, monkeypatch):
    """At 02:00 UTC on January 1st it is still December 31st in New York: an album out on
    New Year's Day is upcoming there, one out on December 31st is released "today"."""
    settings.TIME_ZONE = "America/New_York"
    monkeypatch.setattr(
        timezone, "now", lambda: datetime.datetime(2027, 1, 1, 2, 0, tzinfo=datetime.UTC)
    )
    make_album(release_date=datetime.date(2026, 12, 31))
    new_year = make_album(release_date=datetime.date(2027, 1, 1))

    assert listed_ids(client.get(UPCOMING_URL)) == [new_year.pk]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"genre": "djent"}, {"genres": "djent"}),
        ({"vocal": "harsh"}, {"vocal_style": "harsh"}),
        ({"list": "prog-rock"}, {"release_list": Album.ReleaseList.PROG_ROCK}),
        ({"format": "EP"}, {"format": Album.Format.EP}),
        ({"debut": "1"}, {"is_debut": True}),
        ({"q": "obsidian"}, {"title": "Obsidian Tide"}),
    ],
)
def test_the_album_lists_filters_apply(client, params, match):
    """Each filter of the album list narrows the upcoming releases the same way."""
    djent, harsh = make_genre("Djent"), make_vocal_style("Harsh")
    values = {
        "genres": [djent],
        "vocal_style": harsh,
        "release_list": Album.ReleaseList.PROG_ROCK,
        "format": Album.Format.EP,
        "is_debut": True,
        "title": "Obsidian Tide",
    }
    field = next(iter(match))
    wanted = make_album(release_date=days(10), **{field: values[field]})
    make_album(release_date=days(11))
    make_album(release_date=days(-10), **{field: values[field]})  # matches, but is out

    assert listed_ids(client.get(UPCOMING_URL, params)) == [wanted.pk]


def test_filters_show_as_chips_and_in_the_form(client):
    """The active filters are chips that keep to the upcoming page."""
    make_album(release_date=days(3), format=Album.Format.EP)

    html = client.get(UPCOMING_URL, {"format": "EP"}).content.decode()

    assert f'href="{UPCOMING_URL}" aria-label="Remove filter: EP"' in html
    assert f'<form id="album-filters" class="filters" method="get" action="{UPCOMING_URL}"' in html
    assert '<option value="EP" selected>' in html


def test_empty_states(client):
    """Nothing ahead says so; filters that match nothing say that and offer to clear them."""
    make_album(release_date=days(-1))

    html = client.get(UPCOMING_URL).content.decode()
    assert EMPTY_UPCOMING in html
    assert "album-tile" not in html

    make_album(release_date=days(2))
    html = client.get(UPCOMING_URL, {"format": "EP"}).content.decode()
    assert EMPTY_UPCOMING_FILTERED in html
    assert "Clear all filters" in html


def test_htmx_request_gets_the_results_fragment(client):
    """The filter form's HTMX request gets the results region (and the subscribe link out of
    band), not the page; a plain request gets the whole page."""
    album = make_album(release_date=days(2))

    fragment = client.get(UPCOMING_URL, headers={"HX-Request": "true"})
    page = client.get(UPCOMING_URL)

    html = fragment.content.decode()
    assert listed_ids(fragment) == [album.pk]
    assert html.lstrip().startswith('<section id="album-results"')
    assert "<html" not in html
    assert '<p id="calendar-subscribe" class="subscribe" hx-swap-oob="true">' in html
    assert "<html" in page.content.decode()
    assert "HX-Request" in fragment["Vary"]


def test_subscribe_link_carries_the_filters(client):
    """The calendar offered is the one for the filters shown."""
    make_album(release_date=days(2), genres=[make_genre("Djent")])

    html = client.get(UPCOMING_URL, {"genre": "djent"}).content.decode()

    assert 'href="webcal://progmetal.example/catalog/upcoming.ics?genre=djent"' in html
    assert 'href="/catalog/upcoming.ics?genre=djent" download' in html


def test_every_page_links_the_upcoming_releases(client):
    """The header's navigation leads to the upcoming releases."""
    make_album()

    html = client.get(reverse("catalog:album-list")).content.decode()

    assert f'<a href="{UPCOMING_URL}">Upcoming</a>' in html


def test_workbook_values_are_escaped(client):
    """Markup in a title or an artist's name is shown as text."""
    make_album(
        release_date=days(2), title="<b>bold</b>", artist=make_artist(name="<script>x</script>")
    )

    html = client.get(UPCOMING_URL).content.decode()

    assert "<script>x</script>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def fill(count: int) -> None:
    genres = [make_genre() for _ in range(3)]
    for n in range(count):
        make_album(release_date=days(1 + n * 9), genres=genres[: 1 + n % 3])
    make_album(release_date=days(-5))


# Genre facets (links, hidden links, names), vocal styles, years, the count, the page of
# albums, their genres.
PAGE_QUERIES = 8
# The count, the page, the genres, and the lookup of the requested genre.
FRAGMENT_QUERIES = 4


@pytest.mark.parametrize("count", [3, 40])
def test_query_count_does_not_grow_with_albums(client, django_assert_num_queries, count):
    """The page and its fragment cost the same queries for 3 albums as for 40."""
    fill(count)

    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(UPCOMING_URL)
    assert len(listed_ids(response)) == count
    with django_assert_num_queries(FRAGMENT_QUERIES):
        client.get(UPCOMING_URL, {"genre": "genre-1"}, headers={"HX-Request": "true"})


def test_the_lists_sort_does_not_apply(client):
    """Upcoming releases always come soonest first: no sort menu, no sort chip."""
    soon, later = make_album(release_date=days(1)), make_album(release_date=days(9))

    response = client.get(UPCOMING_URL, {"sort": "added"})

    assert listed_ids(response) == [soon.pk, later.pk]
    assert 'name="sort"' not in response.content.decode()
    assert "Sort:" not in response.content.decode()


@pytest.mark.parametrize("with_albums", [False, True], ids=["empty", "full"])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_no_template_syntax_shows(client, with_albums, htmx):
    """No comment or tag of the page's templates is printed as text (tests/test_visible_text.py)."""
    from tests.test_visible_text import assert_no_template_text

    if with_albums:
        make_album(release_date=days(3), genres=[make_genre("Djent")])
        make_album(release_date=datetime.date(2027, 1, 1), release_date_precision="year")
    headers = {"HX-Request": "true"} if htmx else {}
    assert_no_template_text(client.get(UPCOMING_URL, {"format": "LP"}, headers=headers))
