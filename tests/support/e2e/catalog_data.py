"""Workbooks for the end-to-end tests, and checks of what a sync wrote, in plain SQL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from django.utils.text import slugify

from tests.support.processes import ScratchDatabase
from tests.support.workbooks import ReleaseSpec, make_workbook

TAB = "2025 Prog-metal"
_ARTISTS = [
    "Vessel of Ash",
    "Mirar",
    "Orbital Decay",
    "Haken Tide",
    "Cerulean Veil",
    "Fractal Dawn",
    "Obsidian Choir",
    "Lumen Drift",
    "Sable Monolith",
    "Glass Cathedral",
    "Northern Helix",
    "Ember Spire",
]
_TITLES = ["Ascension", "Threnody", "Inner Tides", "Halcyon", "Zenith", "Labyrinth"]
_GENRES = [
    "Progressive metal, Djent",
    "Prog-rock",
    "Avant-Garde metal, Harsh Electronic",
    "Progressive metal",
    "Post-metal, Atmospheric Sludge",
]
_VOCALS = ["Harsh", "Clean", "Mixed", "Instrumental"]
# Spotify's own fields the importer copies; an album has all of them or none.
SPOTIFY_FIELDS = (
    "spotify_fetched_at",
    "cover_image_url",
    "cover_thumbnail_url",
    "spotify_name",
    "total_tracks",
)


def spotify_id(key: str) -> str:
    """A 22-character album id derived from `key` (the stand-in answers any id)."""
    return hashlib.sha256(key.encode()).hexdigest()[:22]


def releases(count: int, *, prefix: str = "e2e") -> list[ReleaseSpec]:
    """`count` distinct releases, each with a Spotify link, an artist, genres and a date."""
    specs = []
    for index in range(count):
        artist = _ARTISTS[index % len(_ARTISTS)]
        if index >= len(_ARTISTS):
            artist = f"{artist} {index // len(_ARTISTS) + 1}"
        specs.append(
            ReleaseSpec(
                artist,
                f"{_TITLES[index % len(_TITLES)]} {prefix.upper()} {index + 1}",
                date(2025, 1 + index % 12, 1 + index % 27),
                length="EP" if index % 5 == 4 else "LP",
                genres=_GENRES[index % len(_GENRES)],
                vocal_style=_VOCALS[index % len(_VOCALS)],
                spotify=spotify_id(f"{prefix}-{index}"),
                link_style="formula" if index % 2 else "hyperlink",
            )
        )
    return specs


def workbook(specs: list[ReleaseSpec]) -> bytes:
    return make_workbook({TAB: specs})


@dataclass(frozen=True)
class StoredAlbum:
    spotify_album_id: str
    title: str
    artist: str
    genres: frozenset[str]  # slugs
    spotify_fields: dict[str, object]

    @property
    def enriched(self) -> bool:
        return all(_filled(value) for value in self.spotify_fields.values())

    @property
    def untouched_by_spotify(self) -> bool:
        return not any(_filled(value) for value in self.spotify_fields.values())


def _filled(value: object) -> bool:
    return value is not None and value != ""


def stored_albums(db: ScratchDatabase) -> dict[str, StoredAlbum]:
    """Every album row keyed by Spotify id, with its artist, genre slugs and Spotify fields."""
    columns = ", ".join(f"a.{name}" for name in SPOTIFY_FIELDS)
    rows = db.query(
        f"SELECT a.id, a.spotify_album_id, a.title, ar.name, {columns} "
        "FROM catalog_album a JOIN catalog_artist ar ON ar.id = a.artist_id"
    )
    genres: dict[int, set[str]] = {}
    for album_id, name in db.query(
        "SELECT ag.album_id, g.name FROM catalog_album_genres ag "
        "JOIN catalog_genre g ON g.id = ag.genre_id"
    ):
        genres.setdefault(album_id, set()).add(slugify(name))
    albums = {}
    for row in rows:
        album_id, spotify_album_id, title, artist, *spotify_values = row
        albums[spotify_album_id or f"pk-{album_id}"] = StoredAlbum(
            spotify_album_id=spotify_album_id or "",
            title=title,
            artist=artist,
            genres=frozenset(genres.get(album_id, ())),
            spotify_fields=dict(zip(SPOTIFY_FIELDS, spotify_values, strict=True)),
        )
    return albums


def half_written(db: ScratchDatabase, specs: list[ReleaseSpec]) -> list[str]:
    """What is wrong with the stored albums: rows unlike the workbook, partial Spotify data."""
    expected = {spec.spotify: spec for spec in specs}
    problems = []
    for key, album in stored_albums(db).items():
        spec = expected.get(key)
        if spec is None:
            problems.append(f"{key}: an album the workbook does not have ({album.title!r})")
            continue
        if (album.artist, album.title) != (spec.artist, spec.album):
            problems.append(f"{key}: {album.artist!r} - {album.title!r}, expected {spec}")
        want_genres = {slugify(g) for g in (spec.genres or "").split(",") if g.strip()}
        if album.genres != want_genres:
            problems.append(f"{key}: genres {sorted(album.genres)}, expected {sorted(want_genres)}")
        if not (album.enriched or album.untouched_by_spotify):
            problems.append(f"{key}: partial Spotify data {album.spotify_fields}")
    return problems
