"""Template filters for album pages."""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Sequence
from html import escape
from urllib.parse import urlsplit

from django import template
from django.urls import reverse
from django.utils.dateformat import format as format_date
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from catalog.forms import SEARCH_MAX_LENGTH
from catalog.models import Album
from catalog.selectors import GenreFacet

register = template.Library()

UNKNOWN_RELEASE_DATE = "Release date unknown"
# Precision -> date format (Django's `date` syntax): "Jan 15, 2025", "January 2025", "2025".
DATE_FORMATS: dict[str, str] = {
    Album.DatePrecision.DAY: "M j, Y",
    Album.DatePrecision.MONTH: "F Y",
    Album.DatePrecision.YEAR: "Y",
}


def format_release_date(
    release_date: datetime.date | None, precision: str, year: int | None = None
) -> str:
    """The release date as precise as it is known; the year alone when only that is known."""
    if release_date is None:
        return str(year) if year else UNKNOWN_RELEASE_DATE
    return format_date(release_date, DATE_FORMATS.get(precision, DATE_FORMATS["day"]))


@register.filter
def release_date(album: Album) -> str:
    """`{{ album|release_date }}`: "Jan 15, 2025", "January 2025" or "2025" by precision."""
    return format_release_date(album.release_date, album.release_date_precision, album.year)


@register.filter
def release_date_iso(album: Album) -> str:
    """The `datetime` attribute for `<time>`: as precise as the date is known."""
    if album.release_date is None:
        return str(album.year or "")
    iso = album.release_date.isoformat()
    return {"month": iso[:7], "year": iso[:4]}.get(album.release_date_precision, iso)


@register.filter
def search_url(text: str) -> str:
    """`{{ album.artist.name|search_url }}`: the album list searching for `text` (cut to what
    the search box accepts, so a very long name still searches)."""
    return f"{reverse('catalog:album-list')}?{urlencode({'q': text[:SEARCH_MAX_LENGTH]})}"


# Where an album can be heard, in the order the detail page lists them.
LISTEN_LINKS = (
    ("spotify_url", "Spotify"),
    ("bandcamp_url", "Bandcamp"),
    ("youtube_url", "YouTube"),
    ("apple_music_url", "Apple Music"),
    ("amazon_url", "Amazon"),
)


def is_web_url(value: str) -> bool:
    """True for http(s) URLs: a workbook link never becomes a `javascript:` link."""
    return urlsplit(value.strip()).scheme.lower() in {"http", "https"}


@register.simple_tag
def listen_links(album: Album) -> list[tuple[str, str]]:
    """`{% listen_links album as links %}`: (label, URL) for each web link the album has."""
    links = []
    for field, label in LISTEN_LINKS:
        url = getattr(album, field)
        if url and is_web_url(url):
            links.append((label, url))
    return links


@register.simple_tag
def genre_options(facets: Sequence[GenreFacet], selected: Collection[str]) -> SafeString:
    """The genre `<option>`s, escaped here: ~2,000 template loop turns would cost ~30 ms."""
    chosen = set(selected)
    return mark_safe(  # noqa: S308 - every value below goes through escape()
        "".join(
            f'<option value="{escape(facet.slug)}"{" selected" if facet.slug in chosen else ""}>'
            f"{escape(facet.name)} ({facet.album_count})</option>"
            for facet in facets
        )
    )


SPOTIFY_EMBED_URL = "https://open.spotify.com/embed/album/{}"
# Spotify ids are 22 base-62 characters; anything else is not put into a URL.
SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{22}")


@register.filter
def spotify_embed_url(album: Album) -> str:
    """`{{ album|spotify_embed_url }}`: Spotify's embedded player for the album, or "" when
    it has no valid Spotify id."""
    album_id = album.spotify_album_id or ""
    return SPOTIFY_EMBED_URL.format(album_id) if SPOTIFY_ID.fullmatch(album_id) else ""
