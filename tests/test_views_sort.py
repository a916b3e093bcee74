"""Sorting the album list: newest release (default), oldest, artist A–Z, recently added; the
order is in the URL, the form and the chips, like the filters."""

import datetime
import re
from html import unescape
from urllib.parse import quote

import pytest
from django.urls import reverse

from catalog.models import Album
from tests.support.factories import make_album, make_artist
from tests.test_views_albums import LIST_QUERIES

pytestmark = pytest.mark.django_db

LIST_URL = reverse("catalog:album-list")
TILE_ID = re.compile(r'class="album-tile[^"]*" data-album-id="(\d+)"')


def listed_ids(response) -> list[int]:
    return [int(pk) for pk in TILE_ID.findall(response.content.decode())]


@pytest.fixture
def albums():
    """Three dated albums created in an order unlike their dates, and an undated one."""
    middle = make_album(artist=make_artist(name="Cynic"), release_date=datetime.date(2021, 5, 1))
    old = make_album(artist=make_artist(name="Ænima"), release_date=datetime.date(2001, 1, 1))
    new = make_album(artist=make_artist(name="agalloch"), release_date=datetime.date(2024, 2, 2))
    undated = make_album(artist=make_artist(name="Zeal"), release_date=None, year=2020)
    return {"middle": middle, "old": old, "new": new, "undated": undated}


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("", ["new", "middle", "old", "undated"]),
        ("oldest", ["old", "middle", "new", "undated"]),
        # Folded names: "Ænima" is "aenima", before "agalloch" and "Cynic", whatever the case.
        ("artist", ["old", "new", "middle", "undated"]),
        ("added", ["undated", "new", "old", "middle"]),
        ("bogus", ["new", "middle", "old", "undated"]),  # an unknown order is the default
    ],
)
def test_each_sort_order(client, albums, sort, order):
    response = client.get(LIST_URL, {"sort": sort} if sort else {})

    assert listed_ids(response) == [albums[name].pk for name in order]


def test_recently_added_follows_the_catalog_date_not_the_id(client, albums):
    """An album imported later comes first even if its row is older."""
    Album.objects.filter(pk=albums["old"].pk).update(
        created_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    )

    assert listed_ids(client.get(LIST_URL, {"sort": "added"}))[0] == albums["old"].pk


def test_artist_sort_keeps_each_artists_newest_first(client):
    artist = make_artist(name="Haken")
    older = make_album(artist=artist, release_date=datetime.date(2010, 1, 1))
    newer = make_album(artist=artist, release_date=datetime.date(2020, 1, 1))

    assert listed_ids(client.get(LIST_URL, {"sort": "artist"})) == [newer.pk, older.pk]


def test_sort_shows_in_the_form_and_as_a_chip(client, albums):
    """The menu shows the order; its chip goes back to the default order, filters kept."""
    html = client.get(LIST_URL, {"sort": "oldest", "format": "LP"}).content.decode()

    assert '<option value="oldest" selected>Oldest release</option>' in html
    chips = {
        unescape(label).strip(): unescape(href)
        for href, label in re.findall(
            r'<a class="chip[^"]*" href="([^"]*)"[^>]*>(?:<bdi>)?([^<]*)', html
        )
    }
    assert chips["Sort: Oldest release"] == f"{LIST_URL}?format=LP"
    assert chips["LP"] == f"{LIST_URL}?sort=oldest"


def test_default_order_has_no_chip_and_no_parameter(client, albums):
    html = client.get(LIST_URL).content.decode()

    assert "Sort:" not in html
    assert '<option value="" selected>Newest release</option>' in html


def test_page_links_and_detail_links_keep_the_sort(client):
    for day in range(60):
        make_album(release_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=day))

    html = unescape(client.get(LIST_URL, {"sort": "oldest"}).content.decode())

    assert f'href="{LIST_URL}?sort=oldest&page=2"' in html
    assert f"?back={quote(f'{LIST_URL}?sort=oldest', safe='')}" in html


def test_htmx_fragment_is_sorted_too(client, albums):
    response = client.get(LIST_URL, {"sort": "oldest"}, headers={"HX-Request": "true"})

    assert listed_ids(response)[0] == albums["old"].pk
    assert "<html" not in response.content.decode()


@pytest.mark.parametrize("sort", ["oldest", "artist", "added"])
@pytest.mark.parametrize("count", [3, 40])
def test_sorting_costs_no_extra_query(client, django_assert_num_queries, sort, count):
    """The same queries as the default order (tests/test_views_albums.py), for 3 or 40."""
    for n in range(count):
        make_album(release_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=n))

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST_URL, {"sort": sort})
    assert len(listed_ids(response)) == count
