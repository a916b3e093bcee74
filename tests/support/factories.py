"""Model factories for the tests: plain functions, each taking the fields to override.

Every call makes unique names/slugs/keys by default, so tests only spell out what they assert on.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import threading
from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.utils.text import slugify

from catalog.models import Album, Artist, Genre, VocalStyle
from catalog.services.release_rows import SheetRow

_sequence = itertools.count(1)


def _next() -> int:
    return next(_sequence)


def make_artist(**overrides: Any) -> Artist:
    """An artist; `name` defaults to a unique "Artist N"."""
    name = overrides.pop("name", None) or f"Artist {_next()}"
    fields: dict[str, Any] = {"name": name, "normalized_name": " ".join(name.lower().split())}
    fields.update(overrides)
    return Artist.objects.create(**fields)


def make_genre(name: str | None = None, **overrides: Any) -> Genre:
    """A genre; the slug follows the name unless given."""
    name = name or f"Genre {_next()}"
    fields: dict[str, Any] = {"name": name, "slug": slugify(name)}
    fields.update(overrides)
    return Genre.objects.create(**fields)


def make_vocal_style(name: str | None = None, **overrides: Any) -> VocalStyle:
    """A vocal style; the slug follows the name unless given."""
    name = name or f"Vocals {_next()}"
    fields: dict[str, Any] = {"name": name, "slug": slugify(name)}
    fields.update(overrides)
    return VocalStyle.objects.create(**fields)


def make_album(*, genres: Iterable[Genre] = (), **overrides: Any) -> Album:
    """A visible LP released on 2025-01-15 (day precision) by a new artist, unless overridden.

    `artist` may be an Artist or a name; `genres` are attached after saving. `year` follows
    `release_date` unless given.
    """
    number = _next()
    artist = overrides.pop("artist", None)
    if artist is None or isinstance(artist, str):
        artist = make_artist(name=artist) if artist else make_artist()
    release_date = overrides.pop("release_date", datetime.date(2025, 1, 15))
    fields: dict[str, Any] = {
        "title": f"Album {number}",
        "artist": artist,
        "release_date": release_date,
        "release_date_precision": Album.DatePrecision.DAY,
        "year": release_date.year if release_date else None,
        "release_list": Album.ReleaseList.PROG_METAL,
        "format": Album.Format.LP,
        "identity_key": f"album-{number}",
    }
    fields.update(overrides)
    album = Album.objects.create(**fields)
    if genres:
        album.genres.set(genres)
    return album


_BASE_ROW = SheetRow(
    tab="2025 Prog-metal",
    row_number=7,
    artist="Mirar",
    title="Ascension",
    release_date=datetime.date(2025, 1, 1),
    date_precision="day",
    year=2025,
    release_list="prog-metal",
    format="LP",
    is_debut=False,
    is_reissue=False,
    genres=("Prog-metal",),
    vocal_style="Harsh",
    country="France",
    spotify_album_id=None,
    spotify_url="",
    bandcamp_url="",
    youtube_url="",
    apple_music_url="",
    amazon_url="",
)


def sheet_row(artist: str = "Mirar", title: str = "Ascension", **changes) -> SheetRow:
    """A parsed workbook row (a release on the 2025 Prog-metal tab) with `changes` applied;
    a Spotify id brings its album URL unless one is given."""
    spotify_id = changes.get("spotify_album_id")
    if spotify_id and "spotify_url" not in changes:
        changes["spotify_url"] = f"https://open.spotify.com/album/{spotify_id}"
    return dataclasses.replace(_BASE_ROW, artist=artist, title=title, **changes)


def delete_from_another_connection(title: str) -> None:
    """Delete the album titled `title` as a staff member in the admin would meanwhile: in
    another thread, on its own database connection."""

    def delete() -> None:
        try:
            Album.objects.filter(title=title).delete()
        finally:
            connections.close_all()

    thread = threading.Thread(target=delete)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
