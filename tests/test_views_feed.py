"""The Atom feed of new albums: the latest additions first, with the album list's filters."""

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from catalog.models import Album
from catalog.views import FEED_ITEMS, FEED_TITLE
from tests.support.factories import make_album, make_artist, make_genre

pytestmark = pytest.mark.django_db

FEED_URL = reverse("catalog:feed")
ATOM = {"atom": "http://www.w3.org/2005/Atom"}


def fetch(client, params=None) -> ET.Element:
    response = client.get(FEED_URL, params or {})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def entry_titles(feed: ET.Element) -> list[str]:
    entries = feed.iterfind("atom:entry", ATOM)
    return [entry.findtext("atom:title", namespaces=ATOM) or "" for entry in entries]


def added(album: Album, day: int) -> Album:
    """Say `album` joined the catalog on day `day` of 2026."""
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=day)
    Album.objects.filter(pk=album.pk).update(created_at=moment)
    return album


def test_newest_additions_first_not_newest_releases(client):
    """The order is when albums joined the catalog, whatever their release dates; hidden
    albums are left out."""
    old_release = added(make_album(title="Old", release_date=datetime.date(1999, 1, 1)), 30)
    new_release = added(make_album(title="New", release_date=datetime.date(2026, 1, 1)), 10)
    added(make_album(title="Gone", in_workbook=False), 40)

    feed = fetch(client)

    assert feed.findtext("atom:title", namespaces=ATOM) == FEED_TITLE
    assert entry_titles(feed) == [
        f"{old_release.artist.name} – Old",
        f"{new_release.artist.name} – New",
    ]


def test_entry_links_the_album_and_names_genres(client):
    album = make_album(
        artist=make_artist(name="Haken"),
        title="Fauna",
        genres=[make_genre("Prog-metal")],
        country="UK",
        spotify_url="https://open.spotify.com/album/abc",
    )

    entry = fetch(client).find("atom:entry", ATOM)

    assert entry is not None
    link = entry.find("atom:link", ATOM)
    assert link is not None
    assert link.get("href") == f"https://progmetal.example{album.get_absolute_url()}"
    assert [c.get("term") for c in entry.iterfind("atom:category", ATOM)] == ["Prog-metal"]
    summary = entry.findtext("atom:summary", namespaces=ATOM) or ""
    assert "<bdi>Fauna</bdi> by <bdi>Haken</bdi>: Jan 15, 2025, <bdi>UK</bdi>, LP." in summary
    assert '<a href="https://open.spotify.com/album/abc">Spotify</a>' in summary


def test_workbook_markup_is_escaped_in_the_summary(client):
    """Readers show the summary as HTML: a title's markup arrives as text, not as tags."""
    make_album(title="<img src=x onerror=alert(1)>")

    summary = fetch(client).findtext("atom:entry/atom:summary", namespaces=ATOM) or ""

    assert "<img" not in summary
    assert "&lt;img src=x onerror=alert(1)&gt;" in summary


@pytest.mark.parametrize(
    "params", [{"genre": "djent"}, {"list": "prog-rock"}, {"format": "EP"}, {"q": "obsid"}]
)
def test_filters_narrow_the_feed(client, params):
    make_album(
        title="Obsidian",
        genres=[make_genre("Djent")],
        release_list=Album.ReleaseList.PROG_ROCK,
        format=Album.Format.EP,
    )
    make_album(title="Other")

    feed = fetch(client, params)

    assert [t.split(" – ")[1] for t in entry_titles(feed)] == ["Obsidian"]
    # The feed links the album list with the same filters, and itself with them too.
    query = "?" + "&".join(f"{key}={value}" for key, value in params.items())
    alternate = feed.find("atom:link[@rel='alternate']", ATOM)
    itself = feed.find("atom:link[@rel='self']", ATOM)
    assert alternate is not None and itself is not None
    assert alternate.get("href") == f"https://progmetal.example/catalog/albums/{query}"
    assert itself.get("href") == f"https://progmetal.example{FEED_URL}{query}"


def test_feed_holds_the_latest_additions_only(client):
    for day in range(FEED_ITEMS + 3):
        added(make_album(), day)

    assert len(entry_titles(fetch(client))) == FEED_ITEMS


def test_an_empty_catalog_is_an_empty_feed(client):
    assert entry_titles(fetch(client)) == []


def test_album_list_announces_the_feed_for_its_filters(client):
    make_album(format=Album.Format.EP)

    html = client.get(reverse("catalog:album-list"), {"format": "EP", "sort": "oldest"})

    assert (
        f'<link rel="alternate" type="application/atom+xml" title="New albums (these filters)"'
        f' href="{FEED_URL}?format=EP">'
    ) in html.content.decode()


@pytest.mark.parametrize("count", [3, 40])
def test_query_count_does_not_grow_with_albums(client, django_assert_num_queries, count):
    """The requested genre, the albums, their genres."""
    genre = make_genre("Djent")
    for _ in range(count):
        make_album(genres=[genre, make_genre()])

    with django_assert_num_queries(3):
        feed = fetch(client, {"genre": "djent"})
    assert len(entry_titles(feed)) == count
