"""Read-side queries for the catalog pages."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet

from catalog.models import Album, Artist, Genre, VocalStyle
from catalog.search import fold

AlbumGenre = Album.genres.through


@dataclass(frozen=True, slots=True)
class AlbumFilters:
    """What the visitor asked the album list for; empty values mean "any"."""

    q: str = ""
    genres: tuple[str, ...] = ()  # slugs; an album matches when it has any of them
    vocal_styles: tuple[str, ...] = ()  # slugs; any of them
    year: int | None = None
    release_list: str = ""
    format: str = ""
    debut: bool = False

    def is_active(self) -> bool:
        return self != AlbumFilters()


@dataclass(frozen=True, slots=True)
class GenreFacet:
    slug: str
    name: str
    album_count: int


def visible_albums() -> QuerySet[Album]:
    """Albums still in the workbook: the ones the catalog lists."""
    return Album.objects.filter(in_workbook=True)


def newest_first(albums: QuerySet[Album]) -> QuerySet[Album]:
    # PostgreSQL sorts NULL first in DESC order, SQLite last: say it, so both agree.
    return albums.order_by(F("release_date").desc(nulls_last=True), "-id")


def album_list(*, filters: AlbumFilters) -> QuerySet[Album]:
    """Visible albums matching `filters`, newest release first, ready for the tile grid.

    Genre and search conditions are subqueries rather than joins, so an album with several
    matching genres is listed once without a DISTINCT over the whole page. A search is split
    into words (`search_words`), every one of which must match.
    """
    albums = visible_albums()
    if filters.genres:
        albums = albums.filter(
            Exists(
                AlbumGenre.objects.filter(album_id=OuterRef("pk"), genre__slug__in=filters.genres)
            )
        )
    if filters.vocal_styles:
        albums = albums.filter(vocal_style__slug__in=filters.vocal_styles)
    if filters.year is not None:
        albums = albums.filter(year=filters.year)
    if filters.release_list:
        albums = albums.filter(release_list=filters.release_list)
    if filters.format:
        albums = albums.filter(format=filters.format)
    if filters.debut:
        albums = albums.filter(is_debut=True)
    for word in search_words(filters.q):
        # Folded copies make the match case- and accent-blind on both databases
        # (catalog/search.py). Artists and genres are matched once per word (IN subqueries).
        artists = Artist.objects.filter(search_name__contains=word).values("pk")
        genres = Genre.objects.filter(search_name__contains=word).values("pk")
        albums = albums.filter(
            Q(search_title__contains=word)
            | Q(artist_id__in=artists)
            | Q(pk__in=AlbumGenre.objects.filter(genre_id__in=genres).values("album_id"))
        )
    return newest_first(
        albums.select_related("artist", "vocal_style").prefetch_related(
            Prefetch("genres", queryset=Genre.objects.only("name", "slug"))
        )
    )


def search_words(q: str) -> list[str]:
    """The folded words of a search, each once: "  Haken   LIVE " -> ["haken", "live"].

    An album matches when every word is in its title, its artist's name or one of its genres
    (each word may match a different one). A word inside another word is left out: whatever
    holds "progressive" holds "prog" too, so it could not change the result, only the cost.
    """
    words = list(dict.fromkeys(fold(q).split()))
    return [word for word in words if not any(word != other and word in other for other in words)]


def catalog_is_empty() -> bool:
    return not visible_albums().exists()


def genre_facets() -> list[GenreFacet]:
    """Genres of visible albums, most used first (then by name), with their album counts."""
    # Three index-friendly queries instead of one join: links counted per genre, minus the
    # links of the few hidden albums, then the names. Joining each of ~50,000 links to its
    # album to test visibility costs SQLite several times as much, and a per-genre subquery
    # makes PostgreSQL compile the plan (JIT) on every request.
    totals = _links_per_genre(AlbumGenre.objects.all())
    hidden = _links_per_genre(
        AlbumGenre.objects.filter(album_id__in=Album.objects.filter(in_workbook=False).values("pk"))
    )
    facets = [
        GenreFacet(slug=slug, name=name, album_count=totals.get(pk, 0) - hidden.get(pk, 0))
        for pk, slug, name in Genre.objects.order_by().values_list("pk", "slug", "name")
    ]
    facets = [facet for facet in facets if facet.album_count > 0]
    facets.sort(key=lambda facet: (-facet.album_count, facet.name))
    return facets


def _links_per_genre(links: QuerySet) -> dict[int, int]:
    return dict(
        links.order_by()
        .values("genre_id")
        .annotate(count=Count("*"))
        .values_list("genre_id", "count")
    )


def genre_choices(*, slugs: Collection[str]) -> list[tuple[str, str]]:
    """(slug, name) of the genres among `slugs` that a visible album has.

    The same genres `genre_facets` offers, found by slug: an HTMX request validates its few
    genres with this index lookup instead of counting every genre link.
    """
    if not slugs:
        return []
    visible_links = AlbumGenre.objects.filter(genre_id=OuterRef("pk"), album__in_workbook=True)
    return list(
        Genre.objects.filter(slug__in=slugs)
        .filter(Exists(visible_links))
        .order_by()
        .values_list("slug", "name")
    )


def _vocal_styles_in_use() -> QuerySet[VocalStyle]:
    return VocalStyle.objects.filter(Exists(visible_albums().filter(vocal_style=OuterRef("pk"))))


def vocal_style_options() -> list[VocalStyle]:
    """Vocal styles that at least one visible album has, by name."""
    return list(_vocal_styles_in_use())


def vocal_style_choices(*, slugs: Collection[str]) -> list[tuple[str, str]]:
    """(slug, name) of the vocal styles among `slugs` that `vocal_style_options` offers."""
    if not slugs:
        return []
    return list(_vocal_styles_in_use().filter(slug__in=slugs).values_list("slug", "name"))


def release_years() -> list[int]:
    """Years that have visible albums, newest first: a year offered in the filter always lists
    something. The (in_workbook, year) index answers it without reading the album rows."""
    return list(
        visible_albums()
        .filter(year__isnull=False)
        .order_by("-year")
        .values_list("year", flat=True)
        .distinct()
    )


def album_detail() -> QuerySet[Album]:
    """Albums with what the detail page shows; hidden albums included (their links live on)."""
    return Album.objects.select_related("artist", "vocal_style").prefetch_related(
        Prefetch("genres", queryset=Genre.objects.only("name", "slug"))
    )


def artist_albums(*, artist: Artist) -> QuerySet[Album]:
    """Every visible album of `artist`, across years and lists, newest first."""
    return newest_first(
        visible_albums()
        .filter(artist=artist)
        .select_related("artist", "vocal_style")
        .prefetch_related(Prefetch("genres", queryset=Genre.objects.only("name", "slug")))
    )
