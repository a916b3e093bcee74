"""One bad album stays one bad album, seen from the sync's row: it is listed as failed with its
reason, the run completes "with warnings", and the next sync is not blocked by it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from catalog.models import Album, SyncFailure, SyncOperation
from catalog.services.importer import ALBUM_DELETED, STAGE_IMPORTING, Progress
from catalog.services.sync import SyncManager, SyncOptions
from tests.support.factories import delete_from_another_connection
from tests.support.workbooks import ReleaseSpec, save_workbook

pytestmark = pytest.mark.django_db(transaction=True)

SPOTIFY_IDS = [f"{n:022d}" for n in range(1, 4)]


def workbook(tmp_path: Path, *, genres: str) -> Path:
    releases = [
        ReleaseSpec(f"Band {n}", f"Album {n}", date(2025, 1, n), genres=genres, spotify=album_id)
        for n, album_id in enumerate(SPOTIFY_IDS, start=1)
    ]
    return save_workbook(tmp_path / f"{genres}.xlsx", {"2025 Prog-metal": releases})


def run_sync(path: Path, on_progress=None, *, skip_spotify: bool = True) -> SyncOperation:
    return SyncManager().run_foreground(
        options=SyncOptions(source=str(path), skip_spotify=skip_spotify), on_progress=on_progress
    )


def delete_in_the_admin(title: str):
    """A progress callback that deletes the album from another connection once the import's
    plan is made (its first report), as a staff member in the admin would."""
    done: list[bool] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage != STAGE_IMPORTING or done:
            return
        done.append(True)
        delete_from_another_connection(title)

    return on_progress


def test_album_deleted_mid_sync_fails_alone_and_the_next_sync_completes(tmp_path):
    """The album deleted while the sync rewrites genres is one failed album (SyncFailure with
    ALBUM_DELETED); the others count as changed; the run completes with warnings; the next
    sync adds the album again and completes."""
    first = run_sync(workbook(tmp_path, genres="Djent"))
    assert first.status == SyncOperation.Status.COMPLETED

    operation = run_sync(workbook(tmp_path, genres="Post-metal"), delete_in_the_admin("Album 2"))

    assert operation.status == SyncOperation.Status.COMPLETED
    assert operation.display_status() == "Completed with warnings"
    assert (operation.updated_count, operation.failed_count) == (2, 1)
    [failure] = SyncFailure.objects.filter(operation=operation)
    assert (failure.label, failure.reason) == ("Band 2 - Album 2", ALBUM_DELETED)
    following = run_sync(workbook(tmp_path, genres="Post-metal"))
    assert following.status == SyncOperation.Status.COMPLETED
    assert not following.has_warnings()
    assert (following.created_count, following.unchanged_count) == (1, 2)


def test_spotify_name_with_a_nul_does_not_fail_the_sync(tmp_path, spotify_standin):
    """Spotify data holding a NUL (which PostgreSQL text cannot store) is cleaned at the
    client: the sync completes without warnings and the next one has nothing left to do."""
    spotify_standin.set_album(SPOTIFY_IDS[1], name="Album\x002")
    path = workbook(tmp_path, genres="Djent")

    operation = run_sync(path, skip_spotify=False)

    assert operation.status == SyncOperation.Status.COMPLETED
    assert not operation.has_warnings()
    assert Album.objects.get(title="Album 2").spotify_name == "Album2"
    following = run_sync(path, skip_spotify=False)
    assert following.status == SyncOperation.Status.COMPLETED
    assert not following.has_warnings()
    assert Album.objects.filter(spotify_fetched_at__isnull=True).count() == 0
