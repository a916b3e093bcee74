"""Read-side queries for the catalog pages and for the sync panel and history."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, replace

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear

from catalog.models import Album, Artist, Genre, SyncFailure, SyncOperation, VocalStyle
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
    sort: str = ""  # a key of ALBUM_SORTS; "" is the default, newest release first

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
    return sort_albums(
        albums.select_related("artist", "vocal_style").prefetch_related(
            Prefetch("genres", queryset=Genre.objects.only("name", "slug"))
        ),
        filters.sort,
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


# --- Upcoming releases -----------------------------------------------------------------------

# Within a month, albums dated to the day come first, then those known only to the month; an
# album known only to its year goes after that year's months (UPCOMING_YEAR_ONLY).
UPCOMING_YEAR_ONLY = 13


def upcoming_albums(*, filters: AlbumFilters, today: datetime.date) -> QuerySet[Album]:
    """Visible albums matching `filters` whose release is after `today`, soonest first.

    A date is "after today" at its own precision: a day after today, a month after the current
    month, a year after the current one (a release "in December" is not upcoming on
    December 2nd: it may be out already). An undated album with a later year counts as known to
    the year. Each album is annotated with `period_year` and `period_month` (1-12, or
    UPCOMING_YEAR_ONLY) for the page's month groups.
    """
    precision = Album.DatePrecision
    next_month = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    next_year = datetime.date(today.year + 1, 1, 1)
    year_only = Q(release_date_precision=precision.YEAR) | Q(release_date__isnull=True)
    # Every dated upcoming album is dated after today: saying so first lets the databases
    # read the few upcoming albums off the release date index instead of scanning them all.
    after_today = Q(release_date__gt=today) & (
        Q(release_date_precision=precision.DAY)
        | Q(release_date_precision=precision.MONTH, release_date__gte=next_month)
        | Q(release_date_precision=precision.YEAR, release_date__gte=next_year)
    ) | Q(release_date__isnull=True, year__gt=today.year)
    return (
        album_list(filters=filters)
        .filter(after_today)
        .annotate(
            period_year=Coalesce(
                ExtractYear("release_date"), F("year"), output_field=IntegerField()
            ),
            period_month=Case(
                When(year_only, then=Value(UPCOMING_YEAR_ONLY)),
                default=ExtractMonth("release_date"),
                output_field=IntegerField(),
            ),
            precision_rank=Case(
                When(year_only, then=Value(2)),
                When(release_date_precision=precision.DAY, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .order_by(
            "period_year",
            "period_month",
            "precision_rank",
            F("release_date").asc(nulls_last=True),  # the databases disagree on NULLs
            "id",
        )
    )


# --- Album list sort orders ------------------------------------------------------------------

# Sort key in the URL (`?sort=`) -> what the sort menu and its chip call it; "" is the default.
ALBUM_SORTS = {
    "": "Newest release",
    "oldest": "Oldest release",
    "artist": "Artist A–Z",
    "added": "Recently added",
}


def sort_albums(albums: QuerySet[Album], sort: str) -> QuerySet[Album]:
    """`albums` in the order `sort` names (an ALBUM_SORTS key); unknown keys sort newest first.

    Every order ends with the id, so pages never share or skip an album. Artists sort by
    their folded name (catalog/search.py): "Ænima" between "Adagio" and "Agalloch", whatever
    the case. Undated albums come last whichever way dates run.
    """
    if sort == "oldest":
        return albums.order_by(F("release_date").asc(nulls_last=True), "id")
    if sort == "artist":
        return albums.order_by(
            "artist__search_name", "artist_id", F("release_date").desc(nulls_last=True), "-id"
        )
    if sort == "added":
        return albums.order_by("-created_at", "-id")
    return newest_first(albums)


def recently_added(*, filters: AlbumFilters) -> QuerySet[Album]:
    """Visible albums matching `filters`, the latest additions to the catalog first."""
    return album_list(filters=replace(filters, sort="added"))


def calendar_albums(*, filters: AlbumFilters, today: datetime.date) -> list[Album]:
    """The upcoming albums dated to the day (`upcoming_albums`), with only what a calendar
    event shows, each with `genre_names`: one query for every album's genre names costs far
    less than building a Genre object per link, which a few hundred events would notice."""
    albums = list(
        upcoming_albums(filters=filters, today=today)
        .filter(release_date_precision=Album.DatePrecision.DAY)
        .prefetch_related(None)
        .only(
            "title",
            "artist__name",
            "release_date",
            "release_date_precision",
            "year",
            "country",
            "format",
            "vocal_style__name",
            "updated_at",
            # The listening links (catalog/templatetags/album_tags.py, LISTEN_LINKS).
            "spotify_url",
            "bandcamp_url",
            "youtube_url",
            "apple_music_url",
            "amazon_url",
        )
    )
    names: dict[int, list[str]] = {}
    links = (
        AlbumGenre.objects.filter(album_id__in=[album.pk for album in albums])
        .order_by("album_id", "genre__name")
        .values_list("album_id", "genre__name")
    )
    for album_id, name in links:
        names.setdefault(album_id, []).append(name)
    for album in albums:
        album.genre_names = names.get(album.pk, [])  # type: ignore[attr-defined]
    return albums


# --- Statistics ------------------------------------------------------------------------------

STATS_TOP_GENRES = 5  # genres shown per year
STATS_GENRE_YEARS = 5  # the latest years whose genres are shown
STATS_TOP_COUNTRIES = 10
NO_VOCAL_STYLE = "Not given"


@dataclass(frozen=True, slots=True)
class CatalogStats:
    """Counts of visible albums for the statistics page; every list is in display order."""

    total: int
    debuts: int
    per_year: list[tuple[int, int]]  # (year, albums), oldest first
    latest_year: int | None  # the latest year up to this one (later years are still to come)
    # (year, [albums in January, ..., December]) for the latest year and the one before;
    # albums known only to their year have no month and are not counted here.
    per_month: list[tuple[int, list[int]]]
    genres_per_year: list[tuple[int, list[tuple[str, int]]]]  # newest year first
    vocal_styles: list[tuple[str, int]]  # most common first
    countries: list[tuple[str, int]]  # most releases first


def catalog_stats(*, filters: AlbumFilters, today: datetime.date) -> CatalogStats:
    """What the statistics page shows, for the albums `filters` selects, in five queries
    whatever the number of albums."""
    albums = album_list(filters=filters).order_by().prefetch_related(None)
    # One GROUP BY over the columns counted (a few thousand groups at most) instead of one per
    # figure: the filters (a genre filter is a subquery per album) are applied once.
    groups = (
        albums.values("year", "vocal_style_id", "country", "is_debut")
        .annotate(n=Count("pk"))
        .values_list("year", "vocal_style_id", "country", "is_debut", "n")
    )
    total = debuts = 0
    years: Counter[int] = Counter()
    styles: Counter[int | None] = Counter()
    country_counts: Counter[str] = Counter()
    for year, style_id, country, is_debut, n in groups:
        total += n
        debuts += n if is_debut else 0
        if year is not None:
            years[year] += n
        styles[style_id] += n
        if country:
            country_counts[country] += n
    per_year = sorted(years.items())
    past_years = [year for year, _n in per_year if year <= today.year]
    latest = past_years[-1] if past_years else None

    per_month: list[tuple[int, list[int]]] = []
    genres_per_year: list[tuple[int, list[tuple[str, int]]]] = []
    if latest is not None:
        # Counted per date, then per month here: a date range reads the release date index,
        # and no database function runs on each row (SQLite's are written in Python).
        dated = (
            albums.filter(
                release_date__gte=datetime.date(latest - 1, 1, 1),
                release_date__lte=datetime.date(latest, 12, 31),
            )
            .exclude(release_date_precision=Album.DatePrecision.YEAR)
            .values("release_date")
            .annotate(n=Count("pk"))
            .values_list("release_date", "n")
        )
        month_counts: Counter[tuple[int, int]] = Counter()
        for release_date, n in dated:
            month_counts[release_date.year, release_date.month] += n
        per_month = [
            (year, [month_counts[year, month] for month in range(1, 13)])
            for year in (latest - 1, latest)
        ]
        genre_years = past_years[-STATS_GENRE_YEARS:]
        links = (
            AlbumGenre.objects.filter(album_id__in=albums.filter(year__in=genre_years).values("pk"))
            .values("album__year", "genre_id")
            .annotate(n=Count("pk"))
            .values_list("album__year", "genre_id", "n")
        )
        by_year: dict[int, list[tuple[int, int]]] = {year: [] for year in genre_years}
        for year, genre_id, n in links:
            by_year[year].append((-n, genre_id))
        # The names of the few genres shown only (not one per link): grouping on the id is
        # cheaper than on the name. Ties are broken by id here, then shown by name.
        top = {year: sorted(pairs)[:STATS_TOP_GENRES] for year, pairs in by_year.items()}
        names = dict(
            Genre.objects.filter(pk__in={g for pairs in top.values() for _n, g in pairs})
            .order_by()
            .values_list("pk", "name")
        )
        genres_per_year = [
            (year, sorted(((names[g], -n) for n, g in top[year]), key=lambda p: (-p[1], p[0])))
            for year in reversed(genre_years)
        ]

    style_names = dict(VocalStyle.objects.order_by().values_list("pk", "name"))
    vocal_styles = sorted(
        (
            (style_names.get(style_id, NO_VOCAL_STYLE) if style_id else NO_VOCAL_STYLE, n)
            for style_id, n in styles.items()
        ),
        key=lambda pair: (-pair[1], pair[0]),
    )
    countries = sorted(country_counts.items(), key=lambda pair: (-pair[1], pair[0]))[
        :STATS_TOP_COUNTRIES
    ]
    return CatalogStats(
        total=total,
        debuts=debuts,
        per_year=per_year,
        latest_year=latest,
        per_month=per_month,
        genres_per_year=genres_per_year,
        vocal_styles=vocal_styles,
        countries=countries,
    )


# --- Syncs -----------------------------------------------------------------------------------

Status = SyncOperation.Status

HISTORY_LIMIT = 50
# Failed albums listed per run on the history page (the rest are counted: "and N more").
HISTORY_FAILURE_LIMIT = 20
# Where recent_operations() puts each run's first failed albums (Prefetch's to_attr).
FIRST_FAILURES = "first_failures"


def with_last_synced(queryset: QuerySet[SyncOperation]) -> QuerySet[SyncOperation]:
    """Annotate `last_synced_at`: when the latest completed sync finished (failed ones do not
    count, ones with warnings do)."""
    completed = (
        SyncOperation.objects.filter(status=Status.COMPLETED, finished_at__isnull=False)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    return queryset.annotate(last_synced_at=Subquery(completed))


def nothing_new_since(seen: int) -> bool:
    """True while the newest sync is still the finished run `seen` (0: none) that an idle page
    shows: one indexed single-row SELECT, no album table, for the idle check."""
    latest = (
        SyncOperation.objects.order_by("-started_at", "-id").values_list("pk", "status").first()
    )
    if latest is None:
        return seen == 0
    return latest[0] == seen and latest[1] not in SyncOperation.ACTIVE_STATUSES


def latest_operation() -> SyncOperation | None:
    """The newest sync (active or not), with `last_synced_at`, in one query."""
    # Without the notes: the panel only counts them, and every status poll reads this row.
    latest = SyncOperation.objects.defer("warnings").order_by("-started_at", "-id")
    return with_last_synced(latest).first()


def recent_operations(limit: int = HISTORY_LIMIT) -> list[SyncOperation]:
    """The history page's runs, newest first, with who started them and the first
    HISTORY_FAILURE_LIMIT failed albums of each: two queries, however many failures. Each run's
    failed albums are its `first_failures` (FIRST_FAILURES); sync_panel.history_entries says
    what each reader may see of them."""
    first_failures = SyncFailure.objects.order_by("id")[:HISTORY_FAILURE_LIMIT]
    operations = (
        SyncOperation.objects.select_related("triggered_by")
        .prefetch_related(Prefetch("failures", queryset=first_failures, to_attr=FIRST_FAILURES))
        # The notes are read only when staff open a run's notes (sync_notes).
        .defer("warnings")
        .order_by("-started_at", "-id")[:limit]
    )
    return list(operations)
