"""Spotify Web API client (client-credentials flow) returning plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

CREDENTIALS_INVALID = "Spotify credentials are invalid"
NOT_FOUND = "not found on Spotify"


class SpotifyError(Exception):
    """Enrichment cannot go on (bad credentials, quota spent, long rate limit, outage)."""


@dataclass(frozen=True, slots=True)
class SpotifyAlbum:
    id: str
    name: str
    artist_names: tuple[str, ...]
    release_date: date | None
    release_date_precision: str  # "day" | "month" | "year"
    total_tracks: int | None
    image_large_url: str
    image_thumbnail_url: str
    url: str


@dataclass(frozen=True, slots=True)
class AlbumLookup:
    """The outcome for one requested album id: `album`, or an `error` for the user."""

    album_id: str
    album: SpotifyAlbum | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class RateLimitPause:
    """Spotify answered 429: every worker waits `seconds` before the next request."""

    seconds: float
