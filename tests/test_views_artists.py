"""The artist page: every visible album of one artist, across years and lists."""

import datetime

import pytest
from django.urls import reverse

from catalog.models import Album
from tests.support.factories import make_album, make_artist, make_genre

pytestmark = pytest.mark.django_db


def artist_url(artist) -> str:
    return reverse("catalog:artist-detail", args=[artist.pk])


def test_lists_every_visible_album_of_the_artist_newest_first(client):
    """Albums from several years and lists, newest first; other artists' and hidden albums
    stay out."""
    haken = make_artist(name="Haken")
    old = make_album(artist=haken, title="Aquarius", release_date=datetime.date(2010, 3, 29))
    new = make_album(
        artist=haken,
        title="Fauna",
        release_date=datetime.date(2023, 3, 3),
        release_list=Album.ReleaseList.PROG_ROCK,
    )
    make_album(artist=haken, title="Gone", in_workbook=False)
    make_album(title="Someone else's")

    response = client.get(artist_url(haken))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(new.title) < html.index(old.title)
    assert "Gone" not in html
    assert "Someone else" not in html


def test_shows_the_artists_countries_and_genres(client):
    """The page sums up where the artist is from and what they play."""
    artist = make_artist(name="Leprous")
    make_album(artist=artist, country="Norway", genres=[make_genre("Prog-metal")])
    make_album(artist=artist, country="Norway", genres=[make_genre("Art rock")])

    html = client.get(artist_url(artist)).content.decode()

    assert "Norway" in html
    assert "<bdi>Art rock</bdi>, <bdi>Prog-metal</bdi>" in html


def test_artist_without_visible_albums_is_not_found(client):
    """An artist whose every album left the workbook has no page."""
    artist = make_artist(name="Gone")
    make_album(artist=artist, in_workbook=False)

    assert client.get(artist_url(artist)).status_code == 404


def test_tiles_and_detail_link_the_artist_page(client):
    """The artist's name on a tile and on the album page opens the artist page."""
    album = make_album(artist=make_artist(name="Haken"))
    link = f'href="{artist_url(album.artist)}"'

    assert link in client.get(reverse("catalog:album-list")).content.decode()
    detail = reverse("catalog:album-detail", args=[album.pk])
    assert link in client.get(detail).content.decode()


def test_query_count_does_not_grow_with_albums(client, django_assert_max_num_queries):
    """Artist, albums, genres: a fixed handful of queries however many albums."""
    artist = make_artist(name="Prolific")
    for day in range(30):
        make_album(
            artist=artist,
            release_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=day),
            genres=[make_genre()],
        )

    with django_assert_max_num_queries(6):
        assert client.get(artist_url(artist)).status_code == 200


def test_workbook_text_is_escaped(client):
    """A sheet editor's markup in a name is shown as text."""
    artist = make_artist(name="<script>alert(1)</script>")
    make_album(artist=artist, title="<b>bold</b>")

    html = client.get(artist_url(artist)).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
