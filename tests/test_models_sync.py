"""SyncOperation: the one-active-sync constraint and the methods the panel uses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import SyncOperation
from tests.support.sync_factories import make_operation

Status = SyncOperation.Status

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Status.PENDING, Status.PENDING),
        (Status.PENDING, Status.RUNNING),
        (Status.RUNNING, Status.RUNNING),
    ],
)
def test_database_refuses_a_second_active_sync(first, second):
    """The partial unique constraint rejects a second pending/running row."""
    make_operation(status=first)

    with pytest.raises(IntegrityError), transaction.atomic():
        make_operation(status=second)

    assert SyncOperation.objects.count() == 1


def test_database_refuses_turning_a_second_row_active():
    """An UPDATE that would make two rows active is refused too."""
    make_operation(status=Status.RUNNING)
    finished = make_operation(status=Status.COMPLETED)

    with pytest.raises(IntegrityError), transaction.atomic():
        SyncOperation.objects.filter(pk=finished.pk).update(status=Status.PENDING)


def test_finished_syncs_are_unlimited_and_allow_one_active():
    """Any number of finished rows may sit beside the one active row."""
    for status in (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.COMPLETED):
        make_operation(status=status)
    make_operation(status=Status.RUNNING)

    assert SyncOperation.objects.count() == 5


def test_progress_percentage():
    """processed/total rounded; 0 without a total; 100 once completed; never above 100."""
    assert SyncOperation(status=Status.RUNNING, processed=15, total=47).progress_percentage() == 32
    assert SyncOperation(status=Status.RUNNING, processed=0, total=0).progress_percentage() == 0
    assert SyncOperation(status=Status.RUNNING, processed=9, total=5).progress_percentage() == 100
    assert SyncOperation(status=Status.COMPLETED, total=0).progress_percentage() == 100


def test_duration_runs_to_now_while_active():
    """A finished run's duration is fixed; an active one's grows with the clock."""
    start = timezone.now() - timedelta(seconds=30)
    finished = SyncOperation(started_at=start, finished_at=start + timedelta(seconds=12))
    active = SyncOperation(started_at=start)

    assert finished.duration() == timedelta(seconds=12)
    assert active.duration() >= timedelta(seconds=30)


def test_is_active():
    """Pending and running are active; the three end states are not."""
    assert [SyncOperation(status=s).is_active() for s in Status.values] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_display_status():
    """A completed run with failed albums, or whose Spotify enrichment stopped early, reads
    "Completed with warnings"; workbook notes alone do not."""
    assert SyncOperation(status=Status.COMPLETED).display_status() == "Completed"
    assert (
        SyncOperation(status=Status.COMPLETED, failed_count=3).display_status()
        == "Completed with warnings"
    )
    assert (
        SyncOperation(status=Status.COMPLETED, spotify_stopped="quota").display_status()
        == "Completed with warnings"
    )
    assert (
        SyncOperation(status=Status.COMPLETED, warnings_count=4, warnings=["a"]).display_status()
        == "Completed"
    )
    assert SyncOperation(status=Status.CANCELLED).display_status() == "Cancelled"
    assert SyncOperation(status=Status.CANCELLED, spotify_stopped="quota").has_warnings() is False
