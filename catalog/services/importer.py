"""Rows from the workbook (+ Spotify data) -> catalog upserts, with progress through a callback.

`import_catalog` is the entry point (docs/architecture.md, "Decisions and why"): fetch and parse the
workbook (a sheet-level failure raises WorkbookError before anything is written), upsert its albums
in batches, hide albums that left the sheet, then enrich albums from Spotify one by one.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog import counts
from catalog.models import Album, Artist, Genre, VocalStyle
from catalog.search import set_search_fields
from catalog.services.download import (
    WorkbookCancelled,
    WorkbookError,
    never_cancel,
    reading_message,
)
from catalog.services.release_rows import SheetRow
from catalog.services.spotify import (
    NOT_FOUND,
    AlbumLookup,
    SpotifyAlbum,
    SpotifyClient,
    SpotifyError,
)
from catalog.services.workbook import load_workbook

STAGE_FETCHING = "fetching"
STAGE_IMPORTING = "importing"
STAGE_ENRICHING = "enriching"
STAGE_FINALIZING = "finalizing"

SYNCING_MESSAGE = "Syncing album {processed} of {total}..."
ENRICHING_MESSAGE = "Enriching with Spotify metadata... ({processed} of {total})"
RATE_LIMIT_MESSAGE = "Spotify rate limit reached: resuming in {seconds} s"
FINALIZING_MESSAGE = "Finalizing synchronization..."
EMPTY_WORKBOOK = (
    "The workbook has no release rows: nothing was imported and no album was hidden. "
    "Check that GOOGLE_SHEETS_XLSX_URL points at the r/progmetal workbook"
)
NO_ARTIST_WARNING = "{tab}, row {row}: no artist name, row skipped"
# One album the database refused (a value it cannot store, an album deleted meanwhile in the
# admin): that album fails, the others are written (docs/architecture.md, "Resumable batches").
ALBUM_REFUSED = "the database refused this album ({kind}); it is left as it was"
ALBUM_DELETED = "deleted while the sync ran (in the admin?); the next sync adds it again"
REMOVALS_KEPT = (
    "{albums} no longer in the workbook; more than {percent} of the catalog, so {they} "
    "visible. Run import_albums --allow-removals to confirm"
)


def removals_kept(count: int, *, percent: str) -> str:
    """ "2,552 albums are no longer in the workbook; ... so they stay visible. ..." (or "1 album
    is ... so it stays")."""
    one = count == 1
    return REMOVALS_KEPT.format(
        albums=f"{counts.albums(count)} {'is' if one else 'are'}",
        percent=percent,
        they="it stays" if one else "they stay",
    )


# Albums per batch: one transaction, a handful of bulk queries. Cancel is checked between
# batches, so a batch is kept small enough to end within a fraction of a second.
BATCH_SIZE = 100
# Rows per bulk statement or IN (...) list.
CHUNK_SIZE = 500
# Within a batch, "Syncing album N of M..." is reported every this many albums.
PROGRESS_EVERY = 25

# Which row of a merged album supplies its values (see `_merge_rows`): the prog-metal list
# before the prog-rock list before the reissues list, then the first occurrence in the workbook.
_LIST_PRIORITY: dict[str, int] = {
    Album.ReleaseList.PROG_METAL.value: 0,
    Album.ReleaseList.PROG_ROCK.value: 1,
    Album.ReleaseList.REISSUES.value: 2,
}
_PRECISION_RANK = {"year": 0, "month": 1, "day": 2}
# Sheet-owned text fields: the primary row's value, or the first non-empty one of the others.
_TEXT_FIELDS = (
    "title",
    "release_list",
    "format",
    "country",
    "spotify_url",
    "bandcamp_url",
    "youtube_url",
    "apple_music_url",
    "amazon_url",
)
# What a changed Spotify id makes stale: the next enrichment fetches it again.
_SPOTIFY_RESET: dict[str, Any] = {
    "cover_image_url": "",
    "cover_thumbnail_url": "",
    "spotify_name": "",
    "spotify_artist_name": "",
    "total_tracks": None,
    "spotify_fetched_at": None,
}


@dataclass(frozen=True, slots=True)
class Written:
    """What a run has committed so far: the counts its row shows while it runs, and keeps if
    the run dies (docs/architecture.md, "Resumable batches, not one transaction")."""

    created: int
    updated: int
    unchanged: int
    removed: int
    failed: int


@dataclass(frozen=True, slots=True)
class Progress:
    stage: str
    processed: int
    total: int
    message: str
    written: Written | None = None


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class AlbumFailure:
    label: str  # "Artist - Title"
    reason: str
    album_id: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """What a dry run would do to one album (only dry runs collect these)."""

    kind: str  # CHANGE_NEW | CHANGE_CHANGED | CHANGE_REMOVED
    label: str  # "Artist - Title"
    fields: tuple[str, ...] = ()  # for a changed album: what would change ("genres", "title")


CHANGE_NEW = "new"
CHANGE_CHANGED = "changed"
CHANGE_REMOVED = "removed"


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0  # no longer in the workbook: hidden, not deleted
    # No longer in the workbook but kept visible: too many to hide without a confirmation.
    removals_kept: int = 0
    failed: int = 0
    failures: list[AlbumFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    spotify_requests: int = 0
    spotify_stopped: str = ""  # why enrichment stopped early, for the user; "" when it did not
    enriched: int = 0  # albums that received Spotify data in this run
    total: int = 0  # albums in the workbook (rows after merging duplicates)
    # Identity keys of the albums this run created, updated or looked up on Spotify.
    attempted_keys: set[str] = field(default_factory=set)
    # A dry run's albums that would be new, changed or removed, in workbook order.
    planned: list[PlannedChange] = field(default_factory=list)

    def written(self) -> Written:
        return Written(self.created, self.updated, self.unchanged, self.removed, self.failed)

    @property
    def attempted(self) -> int:
        """Albums this run worked on (each once): the "50" of "45/50 albums updated"."""
        return len(self.attempted_keys)


# The database stopped answering (a server stopped or restarted, a killed connection, a full
# disk): the run cannot go on. IntegrityError and DataError are about one album instead.
DATABASE_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
# What one album's write can fail with and leave the others writable.
ALBUM_WRITE_ERRORS: tuple[type[BaseException], ...] = (IntegrityError, DataError)


class DatabaseUnavailable(Exception):
    """The database failed under the run; carries what was committed before (the true counts).

    The original OperationalError / InterfaceError is the cause (`__cause__`).
    """

    def __init__(self, result: ImportResult) -> None:
        super().__init__("The database became unavailable during the import")
        self.result = result


class _AlbumVanished(Exception):
    """An album updated in a batch was no longer there (deleted meanwhile): undo the batch."""


class ImportCancelled(Exception):
    """Raised between albums when `should_cancel()` answers True; carries the partial result."""

    def __init__(self, result: ImportResult, processed: int, total: int) -> None:
        super().__init__(f"Sync cancelled after {processed} of {total} albums")
        self.result = result
        self.processed = processed
        self.total = total


# --- normalisation ---------------------------------------------------------------------------


def normalize_name(value: str) -> str:
    """NFKC, case-folded, whitespace collapsed: how artist names and album keys compare."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def album_identity_key(*, artist: str, title: str, year: int | None) -> str:
    """The identity of an album without a Spotify link: normalised "artist|title|year"."""
    return _fit(f"{normalize_name(artist)}|{normalize_name(title)}|{year or ''}", "identity_key")


def spotify_identity_key(album_id: str) -> str:
    return f"spotify:{album_id}"


@functools.lru_cache(maxsize=65536)  # a few thousand distinct genres, each seen many times
def genre_slug(name: str) -> str:
    """The identity of a genre: its slug, so case and hyphen/space variants are one genre.

    "Post-Punk", "post punk" and "Post Punk" are all `post-punk`; "Post" is `post`. A slug only
    folds case, punctuation and spacing, never one word into another, so no genre is merged
    into another by substring.
    """
    return slugify(normalize_name(name), allow_unicode=True)[: _max_length(Genre, "slug")]


@functools.lru_cache(maxsize=1024)
def vocal_style_slug(name: str) -> str:
    return slugify(normalize_name(name), allow_unicode=True)[: _max_length(VocalStyle, "slug")]


@functools.cache
def _max_length(model: type[Any], name: str) -> int:
    return model._meta.get_field(name).max_length


def _fit(value: str, name: str, model: type[Any] = Album) -> str:
    """Cut text to the column's size: PostgreSQL rejects a longer value (and its whole batch)."""
    return value[: _max_length(model, name)]


def _refines(
    candidate: date | None, candidate_precision: str, base: date | None, base_precision: str
) -> bool:
    """Whether `candidate` is more precise than `base` and agrees with it (or `base` is None)."""
    if candidate is None:
        return False
    if base is None:
        return True
    if _PRECISION_RANK.get(candidate_precision, 2) <= _PRECISION_RANK.get(base_precision, 2):
        return False
    if base_precision == "year":
        return candidate.year == base.year
    return (candidate.year, candidate.month) == (base.year, base.month)


def _preferred_spelling(counts: Counter[str]) -> str:
    """The most frequent spelling; ties go to the one seen first (Counter keeps that order)."""
    return max(counts, key=lambda spelling: counts[spelling]) if counts else ""


# --- the workbook's albums -------------------------------------------------------------------


@dataclass(slots=True)
class _Release:
    """One album as the workbook describes it: one or more rows merged."""

    rows: list[SheetRow]
    spotify_id: str | None
    natural_key: str  # album_identity_key of the primary row (of every row when unlinked)
    identity_key: str = ""
    artist_key: str = ""
    vocal_slug: str = ""
    genre_slugs: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)  # Album attname -> sheet value


@dataclass(slots=True)
class _Names:
    """Spellings seen in this workbook per identity, to choose display names."""

    artists: dict[str, Counter[str]] = field(default_factory=dict)
    artist_countries: dict[str, Counter[str]] = field(default_factory=dict)
    genres: dict[str, Counter[str]] = field(default_factory=dict)
    vocal_styles: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, row: SheetRow) -> None:
        key = _fit(normalize_name(row.artist), "normalized_name", Artist)
        self.artists.setdefault(key, Counter())[row.artist.strip()] += 1
        if row.country.strip():
            self.artist_countries.setdefault(key, Counter())[row.country.strip()] += 1
        for genre in row.genres:
            slug = genre_slug(genre)
            if slug:
                self.genres.setdefault(slug, Counter())[" ".join(genre.split())] += 1
        slug = vocal_style_slug(row.vocal_style)
        if slug:
            self.vocal_styles.setdefault(slug, Counter())[row.vocal_style.strip()] += 1


def _plan(rows: Sequence[SheetRow], result: ImportResult) -> tuple[list[_Release], _Names]:
    """Group rows into albums: by Spotify id, else by normalised (artist, title, year).

    A row without a Spotify id whose normalised key matches an album that has one joins that
    album (the same release, linked in one tab and not in another).
    """
    by_spotify: dict[str, _Release] = {}
    by_key: dict[str, _Release] = {}
    linked_by_key: dict[str, _Release] = {}  # the first album with an id per row key
    releases: list[_Release] = []
    names = _Names()
    for row in rows:
        if not normalize_name(row.artist):
            result.warnings.append(NO_ARTIST_WARNING.format(tab=row.tab, row=row.row_number))
            continue
        names.add(row)
        key = album_identity_key(artist=row.artist, title=row.title, year=row.year)
        if row.spotify_album_id:
            release = by_spotify.get(row.spotify_album_id)
            if release is None:
                release = _Release(rows=[], spotify_id=row.spotify_album_id, natural_key=key)
                by_spotify[row.spotify_album_id] = release
                releases.append(release)
            linked_by_key.setdefault(key, release)
        else:
            release = by_key.get(key)
            if release is None:
                release = _Release(rows=[], spotify_id=None, natural_key=key)
                by_key[key] = release
                releases.append(release)
        release.rows.append(row)

    merged: list[_Release] = []
    for release in releases:
        linked = None if release.spotify_id else linked_by_key.get(release.natural_key)
        if linked is not None:
            linked.rows.extend(release.rows)
        else:
            merged.append(release)
    for release in merged:
        _merge_rows(release, names)
    return merged, names


def _merge_rows(release: _Release, names: _Names) -> None:
    """Compute the album's sheet values from its rows.

    The primary row (prog-metal list first, then prog-rock, then reissues; the first occurrence
    within a list) supplies every value; an empty value is filled from the other rows in that
    order. Debut/reissue marks and genres are the union over all rows (genres in order seen).
    """
    rows = sorted(release.rows, key=lambda row: _LIST_PRIORITY.get(row.release_list, 9))
    primary = rows[0]
    values: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        text = next((getattr(row, name).strip() for row in rows if getattr(row, name).strip()), "")
        values[name] = _fit(text, name)
    dated = next((row for row in rows if row.release_date is not None), primary)
    values["release_date"] = dated.release_date
    values["release_date_precision"] = dated.date_precision or Album.DatePrecision.DAY
    values["year"] = next((row.year for row in rows if row.year is not None), None)
    values["is_debut"] = any(row.is_debut for row in rows)
    values["is_reissue"] = any(row.is_reissue for row in rows)
    values["spotify_album_id"] = release.spotify_id
    values["in_workbook"] = True
    release.natural_key = album_identity_key(
        artist=primary.artist, title=primary.title, year=primary.year
    )
    release.identity_key = (
        spotify_identity_key(release.spotify_id) if release.spotify_id else release.natural_key
    )
    values["identity_key"] = release.identity_key
    release.artist_key = _fit(normalize_name(primary.artist), "normalized_name", Artist)
    values["artist_name"] = _preferred_spelling(names.artists[release.artist_key])
    release.vocal_slug = next(
        (slug for row in rows if (slug := vocal_style_slug(row.vocal_style))), ""
    )
    slugs = (genre_slug(genre) for row in rows for genre in row.genres)
    release.genre_slugs = tuple(dict.fromkeys(slug for slug in slugs if slug))
    release.values = values


# --- what the database holds -----------------------------------------------------------------


@dataclass(slots=True)
class _Catalog:
    """Everything the import compares against, loaded in a few queries up front."""

    albums: list[Album]
    artists: dict[str, Artist]  # by normalized_name
    artist_keys: dict[int, str]  # artist id -> normalized_name
    genres: dict[str, Genre]  # by slug
    vocal_styles: dict[str, VocalStyle]  # by slug
    album_genres: dict[int, dict[int, int]]  # album id -> {genre id: through row id}

    @classmethod
    def load(cls) -> _Catalog:
        artists = {artist.normalized_name: artist for artist in Artist.objects.order_by()}
        album_genres: dict[int, dict[int, int]] = {}
        through = Album.genres.through.objects.values_list("id", "album_id", "genre_id")
        for link_id, album_id, genre_id in through:
            album_genres.setdefault(album_id, {})[genre_id] = link_id
        return cls(
            albums=list(Album.objects.order_by("id")),
            artists=artists,
            artist_keys={artist.pk: key for key, artist in artists.items()},
            genres={genre.slug: genre for genre in Genre.objects.order_by()},
            vocal_styles={style.slug: style for style in VocalStyle.objects.order_by()},
            album_genres=album_genres,
        )

    def natural_key(self, album: Album) -> str:
        # The FK's raw id lives in the instance dict (django-types does not declare `artist_id`).
        artist = self.artist_keys.get(album.__dict__["artist_id"], "")
        return _fit(f"{artist}|{normalize_name(album.title)}|{album.year or ''}", "identity_key")


def _match(releases: Sequence[_Release], catalog: _Catalog) -> list[Album | None]:
    """Find each release's stored album; each stored album answers to one release at most.

    Strongest evidence first, over all releases before the next kind: the Spotify id; the
    identity key; the old no-link key of a release that has gained a Spotify link; then the
    same (artist, title, year) among albums no release has claimed (a link removed or changed).
    """
    by_spotify = {a.spotify_album_id: a for a in catalog.albums if a.spotify_album_id}
    by_identity = {album.identity_key: album for album in catalog.albums}
    by_natural: dict[str, list[Album]] = {}
    for album in catalog.albums:
        by_natural.setdefault(catalog.natural_key(album), []).append(album)
    matches: list[Album | None] = [None] * len(releases)
    claimed: set[int] = set()

    def claim(index: int, album: Album | None) -> None:
        if album is not None and matches[index] is None and album.pk not in claimed:
            matches[index] = album
            claimed.add(album.pk)

    for index, release in enumerate(releases):
        if release.spotify_id:
            claim(index, by_spotify.get(release.spotify_id))
    for index, release in enumerate(releases):
        claim(index, by_identity.get(release.identity_key))
    for index, release in enumerate(releases):
        if release.spotify_id:
            claim(index, by_identity.get(release.natural_key))
    for index, release in enumerate(releases):
        for album in by_natural.get(release.natural_key, ()):
            claim(index, album)
    return matches


# --- the sheet import ------------------------------------------------------------------------


def _report(
    on_progress: ProgressFn | None,
    stage: str,
    processed: int,
    total: int,
    message: str,
    result: ImportResult | None = None,
) -> None:
    if on_progress is not None:
        written = result.written() if result is not None else None
        on_progress(Progress(stage, processed, total, message, written))


def import_rows(
    *,
    rows: Sequence[SheetRow],
    result: ImportResult | None = None,
    dry_run: bool = False,
    on_progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    batch_size: int = BATCH_SIZE,
    allow_removals: bool = False,
) -> ImportResult:
    """Upsert the albums of `rows` in batches and hide stored albums that are not among them.

    Each batch (its albums, artists, genres and vocal styles) is one transaction. Nothing is
    written for an album whose values and genres already match, nor at all with `dry_run`.
    "Syncing album N of M..." is reported every PROGRESS_EVERY albums and after each batch.
    Raises ImportCancelled between batches when `should_cancel()` answers True.

    Our guard against a careless or wrong workbook (a renamed header, a deleted tab, another
    sheet's URL): when more than settings.SYNC_MAX_HIDE_FRACTION of the visible albums would
    be hidden, none is, unless `allow_removals`; `result.removals_kept` counts them and a
    warning says how to confirm.
    """
    result = result if result is not None else ImportResult()
    cancel = should_cancel or never_cancel
    releases, names = _plan(rows, result)
    catalog = _Catalog.load()
    matches = _match(releases, catalog)
    total = result.total = len(releases)
    writer = _BatchWriter(catalog=catalog, names=names, result=result, dry_run=dry_run)

    def report(processed: int) -> None:
        message = SYNCING_MESSAGE.format(processed=processed, total=total)
        _report(on_progress, STAGE_IMPORTING, processed, total, message, result)

    report(0)
    for start in range(0, total, batch_size):
        if cancel():
            raise ImportCancelled(result, start, total)
        end = min(start + batch_size, total)
        writer.write(
            releases[start:end],
            matches[start:end],
            on_album=(lambda done, start=start: report(start + done)) if on_progress else None,
        )
        report(end)
    if cancel():
        raise ImportCancelled(result, total, total)

    claimed = {album.pk for album in matches if album is not None}
    visible = sum(1 for album in catalog.albums if album.in_workbook)
    gone = [a.pk for a in catalog.albums if a.in_workbook and a.pk not in claimed]
    fraction = float(settings.SYNC_MAX_HIDE_FRACTION)
    if gone and not allow_removals and len(gone) > fraction * visible:
        result.removals_kept = len(gone)
        result.warnings.insert(0, removals_kept(len(gone), percent=f"{fraction * 100:g}%"))
        return result
    if dry_run:
        result.removed += len(gone)
        by_id = {album.pk: album for album in catalog.albums}
        names_by_id = {artist.pk: artist.name for artist in catalog.artists.values()}
        result.planned.extend(
            PlannedChange(
                CHANGE_REMOVED,
                f"{names_by_id.get(by_id[pk].__dict__['artist_id'], '')} - {by_id[pk].title}",
            )
            for pk in gone
        )
    if gone and not dry_run:
        now = timezone.now()
        with transaction.atomic():
            for start in range(0, len(gone), CHUNK_SIZE):
                chunk = gone[start : start + CHUNK_SIZE]
                Album.objects.filter(pk__in=chunk).update(in_workbook=False, updated_at=now)
        result.removed += len(gone)  # once committed: the counts are what the database holds
    return result


@dataclass(slots=True)
class _LookupChanges:
    """New and renamed rows of one lookup model (Artist, Genre or VocalStyle) for a batch."""

    model: type[Any]
    key_field: str
    existing: dict[str, Any]
    new: list[Any] = field(default_factory=list)
    changed: list[Any] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)

    def apply(self) -> None:
        set_search_fields(self.new)
        if (folded := set_search_fields(self.changed)) is not None:
            self.fields.add(folded)
        if self.new:
            self.model.objects.bulk_create(self.new, batch_size=CHUNK_SIZE)
            _fill_missing_pks(self.model, self.new, self.key_field)
            for instance in self.new:
                self.existing[getattr(instance, self.key_field)] = instance
        if self.changed:
            if any(f.name == "updated_at" for f in self.model._meta.fields):
                now = timezone.now()
                for instance in self.changed:
                    instance.updated_at = now
                self.fields.add("updated_at")
            self.model.objects.bulk_update(self.changed, sorted(self.fields), batch_size=CHUNK_SIZE)


@dataclass(slots=True)
class _AlbumChanges:
    new: list[Album] = field(default_factory=list)
    changed: list[Album] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    links_to_add: list[tuple[Album, list[int]]] = field(default_factory=list)
    links_to_remove: list[int] = field(default_factory=list)
    # What these changes count for; added to the run's result once they are committed, so the
    # counts on the row are always what the database holds (docs/architecture.md).
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    attempted_keys: set[str] = field(default_factory=set)
    planned: list[PlannedChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.new or self.changed or self.links_to_remove)


@dataclass(slots=True)
class _BatchWriter:
    """Compares a batch of releases with the catalog and writes only the differences."""

    catalog: _Catalog
    names: _Names
    result: ImportResult
    dry_run: bool
    _done: set[tuple[type[Any], str]] = field(default_factory=set)

    # Albums of the current run found deleted meanwhile (in the admin): failed, not written.
    _vanished: set[int] = field(default_factory=set)

    def write(
        self,
        releases: Sequence[_Release],
        matches: Sequence[Album | None],
        *,
        on_album: Callable[[int], None] | None = None,
    ) -> None:
        """Write the batch's differences; `on_album(n)` is told every PROGRESS_EVERY albums
        compared (the batch's writes follow within moments).

        A batch the database refuses (IntegrityError, DataError: an album deleted meanwhile, a
        value it cannot store) is written again album by album, each in its own transaction:
        only the albums it still refuses fail, with their reason, and the run goes on.
        """
        if self.dry_run:
            self._count(self._album_changes(releases, matches, on_album))
            return
        try:
            self._write_batch(releases, matches, on_album)
        except (*ALBUM_WRITE_ERRORS, _AlbumVanished):
            for release, album in zip(releases, matches, strict=True):
                self._write_one(release, album)

    def _write_one(self, release: _Release, album: Album | None) -> None:
        kind = ""
        if album is None or album.pk not in self._vanished:
            try:
                self._write_batch([release], [album], None)
                return
            except ALBUM_WRITE_ERRORS as error:
                kind = type(error).__name__
            except _AlbumVanished:
                pass
        gone = album is not None and album.pk in self._vanished
        reason = ALBUM_DELETED if gone or not kind else ALBUM_REFUSED.format(kind=kind)
        self.result.failed += 1
        self.result.attempted_keys.add(release.identity_key)
        self.result.failures.append(
            AlbumFailure(
                label=_release_label(release),
                reason=reason,
                album_id=album.pk if album is not None and not gone else None,
            )
        )

    def _write_batch(
        self,
        releases: Sequence[_Release],
        matches: Sequence[Album | None],
        on_album: Callable[[int], None] | None,
    ) -> None:
        """One transaction; the counts join the result only once it is committed."""
        lookups = self._lookup_changes(releases)
        try:
            if not any(change.new or change.changed for change in lookups):
                albums = self._album_changes(releases, matches, on_album)
                if albums:
                    with transaction.atomic():
                        self._write_albums(albums)
            else:
                # New artists/genres/vocal styles get their ids inside the batch's
                # transaction, so an interrupted run leaves none of them without the albums
                # that refer to them.
                with transaction.atomic():
                    for change in lookups:
                        change.apply()
                    for key, artist in self.catalog.artists.items():
                        self.catalog.artist_keys[artist.pk] = key
                    albums = self._album_changes(releases, matches, on_album)
                    self._write_albums(albums)
        except (*ALBUM_WRITE_ERRORS, _AlbumVanished):
            self._forget(lookups, matches)
            raise
        self._count(albums)

    def _count(self, albums: _AlbumChanges) -> None:
        result = self.result
        result.created += albums.created
        result.updated += albums.updated
        result.unchanged += albums.unchanged
        result.attempted_keys |= albums.attempted_keys
        result.planned.extend(albums.planned)

    def _forget(self, lookups: Sequence[_LookupChanges], matches: Sequence[Album | None]) -> None:
        """After a rolled-back batch, make what this writer holds in memory match the database
        again: the new artists/genres/styles it made are gone, the renamed ones and the albums
        it changed hold their stored values (and genres); an album no longer stored is noted
        as vanished."""
        for change in lookups:
            for instance in change.new:
                key = getattr(instance, change.key_field)
                change.existing.pop(key, None)
                self._done.discard((change.model, key))
            stored = change.model.objects.in_bulk([instance.pk for instance in change.changed])
            for instance in change.changed:
                key = getattr(instance, change.key_field)
                self._done.discard((change.model, key))
                _copy_fields(stored.get(instance.pk), instance)
        albums = [album for album in matches if album is not None]
        fresh = Album.objects.in_bulk([album.pk for album in albums])
        for album in albums:
            if album.pk not in fresh:
                self._vanished.add(album.pk)
            _copy_fields(fresh.get(album.pk), album)
            self.catalog.album_genres.pop(album.pk, None)
        through: Any = Album.genres.through
        links = through.objects.filter(album_id__in=list(fresh)).values_list(
            "id", "album_id", "genre_id"
        )
        for link_id, album_id, genre_id in links:
            self.catalog.album_genres.setdefault(album_id, {})[genre_id] = link_id

    # -- artists, genres, vocal styles --------------------------------------------------------

    def _lookup_changes(self, releases: Sequence[_Release]) -> list[_LookupChanges]:
        """The artists, genres and vocal styles this batch refers to that are new or renamed.

        Display names are the most frequent spelling in the workbook (ties: the first seen),
        so they do not depend on which batch meets a name first; an artist's country is its
        most frequent non-empty country.
        """
        names = self.names
        artists = {
            key: {
                "name": _fit(_preferred_spelling(names.artists[key]), "name", Artist),
                "country": _fit(
                    _preferred_spelling(names.artist_countries.get(key, Counter())),
                    "country",
                    Artist,
                ),
            }
            for key in {release.artist_key for release in releases}
        }
        genres = {
            slug: {"name": _fit(_preferred_spelling(names.genres[slug]), "name", Genre)}
            for slug in {slug for release in releases for slug in release.genre_slugs}
        }
        styles = {
            slug: {"name": _fit(_preferred_spelling(names.vocal_styles[slug]), "name", VocalStyle)}
            for slug in {release.vocal_slug for release in releases if release.vocal_slug}
        }
        return [
            self._diff(Artist, "normalized_name", self.catalog.artists, artists),
            self._diff(Genre, "slug", self.catalog.genres, genres),
            self._diff(VocalStyle, "slug", self.catalog.vocal_styles, styles),
        ]

    def _diff(
        self,
        model: type[Any],
        key_field: str,
        existing: dict[str, Any],
        wanted: dict[str, dict[str, Any]],
    ) -> _LookupChanges:
        changes = _LookupChanges(model=model, key_field=key_field, existing=existing)
        for key in sorted(wanted):
            if (model, key) in self._done:
                continue  # an earlier batch already wrote it
            self._done.add((model, key))
            values = wanted[key]
            instance = existing.get(key)
            if instance is None:
                changes.new.append(model(**{key_field: key, **values}))
                continue
            differs = {name for name, value in values.items() if getattr(instance, name) != value}
            if differs:
                for name in differs:
                    setattr(instance, name, values[name])
                changes.changed.append(instance)
                changes.fields |= differs
        return changes

    # -- albums -------------------------------------------------------------------------------

    def _album_changes(
        self,
        releases: Sequence[_Release],
        matches: Sequence[Album | None],
        on_album: Callable[[int], None] | None = None,
    ) -> _AlbumChanges:
        """Count each release as created / updated / unchanged and collect the differences."""
        changes = _AlbumChanges()
        for done, (release, album) in enumerate(zip(releases, matches, strict=True)):
            if on_album is not None and done and done % PROGRESS_EVERY == 0:
                on_album(done)
            wanted = self._wanted_values(release, album)
            genre_ids = [
                genre.pk
                for slug in release.genre_slugs
                if (genre := self.catalog.genres.get(slug)) is not None
            ]
            if album is None:
                changes.created += 1
                changes.attempted_keys.add(release.identity_key)
                if self.dry_run:
                    changes.planned.append(PlannedChange(CHANGE_NEW, _release_label(release)))
                new_album = Album(**wanted)
                changes.new.append(new_album)
                changes.links_to_add.append((new_album, genre_ids))
                continue
            differs = {name for name, value in wanted.items() if getattr(album, name) != value}
            stored = self.catalog.album_genres.get(album.pk, {})
            # In a dry run a genre that does not exist yet has no id: the genres would change.
            genres_differ = len(genre_ids) < len(release.genre_slugs) or set(genre_ids) != set(
                stored
            )
            if not differs and not genres_differ:
                changes.unchanged += 1
                continue
            changes.updated += 1
            changes.attempted_keys.add(release.identity_key)
            if self.dry_run:
                changed = sorted({_field_label(name) for name in differs})
                changed += ["genres"] if genres_differ else []
                changes.planned.append(
                    PlannedChange(CHANGE_CHANGED, _release_label(release), tuple(changed))
                )
            for name in differs:
                setattr(album, name, wanted[name])
            changes.changed.append(album)
            changes.fields |= differs
            if genres_differ:
                wanted_ids = set(genre_ids)
                changes.links_to_add.append((album, [g for g in genre_ids if g not in stored]))
                changes.links_to_remove.extend(
                    link for genre_id, link in stored.items() if genre_id not in wanted_ids
                )
        return changes

    def _wanted_values(self, release: _Release, album: Album | None) -> dict[str, Any]:
        values = {k: v for k, v in release.values.items() if k != "artist_name"}
        artist = self.catalog.artists.get(release.artist_key)
        values["artist_id"] = artist.pk if artist is not None else None
        style = self.catalog.vocal_styles.get(release.vocal_slug) if release.vocal_slug else None
        values["vocal_style_id"] = style.pk if style is not None else None
        if album is None:
            return values
        if album.spotify_album_id != release.spotify_id:
            values.update(_SPOTIFY_RESET)  # another Spotify album: fetch its data again
        elif album.spotify_fetched_at is not None and _refines(
            album.release_date,
            album.release_date_precision,
            values["release_date"],
            values["release_date_precision"],
        ):
            # Spotify made the sheet's date more precise earlier: keep that precision.
            values["release_date"] = album.release_date
            values["release_date_precision"] = album.release_date_precision
        return values

    def _write_albums(self, changes: _AlbumChanges) -> None:
        set_search_fields(changes.new)
        set_search_fields(changes.changed)
        if changes.new:
            Album.objects.bulk_create(changes.new, batch_size=CHUNK_SIZE)
            _fill_missing_pks(Album, changes.new, "identity_key")
        if changes.changed:
            now = timezone.now()
            for album in changes.changed:
                album.updated_at = now
            fields = sorted(changes.fields | {"updated_at", "search_title"})
            written = Album.objects.bulk_update(changes.changed, fields, batch_size=CHUNK_SIZE)
            if written < len(changes.changed):
                raise _AlbumVanished  # deleted meanwhile: "updated" would not be true
        through: Any = Album.genres.through
        if changes.links_to_remove:
            for start in range(0, len(changes.links_to_remove), CHUNK_SIZE):
                chunk = changes.links_to_remove[start : start + CHUNK_SIZE]
                through.objects.filter(pk__in=chunk).delete()
        links = [
            through(album_id=album.pk, genre_id=genre_id)
            for album, genre_ids in changes.links_to_add
            for genre_id in genre_ids
        ]
        if links:
            through.objects.bulk_create(links, batch_size=CHUNK_SIZE)


def _copy_fields(source: Album | Any | None, target: Any) -> None:
    """Give `target` the stored values of `source` (the same row read again), if any."""
    if source is None:
        return
    for model_field in type(target)._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(source, model_field.attname))


def _release_label(release: _Release) -> str:
    return f"{release.values.get('artist_name', '')} - {release.values.get('title', '')}"


def _field_label(attname: str) -> str:
    """'vocal_style_id' -> 'vocal style', 'in_workbook' -> 'in workbook' (a dry run's list)."""
    return attname.removesuffix("_id").replace("_", " ")


def _fill_missing_pks(model: type[Any], instances: list[Any], key_field: str) -> None:
    """bulk_create sets primary keys on PostgreSQL and SQLite >= 3.35; read them back otherwise."""
    missing = [instance for instance in instances if instance.pk is None]
    if not missing:
        return
    keys = [getattr(instance, key_field) for instance in missing]
    pks: dict[str, int] = {}
    for start in range(0, len(keys), CHUNK_SIZE):
        chunk = keys[start : start + CHUNK_SIZE]
        query = model.objects.filter(**{f"{key_field}__in": chunk}).values_list(key_field, "pk")
        pks.update(dict(query))
    for instance in missing:
        instance.pk = pks[getattr(instance, key_field)]


# --- Spotify enrichment ----------------------------------------------------------------------


def enrich_albums(
    *,
    client: SpotifyClient,
    refresh: bool = False,
    result: ImportResult | None = None,
    on_progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> ImportResult:
    """Fill the Spotify fields of albums in the workbook that have a Spotify id.

    Only albums never fetched, unless `refresh`. Each album is written (one UPDATE) as its lookup
    arrives. A per-album error is a failure of that album; SpotifyError stops enrichment and is
    kept in `result.spotify_stopped`, unless cancel was asked for meanwhile (a request that
    hung, say): then, as between albums, ImportCancelled is raised.
    """
    result = result if result is not None else ImportResult()
    cancel = should_cancel or never_cancel
    albums = Album.objects.filter(in_workbook=True, spotify_album_id__isnull=False)
    if not refresh:
        albums = albums.filter(spotify_fetched_at__isnull=True)
    by_id = {
        album.spotify_album_id: album
        for album in albums.select_related("artist").order_by("id")
        if album.spotify_album_id
    }
    total = len(by_id)
    if not total:
        return result

    def report(processed: int, message: str = "") -> None:
        text = message or ENRICHING_MESSAGE.format(processed=processed, total=total)
        _report(on_progress, STAGE_ENRICHING, processed, total, text, result)

    report(0)
    processed = 0
    requests_before = client.requests_made
    lookups = client.iter_albums(list(by_id), should_stop=cancel)
    try:
        for item in lookups:
            if not isinstance(item, AlbumLookup):  # a RateLimitPause
                report(processed, RATE_LIMIT_MESSAGE.format(seconds=math.ceil(item.seconds)))
                continue
            album = by_id.get(item.album_id)
            if album is None:
                continue
            processed += 1
            _store_lookup(album, item, result)
            report(processed)
            if processed < total and cancel():
                raise ImportCancelled(result, processed, total)
        if processed < total and cancel():
            raise ImportCancelled(result, processed, total)
    except SpotifyError as error:
        if cancel():
            raise ImportCancelled(result, processed, total) from error
        result.spotify_stopped = str(error)
    finally:
        close = getattr(lookups, "close", None)
        if close is not None:
            close()  # stops the client's workers when we leave early
        result.spotify_requests += client.requests_made - requests_before
    return result


def _store_lookup(album: Album, lookup: AlbumLookup, result: ImportResult) -> None:
    now = timezone.now()
    result.attempted_keys.add(album.identity_key)
    if lookup.album is None:
        reason = lookup.error or NOT_FOUND
        result.failed += 1
        result.failures.append(
            AlbumFailure(
                label=f"{album.artist.name} - {album.title}", reason=reason, album_id=album.pk
            )
        )
        if reason == NOT_FOUND:
            # A definite answer, unlike an outage: not asked again by the next incremental run
            # (--refresh-spotify asks again). Other errors leave the album for the next run.
            Album.objects.filter(pk=album.pk).update(spotify_fetched_at=now)
        return
    values = _spotify_values(album, lookup.album)
    try:
        # Its own transaction: a value the database refuses fails this album, not the run.
        with transaction.atomic():
            Album.objects.filter(pk=album.pk).update(
                **values, spotify_fetched_at=now, updated_at=now
            )
    except ALBUM_WRITE_ERRORS as error:
        result.failed += 1
        result.failures.append(
            AlbumFailure(
                label=f"{album.artist.name} - {album.title}",
                reason=ALBUM_REFUSED.format(kind=type(error).__name__),
                album_id=album.pk,
            )
        )
        return
    result.enriched += 1


def _spotify_values(album: Album, spotify: SpotifyAlbum) -> dict[str, Any]:
    """What Spotify adds to the sheet's album (the sheet's own values win)."""
    tracks = spotify.total_tracks
    values: dict[str, Any] = {
        "cover_image_url": _fit(spotify.image_large_url, "cover_image_url"),
        "cover_thumbnail_url": _fit(spotify.image_thumbnail_url, "cover_thumbnail_url"),
        "spotify_name": _fit(spotify.name, "spotify_name"),
        "spotify_artist_name": _fit(", ".join(spotify.artist_names), "spotify_artist_name"),
        "total_tracks": tracks if tracks is not None and 0 <= tracks <= 32767 else None,
    }
    if not album.spotify_url and spotify.url:
        values["spotify_url"] = _fit(spotify.url, "spotify_url")
    if _refines(
        spotify.release_date,
        spotify.release_date_precision,
        album.release_date,
        album.release_date_precision,
    ):
        values["release_date"] = spotify.release_date
        values["release_date_precision"] = spotify.release_date_precision
    return values


# --- the whole run ---------------------------------------------------------------------------


def import_catalog(
    *,
    source: str | None = None,
    skip_spotify: bool = False,
    refresh_spotify: bool = False,
    dry_run: bool = False,
    on_progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    spotify: SpotifyClient | None = None,
    allow_removals: bool = False,
) -> ImportResult:
    """Fetch the workbook, import its albums, enrich them from Spotify; return the counts.

    Raises WorkbookError (nothing written) when the workbook cannot be fetched or read, and
    ImportCancelled (with the partial result) when `should_cancel()` answers True. A dry run
    compares and counts without writing and without asking Spotify. `allow_removals` lifts
    the SYNC_MAX_HIDE_FRACTION guard of `import_rows`.
    """
    _report(on_progress, STAGE_FETCHING, 0, 0, reading_message(source or None))
    try:
        workbook = load_workbook(source or None, should_cancel=should_cancel)
    except WorkbookCancelled:
        raise ImportCancelled(ImportResult(), 0, 0) from None
    if not workbook.rows:
        raise WorkbookError(EMPTY_WORKBOOK)
    result = ImportResult(warnings=[str(warning) for warning in workbook.warnings])
    try:
        import_rows(
            rows=workbook.rows,
            result=result,
            dry_run=dry_run,
            on_progress=on_progress,
            should_cancel=should_cancel,
            allow_removals=allow_removals,
        )
        if not (dry_run or skip_spotify) and settings.SPOTIFY_ENABLED:
            enrich_albums(
                client=spotify or SpotifyClient.from_settings(),
                refresh=refresh_spotify,
                result=result,
                on_progress=on_progress,
                should_cancel=should_cancel,
            )
    except DATABASE_OUTAGE_ERRORS as error:
        if dry_run:
            raise  # its counts are what a sync would do, nothing written
        # What was committed before stays, and `result` counts exactly that.
        raise DatabaseUnavailable(result) from error
    _report(on_progress, STAGE_FINALIZING, result.total, result.total, FINALIZING_MESSAGE, result)
    return result
