"""One bad album stays one bad album: what the database refuses for one album (it was deleted
meanwhile, a value it cannot store) fails that album alone, and the counts stay true
(docs/architecture.md, "Resumable batches")."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from catalog.models import Album
from catalog.services import importer
from catalog.services.download import WorkbookError
from catalog.services.importer import (
    ALBUM_DELETED,
    ALBUM_REFUSED,
    STAGE_IMPORTING,
    Progress,
    enrich_albums,
    import_rows,
)
from catalog.services.spotify import SpotifyClient
from catalog.services.workbook import load_workbook
from tests.support.factories import delete_from_another_connection
from tests.support.factories import sheet_row as row
from tests.support.workbooks import ReleaseSpec, edit_part, make_workbook

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="only PostgreSQL refuses a NUL in text"
)


def sid(number: int) -> str:
    return f"{number:022d}"


def three_rows(*, genre: str) -> list:
    return [
        row(f"Artist {n}", f"Album {n}", genres=(genre,), spotify_album_id=sid(n))
        for n in range(1, 4)
    ]


@pytest.mark.django_db(transaction=True)
def test_album_deleted_while_its_genres_are_rewritten_fails_alone_and_the_rest_is_written():
    """An album deleted in the admin between the plan and the write is one failed album with
    its reason; the batch's other albums get their new genres and count as changed."""
    import_rows(rows=three_rows(genre="Djent"))
    deleted: list[str] = []

    def on_progress(progress: Progress) -> None:
        # The plan is made (the catalog read) before the first report of the import stage.
        if progress.stage == STAGE_IMPORTING and not deleted:
            delete_from_another_connection("Album 2")
            deleted.append("Album 2")

    result = import_rows(rows=three_rows(genre="Post-metal"), on_progress=on_progress)

    assert (result.updated, result.created, result.failed) == (2, 0, 1)
    [failure] = result.failures
    assert failure.reason == ALBUM_DELETED
    assert failure.label == "Artist 2 - Album 2"
    assert failure.album_id is None
    stored = {
        album.title: set(album.genres.values_list("name", flat=True))
        for album in Album.objects.all()
    }
    assert stored == {"Album 1": {"Post-metal"}, "Album 3": {"Post-metal"}}


@pytest.mark.django_db(transaction=True)
def test_album_deleted_while_its_values_change_is_not_counted_as_changed():
    """Without a genre to link, the deleted album's UPDATE matches nothing: still one failed
    album, not a "changed" one."""
    import_rows(rows=three_rows(genre="Djent"))
    deleted: list[str] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage == STAGE_IMPORTING and not deleted:
            delete_from_another_connection("Album 2")
            deleted.append("Album 2")

    rows = [
        row(f"Artist {n}", f"Album {n}", genres=("Djent",), spotify_album_id=sid(n), format="EP")
        for n in range(1, 4)
    ]
    result = import_rows(rows=rows, on_progress=on_progress)

    assert (result.updated, result.failed) == (2, 1)
    assert result.failures[0].reason == ALBUM_DELETED
    assert set(Album.objects.values_list("format", flat=True)) == {"EP"}


@pytest.mark.django_db(transaction=True)
def test_the_next_import_adds_the_deleted_album_again():
    """The album that failed does not block the next run: it is created again."""
    import_rows(rows=three_rows(genre="Djent"))
    Album.objects.filter(title="Album 2").delete()

    result = import_rows(rows=three_rows(genre="Djent"))

    assert (result.created, result.unchanged, result.failed) == (1, 2, 0)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_value_postgresql_cannot_store_fails_its_album_alone():
    """A NUL in a row's text (PostgreSQL text cannot hold one) fails that album, with its
    reason; the other albums of the batch are written."""
    rows = [row("Artist 1", "Album 1"), row("Artist 2", "Bad\x00Title"), row("Artist 3", "Album 3")]

    result = import_rows(rows=rows)

    assert (result.created, result.failed) == (2, 1)
    assert result.failures[0].reason == ALBUM_REFUSED.format(kind="DataError")
    assert sorted(Album.objects.values_list("title", flat=True)) == ["Album 1", "Album 3"]


@pytest.mark.django_db(transaction=True)
def test_spotify_text_with_a_nul_is_stored_without_it(spotify_standin):
    """Spotify's names and URLs lose their NUL characters at the client: the album is
    enriched, and no later sync trips over it."""
    spotify_standin.set_album(
        sid(1),
        name="Nul\x00Name",
        artists=[{"id": "a", "name": "Art\x00ist", "type": "artist"}],
        external_urls={"spotify": "https://open.spotify.com/album/\x00x"},
    )
    import_rows(rows=[row(spotify_album_id=sid(1), spotify_url="")])

    result = enrich_albums(client=SpotifyClient.from_settings())

    assert (result.enriched, result.failed) == (1, 0)
    album = Album.objects.get()
    assert (album.spotify_name, album.spotify_artist_name) == ("NulName", "Artist")
    assert album.spotify_url == "https://open.spotify.com/album/x"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_enrichment_refused_for_one_album_fails_that_album_and_goes_on(
    spotify_standin, monkeypatch
):
    """A Spotify value the database refuses fails that album (with its reason); the other
    albums are enriched and the run goes on."""
    import_rows(
        rows=[row("A", "One", spotify_album_id=sid(1)), row("B", "Two", spotify_album_id=sid(2))]
    )
    values = importer._spotify_values

    def poisoned(album: Album, spotify) -> dict:
        found = values(album, spotify)
        return {**found, "spotify_name": "x\x00y"} if album.title == "One" else found

    monkeypatch.setattr(importer, "_spotify_values", poisoned)

    result = enrich_albums(client=SpotifyClient.from_settings())

    assert (result.enriched, result.failed) == (1, 1)
    assert result.failures[0].reason == ALBUM_REFUSED.format(kind="DataError")
    assert Album.objects.get(title="Two").spotify_fetched_at is not None
    assert Album.objects.get(title="One").spotify_fetched_at is None


@pytest.mark.parametrize("nul", [b"&#0;", b"&#x0;", b"\x00"])
def test_a_workbook_cannot_carry_a_nul_into_the_catalog(tmp_path, nul):
    """A NUL in the workbook's text (written any way XML allows a character) makes the file
    unreadable, so nothing is imported: the importer never meets one from the sheet."""
    data = make_workbook({"2025 Prog-metal": [ReleaseSpec("Nulband", "Album", date(2025, 1, 1))]})
    bad = edit_part(data, "xl/sharedStrings.xml", lambda xml: xml.replace(b"Nulband", nul))
    path = tmp_path / "nul.xlsx"
    path.write_bytes(bad)

    with pytest.raises(WorkbookError):
        load_workbook(str(path))
