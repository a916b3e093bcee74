"""The importer: workbook rows (+ Spotify) -> catalog upserts (docs/architecture.md)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import cast

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Album, Artist, Genre, VocalStyle
from catalog.services import importer
from catalog.services.download import NOT_A_WORKBOOK, WorkbookError
from catalog.services.importer import (
    ENRICHING_MESSAGE,
    FINALIZING_MESSAGE,
    RATE_LIMIT_MESSAGE,
    STAGE_ENRICHING,
    STAGE_FETCHING,
    STAGE_FINALIZING,
    STAGE_IMPORTING,
    SYNCING_MESSAGE,
    ImportCancelled,
    ImportResult,
    Progress,
    enrich_albums,
    import_rows,
    removals_kept,
)
from catalog.services.release_rows import SheetRow
from catalog.services.spotify import (
    AUTH_UNAVAILABLE,
    CREDENTIALS_INVALID,
    NOT_FOUND,
    QUOTA_EXCEEDED,
    AlbumLookup,
    SpotifyClient,
    SpotifyError,
    parse_album,
)
from tests.support.factories import sheet_row as row
from tests.support.spotify_standin import generated_album
from tests.support.workbook_server import WorkbookServer
from tests.support.workbooks import ReleaseSpec, make_workbook, save_workbook

pytestmark = pytest.mark.django_db


def sid(number: int) -> str:
    """A well-formed 22-character Spotify album id."""
    return f"{number:022d}"


def numbered_rows(count: int, *, linked: bool = True) -> list[SheetRow]:
    return [
        row(
            f"Artist {n % 40}",
            f"Album {n}",
            row_number=7 + n,
            genres=(f"Genre {n % 7}", f"Style {n % 5}"),
            vocal_style=("Harsh", "Clean", "Mixed")[n % 3],
            spotify_album_id=sid(n) if linked and n % 4 else None,
        )
        for n in range(count)
    ]


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if re.match(r"\s*(INSERT|UPDATE|DELETE)\b", query["sql"], re.IGNORECASE)
    ]


def genre_names(album: Album) -> set[str]:
    return set(album.genres.values_list("name", flat=True))


# --- creating ---------------------------------------------------------------------------------


def test_rows_create_albums_with_artists_genres_and_vocal_styles():
    """Each row becomes an album with its artist, genres, vocal style and sheet fields."""
    result = import_rows(
        rows=[
            row(
                "Mirar",
                "Ascension",
                genres=("Avant-Garde metal", "Harsh Electronic", "Djent"),
                vocal_style="Instrumental",
                spotify_album_id=sid(1),
                bandcamp_url="https://mirar.bandcamp.com/album/ascension",
                is_debut=True,
            ),
            row("Estuarine", "Corporeal Furnace", format="EP", country="Tampa, FL"),
        ]
    )

    assert (result.created, result.updated, result.unchanged, result.total) == (2, 0, 0, 2)
    mirar = Album.objects.get(title="Ascension")
    assert mirar.artist.name == "Mirar"
    assert mirar.artist.normalized_name == "mirar"
    assert genre_names(mirar) == {"Avant-Garde metal", "Harsh Electronic", "Djent"}
    assert mirar.vocal_style is not None
    assert (mirar.vocal_style.name, mirar.vocal_style.slug) == ("Instrumental", "instrumental")
    assert mirar.spotify_album_id == sid(1)
    assert mirar.identity_key == f"spotify:{sid(1)}"
    assert mirar.bandcamp_url == "https://mirar.bandcamp.com/album/ascension"
    assert mirar.is_debut
    assert (mirar.release_date, mirar.release_date_precision, mirar.year) == (
        date(2025, 1, 1),
        "day",
        2025,
    )
    estuarine = Album.objects.get(title="Corporeal Furnace")
    assert (estuarine.format, estuarine.country) == ("EP", "Tampa, FL")
    assert Artist.objects.count() == 2


def test_rows_without_a_spotify_link_are_cataloged_by_normalised_key():
    """A row with no Spotify link is an album too, identified by "artist|title|year"."""
    import_rows(rows=[row("  Coffret  de Bijoux ", "LEI", spotify_album_id=None)])

    album = Album.objects.get()
    assert album.spotify_album_id is None
    assert album.identity_key == "coffret de bijoux|lei|2025"
    assert album.title == "LEI"
    assert album.artist.name == "Coffret  de Bijoux"


def test_row_without_artist_is_skipped_with_a_warning():
    """A row with no artist name cannot be identified: it is skipped and reported."""
    result = import_rows(rows=[row("", "Untitled", row_number=42), row()])

    assert result.created == 1
    assert result.warnings == ["2025 Prog-metal, row 42: no artist name, row skipped"]


# --- identity and merging ---------------------------------------------------------------------


def test_album_is_found_again_by_its_spotify_id_when_its_title_changes():
    """The Spotify id is the identity: a corrected title updates the same album."""
    import_rows(rows=[row(title="Ascenion", spotify_album_id=sid(1))])
    album = Album.objects.get()

    result = import_rows(rows=[row(title="Ascension", spotify_album_id=sid(1))])

    assert (result.created, result.updated) == (0, 1)
    assert Album.objects.get().pk == album.pk
    assert Album.objects.get().title == "Ascension"


def test_album_without_link_is_found_again_by_normalised_key():
    """Case and spacing differences in artist or title do not make a new album."""
    import_rows(rows=[row("Mirar", "Ascension")])

    result = import_rows(rows=[row("MIRAR ", "ascension")])

    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert Album.objects.count() == 1
    assert Album.objects.get().title == "ascension"


def test_same_album_in_two_tabs_is_one_album_with_prog_metal_values():
    """Cross-tab duplicates merge; the prog-metal row's values win, genres are the union."""
    result = import_rows(
        rows=[
            row(
                "Mirar",
                "Ascension (Prog-rock spelling)",
                tab="2025 Prog-rock",
                release_list="prog-rock",
                genres=("Art rock",),
                spotify_album_id=sid(1),
                youtube_url="https://youtube.com/watch?v=x",
            ),
            row(
                "Mirar",
                "Ascension",
                release_list="prog-metal",
                genres=("Djent",),
                spotify_album_id=sid(1),
            ),
        ]
    )

    assert (result.created, result.total) == (1, 1)
    album = Album.objects.get()
    assert album.title == "Ascension"
    assert album.release_list == "prog-metal"
    assert album.youtube_url == "https://youtube.com/watch?v=x"  # filled from the other row
    assert genre_names(album) == {"Djent", "Art rock"}


def test_repeated_row_in_one_tab_is_one_album_first_occurrence_wins():
    """An in-tab duplicate (as in the real 2025 tab) merges into one album."""
    result = import_rows(
        rows=[
            row("A Man Named Onigumo", "The Marrow Mirror", release_date=date(2025, 9, 1)),
            row("A Man Named Onigumo", "The Marrow Mirror", release_date=date(2025, 12, 1)),
        ]
    )

    assert (result.created, result.total) == (1, 1)
    assert Album.objects.get().release_date == date(2025, 9, 1)


def test_row_without_link_joins_the_linked_row_of_the_same_album():
    """The same release linked in one tab and not in another is one album."""
    result = import_rows(
        rows=[
            row(spotify_album_id=sid(1)),
            row(tab="2025 Prog-rock", release_list="prog-rock", spotify_album_id=None),
        ]
    )

    assert result.created == 1
    assert Album.objects.get().spotify_album_id == sid(1)


def test_different_spotify_ids_with_the_same_names_stay_two_albums():
    """Two linked rows with the same artist and title but different Spotify albums stay apart."""
    result = import_rows(rows=[row(spotify_album_id=sid(1)), row(spotify_album_id=sid(2))])

    assert result.created == 2


def test_album_gaining_a_spotify_link_is_updated_not_duplicated():
    """An album first imported without a link is found by its old key once the link appears."""
    import_rows(rows=[row(spotify_album_id=None)])
    album = Album.objects.get()

    result = import_rows(rows=[row(spotify_album_id=sid(5))])

    assert (result.created, result.updated, result.removed) == (0, 1, 0)
    album.refresh_from_db()
    assert album.spotify_album_id == sid(5)
    assert album.identity_key == f"spotify:{sid(5)}"
    assert Album.objects.count() == 1


def test_album_losing_its_spotify_link_is_updated_not_duplicated():
    """When the sheet drops a link, the album is found by artist, title and year."""
    import_rows(rows=[row(spotify_album_id=sid(5))])
    Album.objects.update(
        cover_image_url="https://i.scdn.co/image/x", spotify_fetched_at=timezone.now()
    )

    result = import_rows(rows=[row(spotify_album_id=None)])

    assert (result.created, result.updated, result.removed) == (0, 1, 0)
    album = Album.objects.get()
    assert album.spotify_album_id is None
    assert album.identity_key == "mirar|ascension|2025"
    assert (album.cover_image_url, album.spotify_fetched_at) == ("", None)


# --- genres and vocal styles ------------------------------------------------------------------


def test_post_punk_and_post_are_different_genres():
    """No substring merging: "Post-Punk" never becomes "Post"."""
    import_rows(rows=[row("A", "One", genres=("Post-Punk",)), row("B", "Two", genres=("Post",))])

    assert set(Genre.objects.values_list("slug", "name")) == {
        ("post-punk", "Post-Punk"),
        ("post", "Post"),
    }
    assert genre_names(Album.objects.get(title="One")) == {"Post-Punk"}
    assert genre_names(Album.objects.get(title="Two")) == {"Post"}


def test_case_hyphen_and_space_variants_are_one_genre_named_by_the_commonest_spelling():
    """ "Nu metal", "Nu-metal" and "nu  Metal" are one genre; its name is the most used spelling."""
    import_rows(
        rows=[
            row("A", "One", genres=("Nu metal",)),
            row("B", "Two", genres=("Nu-metal",)),
            row("C", "Three", genres=("Nu-metal",)),
            row("D", "Four", genres=("nu  Metal",)),
        ]
    )

    genre = Genre.objects.get()
    assert (genre.slug, genre.name) == ("nu-metal", "Nu-metal")
    assert Album.objects.filter(genres=genre).count() == 4


def test_vocal_styles_are_shared_by_slug():
    """Albums with the same vocal style share one VocalStyle row."""
    import_rows(rows=[row("A", "One", vocal_style="Mixed"), row("B", "Two", vocal_style="Mixed")])

    assert list(VocalStyle.objects.values_list("slug", "name")) == [("mixed", "Mixed")]


def test_changed_genres_add_and_remove_only_the_differences():
    """A genre change deletes the dropped link and inserts the new one, nothing else."""
    import_rows(rows=[row(genres=("Djent", "Prog-metal"))])
    album = Album.objects.get()
    kept_link = album.genres.through.objects.get(genre__name="Prog-metal")

    with CaptureQueriesContext(connection) as queries:
        result = import_rows(rows=[row(genres=("Prog-metal", "Mathcore"))])

    assert result.updated == 1
    assert genre_names(album) == {"Prog-metal", "Mathcore"}
    assert album.genres.through.objects.filter(pk=kept_link.pk).exists()
    statements = writes(queries)
    assert sum(sql.startswith("DELETE") for sql in statements) == 1
    assert Genre.objects.filter(name="Djent").exists()  # genres themselves are never deleted


# --- counts, idempotency, removal -------------------------------------------------------------


def test_repeat_import_writes_nothing_and_reports_everything_unchanged():
    """A second run over the same rows makes no INSERT, UPDATE or DELETE at all."""
    rows = numbered_rows(60)
    import_rows(rows=rows)

    with CaptureQueriesContext(connection) as queries:
        result = import_rows(rows=rows)

    assert (result.created, result.updated, result.unchanged, result.removed) == (0, 0, 60, 0)
    assert writes(queries) == []


def test_changed_row_counts_as_updated_and_the_rest_unchanged():
    """Only the album whose row changed is updated."""
    rows = numbered_rows(10)
    import_rows(rows=rows)
    rows[3] = dataclasses.replace(rows[3], country="Iceland")

    result = import_rows(rows=rows)

    assert (result.created, result.updated, result.unchanged) == (0, 1, 9)
    assert Album.objects.get(title="Album 3").country == "Iceland"


def test_removed_row_hides_the_album_without_deleting_it():
    """An album no longer in the sheet is hidden (in_workbook False) and counted removed."""
    import_rows(rows=[row("A", "One"), row("B", "Two")])

    result = import_rows(rows=[row("A", "One")], allow_removals=True)

    assert (result.removed, result.unchanged) == (1, 1)
    assert Album.objects.count() == 2
    assert not Album.objects.get(title="Two").in_workbook
    assert Album.objects.get(title="One").in_workbook


def ten_rows() -> list[SheetRow]:
    return [row(f"Artist {n}", f"Album {n}") for n in range(10)]


def test_hiding_up_to_the_fraction_of_the_visible_albums_goes_ahead():
    """1 of 10 visible albums gone is 10%, not more than SYNC_MAX_HIDE_FRACTION: it is hidden."""
    import_rows(rows=ten_rows())

    result = import_rows(rows=ten_rows()[1:])

    assert (result.removed, result.removals_kept) == (1, 0)
    assert not Album.objects.get(title="Album 0").in_workbook
    assert not any(warning.startswith("1 albums") for warning in result.warnings)


def test_hiding_more_than_the_fraction_hides_nothing_and_says_how_to_confirm(settings):
    """2 of 10 gone (20%): every album stays visible, and a warning says how to confirm."""
    import_rows(rows=ten_rows())

    with CaptureQueriesContext(connection) as queries:
        result = import_rows(rows=ten_rows()[2:])

    assert (result.removed, result.removals_kept, result.unchanged) == (0, 2, 8)
    assert result.warnings[0] == removals_kept(2, percent="10%")
    assert result.warnings[0] == (
        "2 albums are no longer in the workbook; more than 10% of the catalog, so they stay "
        "visible. Run import_albums --allow-removals to confirm"
    )
    assert writes(queries) == []
    assert Album.objects.filter(in_workbook=True).count() == 10

    settings.SYNC_MAX_HIDE_FRACTION = 0.25
    assert import_rows(rows=ten_rows()[2:]).removed == 2


def test_allow_removals_hides_them_all():
    """The confirmation: every album that left the workbook is hidden, however many."""
    import_rows(rows=ten_rows())

    result = import_rows(rows=ten_rows()[:1], allow_removals=True)

    assert (result.removed, result.removals_kept) == (9, 0)
    assert list(Album.objects.filter(in_workbook=True).values_list("title", flat=True)) == [
        "Album 0"
    ]


def test_album_coming_back_to_the_sheet_is_visible_again_and_counted_updated():
    """A hidden album that reappears is shown again."""
    import_rows(rows=[row("A", "One"), row("B", "Two")])
    import_rows(rows=[row("A", "One")], allow_removals=True)

    result = import_rows(rows=[row("A", "One"), row("B", "Two")])

    assert (result.created, result.updated, result.unchanged, result.removed) == (0, 1, 1, 0)
    assert Album.objects.get(title="Two").in_workbook


def test_dry_run_counts_without_writing():
    """A dry run reports what would change and writes nothing."""
    import_rows(rows=[row("A", "One"), row("B", "Two")])
    rows = [row("A", "One", country="Norway", genres=("Brand new genre",)), row("C", "Three")]

    with CaptureQueriesContext(connection) as queries:
        result = import_rows(rows=rows, dry_run=True, allow_removals=True)

    assert (result.created, result.updated, result.unchanged, result.removed) == (1, 1, 0, 1)
    assert writes(queries) == []
    assert Album.objects.count() == 2
    assert Album.objects.get(title="One").country == "France"
    assert not Genre.objects.filter(name="Brand new genre").exists()


def test_sheet_date_stays_when_it_is_precise_and_spotify_refinement_survives_reimport():
    """A date Spotify made more precise is kept by the next import of a year-precision row."""
    rows = [row(release_date=date(2025, 1, 1), date_precision="year", spotify_album_id=sid(1))]
    import_rows(rows=rows)
    Album.objects.update(
        release_date=date(2025, 3, 14),
        release_date_precision="day",
        spotify_fetched_at=timezone.now(),
    )

    result = import_rows(rows=rows)

    assert result.unchanged == 1
    assert Album.objects.get().release_date == date(2025, 3, 14)


# --- batches, queries, cancel, progress -------------------------------------------------------


# Queries one more batch of a first import may add: a savepoint and its release, the album
# INSERTs (SQLite's 999-parameter limit splits 100 wide album rows into three or four; one
# statement on PostgreSQL), the genre links' INSERT, a new artist, genre or vocal style or two.
QUERIES_PER_BATCH = 10


def _first_import_queries(count: int) -> int:
    """Queries of importing `count` rows into an empty catalog."""
    for model in (Album, Artist, Genre, VocalStyle):
        model.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        import_rows(rows=numbered_rows(count))
    return len(queries.captured_queries)


def test_number_of_queries_does_not_grow_per_row():
    """10 rows and a whole batch of rows (100) take nearly the same number of queries (bulk
    statements, prefetching); a repeat import of either is the same handful of reads.

    The allowance covers SQLite's 999-parameter limit, which makes Django split one bulk
    INSERT of 100 wide album rows into several statements; PostgreSQL needs none of it.
    """
    full_batch = importer.BATCH_SIZE
    small = _first_import_queries(10)
    large = _first_import_queries(full_batch)

    assert large <= small + 10
    with CaptureQueriesContext(connection) as repeat_small:
        import_rows(rows=numbered_rows(10))
    with CaptureQueriesContext(connection) as repeat_large:
        import_rows(rows=numbered_rows(full_batch))
    assert len(repeat_large.captured_queries) <= len(repeat_small.captured_queries) + 1


def test_more_rows_only_add_batches_of_a_fixed_handful_of_queries():
    """250 rows are three batches of at most 100: they take the queries of one full batch plus
    at most QUERIES_PER_BATCH for each further batch, not a query per row."""
    one_batch = _first_import_queries(importer.BATCH_SIZE)
    three_batches = _first_import_queries(2 * importer.BATCH_SIZE + importer.BATCH_SIZE // 2)

    assert three_batches > one_batch  # the further batches do write
    assert three_batches <= one_batch + 2 * QUERIES_PER_BATCH


def test_first_import_of_200_rows_stays_within_a_fixed_query_budget(
    django_assert_max_num_queries,
):
    """The whole first import of 200 rows is a small, fixed number of statements."""
    with django_assert_max_num_queries(30):
        import_rows(rows=numbered_rows(200))


def test_cancel_between_batches_keeps_the_batches_already_written():
    """Cancel stops before the next batch; albums written so far are complete."""
    answers = iter([False, True])

    with pytest.raises(ImportCancelled) as raised:
        import_rows(
            rows=numbered_rows(5, linked=False), batch_size=2, should_cancel=lambda: next(answers)
        )

    cancelled = raised.value
    assert (cancelled.processed, cancelled.total) == (2, 5)
    assert cancelled.result.created == 2
    assert str(cancelled) == "Sync cancelled after 2 of 5 albums"
    assert Album.objects.count() == 2
    for album in Album.objects.all():
        assert album.genres.count() == 2


def test_progress_reports_each_batch():
    """The import stage reports "Syncing album N of M..." at the start and after each batch."""
    seen: list[Progress] = []

    import_rows(rows=numbered_rows(5), batch_size=2, on_progress=seen.append)

    assert [(p.stage, p.processed, p.total) for p in seen] == [
        (STAGE_IMPORTING, 0, 5),
        (STAGE_IMPORTING, 2, 5),
        (STAGE_IMPORTING, 4, 5),
        (STAGE_IMPORTING, 5, 5),
    ]
    assert seen[1].message == SYNCING_MESSAGE.format(processed=2, total=5)
    assert seen[1].message == "Syncing album 2 of 5..."


def test_progress_within_a_batch_every_25_albums():
    """A batch reports "Syncing album N of M..." every 25 albums, so a 60-album sheet shows
    counts between 0 and 60 even though it is one batch."""
    seen: list[Progress] = []

    import_rows(rows=numbered_rows(60), on_progress=seen.append)

    assert [p.processed for p in seen] == [0, 25, 50, 60]
    assert seen[1].message == "Syncing album 25 of 60..."


def test_batches_hold_100_albums():
    """Cancel is checked between batches of 100 albums: a cancel after the first check stops
    the import with 100 albums written, each batch whole."""
    answers = iter([False, True])

    with pytest.raises(ImportCancelled) as raised:
        import_rows(rows=numbered_rows(250, linked=False), should_cancel=lambda: next(answers))

    assert (raised.value.processed, raised.value.total) == (100, 250)
    assert Album.objects.count() == 100


def test_result_counts_the_albums_the_run_attempted():
    """`attempted` counts the albums written or looked up in this run, each once: a repeat run
    attempts none, a changed row one; enrichment adds the albums it asks Spotify about."""
    rows = [row("A", "One"), row("B", "Two"), row("C", "Three")]
    assert import_rows(rows=rows).attempted == 3

    rows[1] = row("B", "Two", country="Norway")
    again = import_rows(rows=rows)

    assert (again.unchanged, again.updated, again.attempted) == (2, 1, 1)


# --- Spotify enrichment -----------------------------------------------------------------------


@pytest.fixture
def spotify_client(spotify_standin):
    return SpotifyClient.from_settings()


def test_enrichment_fills_what_the_sheet_lacks(spotify_standin, spotify_client):
    """Cover, thumbnail, track count and Spotify's own names are filled; a vaguer date refined."""
    spotify_standin.set_album(
        sid(1),
        name="ASCENSION (Deluxe)",
        release_date="2025-03-14",
        release_date_precision="day",
        total_tracks=9,
        artists=[{"id": "a", "name": "Mirar", "type": "artist"}, {"id": "b", "name": "Guest"}],
    )
    import_rows(
        rows=[row(release_date=date(2025, 3, 1), date_precision="month", spotify_album_id=sid(1))]
    )

    result = enrich_albums(client=spotify_client)

    assert (result.enriched, result.failed, result.spotify_requests) == (1, 0, 1)
    album = Album.objects.get()
    served = spotify_standin.album(sid(1))
    assert album.cover_image_url == served["images"][0]["url"]
    assert album.cover_thumbnail_url
    assert album.total_tracks == 9
    assert (album.spotify_name, album.spotify_artist_name) == ("ASCENSION (Deluxe)", "Mirar, Guest")
    assert (album.release_date, album.release_date_precision) == (date(2025, 3, 14), "day")
    assert album.title == "Ascension"
    assert album.spotify_fetched_at is not None


def test_sheet_fields_win_over_spotify(spotify_standin, spotify_client):
    """A precise sheet date, the title and the artist are never replaced by Spotify's."""
    spotify_standin.set_album(
        sid(1), name="Other Name", release_date="2024-12-30", release_date_precision="day"
    )
    import_rows(rows=[row(release_date=date(2025, 1, 1), spotify_album_id=sid(1))])

    enrich_albums(client=spotify_client)

    album = Album.objects.get()
    assert (album.title, album.artist.name) == ("Ascension", "Mirar")
    assert album.release_date == date(2025, 1, 1)
    assert album.spotify_name == "Other Name"


def test_spotify_date_that_contradicts_the_sheet_year_is_ignored(spotify_standin, spotify_client):
    """A year-precision sheet date is refined only by a Spotify date in that year."""
    spotify_standin.set_album(sid(1), release_date="2024-12-30", release_date_precision="day")
    import_rows(
        rows=[row(release_date=date(2025, 1, 1), date_precision="year", spotify_album_id=sid(1))]
    )

    enrich_albums(client=spotify_client)

    album = Album.objects.get()
    assert (album.release_date, album.release_date_precision) == (date(2025, 1, 1), "year")


def test_spotify_fills_a_missing_sheet_date(spotify_standin, spotify_client):
    """When the sheet has no date, Spotify's date and precision are used."""
    spotify_standin.set_album(sid(1), release_date="2025-06", release_date_precision="month")
    import_rows(rows=[row(release_date=None, spotify_album_id=sid(1))])

    enrich_albums(client=spotify_client)

    album = Album.objects.get()
    assert (album.release_date, album.release_date_precision) == (date(2025, 6, 1), "month")


def test_enrichment_is_incremental_and_refresh_fetches_again(spotify_standin, spotify_client):
    """A second run asks Spotify nothing; refresh asks again for every album."""
    import_rows(rows=numbered_rows(45))  # 33 rows with a link: 2 batch requests
    first = enrich_albums(client=spotify_client)
    assert (first.enriched, first.spotify_requests) == (33, 2)

    second = enrich_albums(client=SpotifyClient.from_settings())
    refreshed = enrich_albums(client=SpotifyClient.from_settings(), refresh=True)

    assert (second.enriched, second.spotify_requests) == (0, 0)
    assert (refreshed.enriched, refreshed.spotify_requests) == (33, 2)


def test_hidden_albums_are_not_enriched(spotify_standin, spotify_client):
    """Albums no longer in the workbook are left alone."""
    import_rows(
        rows=[row("A", "One", spotify_album_id=sid(1)), row("B", "Two", spotify_album_id=sid(2))]
    )
    import_rows(rows=[row("A", "One", spotify_album_id=sid(1))], allow_removals=True)

    result = enrich_albums(client=spotify_client)

    assert result.enriched == 1
    assert Album.objects.get(title="Two").spotify_fetched_at is None


def test_album_missing_on_spotify_is_a_failure_with_its_reason(spotify_standin, spotify_client):
    """A 404 is recorded as that album's failure; the others are enriched."""
    spotify_standin.mark_missing(sid(2))
    import_rows(
        rows=[row("A", "One", spotify_album_id=sid(1)), row("B", "Two", spotify_album_id=sid(2))]
    )
    missing = Album.objects.get(title="Two")

    result = enrich_albums(client=spotify_client)

    assert (result.enriched, result.failed) == (1, 1)
    assert result.failures == [importer.AlbumFailure("B - Two", NOT_FOUND, missing.pk)]
    missing.refresh_from_db()
    assert missing.cover_image_url == ""


def test_album_missing_on_spotify_is_not_asked_again_until_refresh(spotify_standin):
    """A 404 is a definite answer: the next incremental run skips it, a refresh asks again."""
    spotify_standin.mark_missing(sid(2))
    import_rows(rows=[row("B", "Two", spotify_album_id=sid(2))])
    enrich_albums(client=SpotifyClient.from_settings())

    again = enrich_albums(client=SpotifyClient.from_settings())
    refreshed = enrich_albums(client=SpotifyClient.from_settings(), refresh=True)

    assert (again.failed, again.spotify_requests) == (0, 0)
    assert (refreshed.failed, refreshed.spotify_requests) == (1, 1)


def test_album_failing_with_server_errors_is_retried_by_the_next_run(spotify_standin):
    """Exhausted retries fail that album with the reason; the next run tries it again."""
    spotify_standin.queue_failure("503", times=10)
    import_rows(rows=[row(spotify_album_id=sid(1))])

    first = enrich_albums(client=SpotifyClient.from_settings())
    spotify_standin.clear_failures()
    second = enrich_albums(client=SpotifyClient.from_settings())

    assert first.failed == 1
    assert first.failures[0].label == "Mirar - Ascension"
    assert "503" in first.failures[0].reason
    assert (second.failed, second.enriched) == (0, 1)


def test_spotify_error_stops_enrichment_but_keeps_the_import(spotify_standin, settings):
    """Bad credentials stop enrichment with the client's message; imported albums stay."""
    settings.SPOTIFY_CLIENT_SECRET = "wrong"
    import_rows(rows=[row(spotify_album_id=sid(1))])
    result = ImportResult(created=1)

    enrich_albums(client=SpotifyClient.from_settings(), result=result)

    assert result.spotify_stopped == CREDENTIALS_INVALID
    assert result.created == 1
    assert Album.objects.get().spotify_fetched_at is None


def test_rate_limit_pause_is_reported(spotify_standin, spotify_client):
    """A 429 is announced as "Spotify rate limit reached: resuming in N s"."""
    spotify_standin.queue_failure("429", retry_after=1)
    import_rows(rows=[row(spotify_album_id=sid(1))])
    seen: list[Progress] = []

    result = enrich_albums(client=spotify_client, on_progress=seen.append)

    assert result.enriched == 1
    messages = [p.message for p in seen]
    assert RATE_LIMIT_MESSAGE.format(seconds=1) in messages
    assert "Spotify rate limit reached: resuming in 1 s" in messages


def test_enrichment_progress_counts_albums(spotify_standin, spotify_client):
    """Enrichment reports "(N of M)" after each album."""
    import_rows(
        rows=[row("A", "One", spotify_album_id=sid(1)), row("B", "Two", spotify_album_id=sid(2))]
    )
    seen: list[Progress] = []

    enrich_albums(client=spotify_client, on_progress=seen.append)

    assert [(p.stage, p.processed, p.total, p.message) for p in seen] == [
        (STAGE_ENRICHING, 0, 2, ENRICHING_MESSAGE.format(processed=0, total=2)),
        (STAGE_ENRICHING, 1, 2, ENRICHING_MESSAGE.format(processed=1, total=2)),
        (STAGE_ENRICHING, 2, 2, "Enriching with Spotify metadata... (2 of 2)"),
    ]


def test_cancel_during_enrichment_keeps_albums_already_enriched(spotify_standin, settings):
    """Cancel between albums raises ImportCancelled; enriched albums stay written."""
    spotify_standin.set_mode("dev")  # single lookups: one album per answer
    settings.SPOTIFY_CONCURRENCY = 1
    import_rows(rows=numbered_rows(9))  # 6 linked albums
    enriched: list[Progress] = []

    def cancel_after_two() -> bool:
        return sum(p.processed > 0 for p in enriched) >= 2

    with pytest.raises(ImportCancelled) as raised:
        enrich_albums(
            client=SpotifyClient.from_settings(),
            on_progress=enriched.append,
            should_cancel=cancel_after_two,
        )

    assert (raised.value.processed, raised.value.total) == (2, 6)
    assert raised.value.result.enriched == 2
    assert Album.objects.filter(spotify_fetched_at__isnull=False).count() == 2


def test_enrichment_attempts_count_each_album_once(spotify_standin, spotify_client):
    """Albums created and then looked up count once; a run that only looks albums up counts
    the albums it asked about, not the workbook."""
    spotify_standin.mark_missing(sid(3))
    rows = [
        row("A", "One", spotify_album_id=sid(1)),
        row("B", "Two"),
        row("C", "Three", spotify_album_id=sid(3)),
    ]
    first = import_rows(rows=rows)

    enrich_albums(client=spotify_client, result=first)

    assert (first.created, first.failed, first.attempted) == (3, 1, 3)
    repeat = import_rows(rows=rows)
    enrich_albums(client=SpotifyClient.from_settings(), result=repeat, refresh=True)
    assert (repeat.unchanged, repeat.failed, repeat.attempted) == (3, 1, 2)


def test_cancel_while_the_first_token_request_is_retried_is_a_cancel(settings):
    """Cancel clicked while the client retries its first token request (the token URL refuses
    connections) ends the enrichment as cancelled: the client's wait for the token checks
    `should_stop`, so the lookups end without a SpotifyError and nothing reads "Spotify
    enrichment stopped early"."""
    settings.SPOTIFY_CLIENT_ID, settings.SPOTIFY_CLIENT_SECRET = "id", "secret"
    settings.SPOTIFY_TOKEN_URL = "http://127.0.0.1:9/api/token"  # nothing listens: refused
    import_rows(rows=[row(spotify_album_id=sid(1))])
    answers = iter([False, True, True, True])

    with pytest.raises(ImportCancelled) as raised:
        enrich_albums(
            client=SpotifyClient.from_settings(), should_cancel=lambda: next(answers, True)
        )

    assert (raised.value.processed, raised.value.total) == (0, 1)
    assert raised.value.result.spotify_stopped == ""


class SpotifyStoppingAfterCancel:
    """Stands in for SpotifyClient: answers the first `answered` ids, then Cancel is clicked
    while its next request hangs (`cancel_clicked` is set), and that request ends in a
    SpotifyError, as a token service that finally gives up does."""

    def __init__(self, *, answered: int) -> None:
        self.answered = answered
        self.requests_made = 0
        self.cancel_clicked = False
        self.error = SpotifyError(AUTH_UNAVAILABLE)

    def iter_albums(
        self, album_ids: Sequence[str], *, should_stop: Callable[[], bool]
    ) -> Iterator[AlbumLookup]:
        for album_id in album_ids[: self.answered]:
            self.requests_made += 1
            yield AlbumLookup(album_id, parse_album(generated_album(album_id)))
        self.requests_made += 1
        self.cancel_clicked = True  # the caller checked cancel after the last lookup: False
        raise self.error


def test_spotify_stopping_after_cancel_was_asked_for_is_a_cancel():
    """SpotifyError from the client after Cancel was clicked (during a request that hung) ends
    the enrichment as cancelled, with the albums enriched so far, not as "Spotify enrichment
    stopped early"."""
    import_rows(rows=numbered_rows(4))  # 3 linked albums
    client = SpotifyStoppingAfterCancel(answered=2)

    with pytest.raises(ImportCancelled) as raised:
        enrich_albums(
            client=cast(SpotifyClient, client), should_cancel=lambda: client.cancel_clicked
        )

    assert (raised.value.processed, raised.value.total) == (2, 3)
    assert raised.value.__cause__ is client.error
    assert raised.value.result.spotify_stopped == ""
    assert (raised.value.result.enriched, raised.value.result.spotify_requests) == (2, 3)
    assert Album.objects.filter(spotify_fetched_at__isnull=False).count() == 2


# --- import_catalog ---------------------------------------------------------------------------


def test_import_catalog_reports_every_stage_in_order(spotify_standin, monkeypatch):
    """Fetching, importing, enriching, finalizing: the messages the Sync panel shows."""
    from catalog.services.release_rows import RowWarning
    from catalog.services.workbook import ParsedWorkbook

    parsed = ParsedWorkbook(
        rows=[row(spotify_album_id=sid(1))],
        warnings=[RowWarning("2025 Prog-metal", 9, "unreadable date 'soon'")],
        tabs=["2025 Prog-metal"],
    )
    monkeypatch.setattr(importer, "load_workbook", lambda source, **options: parsed)
    seen: list[Progress] = []

    result = importer.import_catalog(source="x.xlsx", on_progress=seen.append)

    assert [p.stage for p in seen] == [
        STAGE_FETCHING,
        STAGE_IMPORTING,
        STAGE_IMPORTING,
        STAGE_ENRICHING,
        STAGE_ENRICHING,
        STAGE_FINALIZING,
    ]
    assert seen[0].message == "Reading x.xlsx..."
    assert seen[-1].message == FINALIZING_MESSAGE
    assert result.warnings == ["2025 Prog-metal, row 9: unreadable date 'soon'"]
    assert (result.created, result.enriched, result.spotify_requests) == (1, 1, 1)


# --- import_catalog on real workbook bytes ----------------------------------------------------


LINKED = "6eS23i4CUnkQph9azKMWYE"
SPECS = [
    ReleaseSpec("Mirar", "Ascension", date(2025, 1, 1), spotify=LINKED, genres="Djent, Post"),
    ReleaseSpec("Estuarine", "Corporeal Furnace", date(2025, 1, 1), genres="Post-Punk"),
    ReleaseSpec("Estuarine", "Corporeal Furnace", date(2025, 1, 1), genres="Post-Punk"),
]


def snapshot() -> list[tuple]:
    return list(
        Album.objects.order_by("id").values_list("id", "title", "in_workbook", "updated_at")
    )


def test_import_catalog_reads_a_workbook_file_and_merges_its_repeated_row(tmp_path):
    """A generated workbook: three rows, one repeated, make two albums; the parser's warning
    about the repeat is passed on."""
    path = save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": SPECS})

    result = importer.import_catalog(source=str(path), skip_spotify=True)

    assert (result.created, result.total) == (2, 2)
    assert any(warning.startswith("2025 Prog-metal, row 9: ") for warning in result.warnings)
    assert Album.objects.get(spotify_album_id=LINKED).title == "Ascension"
    assert set(Genre.objects.values_list("name", flat=True)) == {"Djent", "Post", "Post-Punk"}


def test_corrupt_workbook_leaves_the_catalog_untouched(tmp_path):
    """A damaged file raises WorkbookError and writes nothing: no album is hidden or changed."""
    import_rows(rows=[row("A", "One"), row("B", "Two")])
    before = snapshot()
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(make_workbook({"2025 Prog-metal": SPECS})[:2000])

    with pytest.raises(WorkbookError):
        importer.import_catalog(source=str(damaged), skip_spotify=True)

    assert snapshot() == before


def test_web_page_instead_of_a_workbook_leaves_the_catalog_untouched():
    """A login page served instead of the XLSX export is a sheet-level failure."""
    import_rows(rows=[row("A", "One")])
    before = snapshot()
    page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>"

    with (
        WorkbookServer(page, content_type="text/html; charset=utf-8") as server,
        pytest.raises(WorkbookError) as raised,
    ):
        importer.import_catalog(source=server.url, skip_spotify=True)

    assert str(raised.value) == NOT_A_WORKBOOK
    assert snapshot() == before


def test_workbook_without_release_rows_hides_nothing(tmp_path):
    """A release table with no rows is refused rather than hiding the whole catalog."""
    import_rows(rows=[row("A", "One")])
    path = save_workbook(tmp_path / "empty.xlsx", {"2025 Prog-metal": []}, unannounced=())

    with pytest.raises(WorkbookError) as raised:
        importer.import_catalog(source=str(path), skip_spotify=True)

    assert str(raised.value) == importer.EMPTY_WORKBOOK
    assert Album.objects.get().in_workbook


def test_dry_run_asks_spotify_nothing(tmp_path, spotify_standin):
    """A dry run neither writes nor calls Spotify."""
    path = save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": SPECS})

    result = importer.import_catalog(source=str(path), dry_run=True)

    assert result.created == 2
    assert Album.objects.count() == 0
    assert spotify_standin.stats.api_requests == 0
    assert spotify_standin.stats.token_requests == 0


def test_spotify_disabled_skips_enrichment(tmp_path, spotify_standin, settings):
    """SPOTIFY_ENABLED=False imports the sheet and leaves Spotify alone."""
    settings.SPOTIFY_ENABLED = False
    path = save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": SPECS})

    result = importer.import_catalog(source=str(path))

    assert (result.created, result.spotify_requests) == (2, 0)
    assert spotify_standin.stats.api_requests == 0


def test_import_catalog_builds_a_client_from_settings_and_enriches(tmp_path, spotify_standin):
    """Without a client argument the importer uses the SPOTIFY_* settings."""
    path = save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": SPECS})

    result = importer.import_catalog(source=str(path))
    again = importer.import_catalog(source=str(path))

    assert (result.enriched, result.spotify_requests) == (1, 1)
    assert Album.objects.get(spotify_album_id=LINKED).cover_image_url
    assert (again.enriched, again.spotify_requests, again.unchanged) == (0, 0, 2)
    refreshed = importer.import_catalog(source=str(path), refresh_spotify=True)
    assert (refreshed.enriched, refreshed.spotify_requests) == (1, 1)


def test_spotify_stopping_keeps_the_sheet_import(tmp_path, spotify_standin):
    """A quota stop is reported in spotify_stopped; the albums are imported all the same."""
    spotify_standin.queue_failure("quota")
    path = save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": SPECS})

    result = importer.import_catalog(source=str(path))

    assert result.spotify_stopped == QUOTA_EXCEEDED
    assert (result.created, result.enriched, result.failed) == (2, 0, 0)
    assert Album.objects.count() == 2


def test_import_keeps_the_folded_search_copies_current():
    """Imported and corrected titles, artists and genres are stored folded for search."""
    import_rows(rows=[row("Björk", "Ásc", spotify_album_id=sid(1), genres=["Músic"])])

    import_rows(rows=[row("Björk", "Ascensión", spotify_album_id=sid(1), genres=["Músic"])])

    album = Album.objects.get()
    assert album.search_title == "ascension"
    assert Artist.objects.get().search_name == "bjork"
    assert Genre.objects.get().search_name == "music"
