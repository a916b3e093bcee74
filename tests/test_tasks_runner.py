"""SYNC_RUNNER=tasks: the sync queued on Django's Tasks framework (django-tasks-db), the worker's
run, and a queued sync that no worker claims (the panel says so; stale recovery frees the lock).

The worker here is django-tasks-db's own `Worker` in this process, in batch mode; tests/e2e runs
`manage.py db_worker` as a real process next to gunicorn.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from catalog.models import SyncOperation
from catalog.services import importer, sync
from catalog.services.importer import ImportResult
from catalog.services.sync import SyncManager, SyncOptions
from catalog.sync_panel import NO_WORKER_YET, load_sync_panel
from catalog.task_backends import ThreadBackend
from catalog.tasks import enqueue_sync, sync_backend_alias
from tests.support.sync_factories import make_operation
from tests.support.task_backends import queued_sync_ids, thread_backend

Status = SyncOperation.Status


def run_worker_batch() -> None:
    """What `manage.py db_worker --batch` does: run every queued task, then return."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


def test_sync_runner_names_thread_tasks_or_another_tasks_backend(settings):
    """ "thread" (and an empty value) is the project's daemon-thread backend, "tasks" the
    database queue, and any other value names a backend of settings.TASKS."""
    from django_tasks import task_backends
    from django_tasks_db import DatabaseBackend

    for name, alias, kind in [
        ("", "thread", ThreadBackend),
        ("thread", "thread", ThreadBackend),
        ("tasks", "default", DatabaseBackend),
    ]:
        settings.SYNC_RUNNER = name
        assert sync_backend_alias() == alias, name
        assert type(task_backends[alias]) is kind, name
    settings.SYNC_RUNNER = "immediate"
    assert sync_backend_alias() == "immediate"


@pytest.mark.django_db(transaction=True)
def test_tasks_runner_queues_the_job_and_the_worker_runs_it(settings, monkeypatch):
    """Sync Now with SYNC_RUNNER=tasks leaves a pending row "waiting for a worker" and one queued
    task that carries only the row's id; the worker then runs the sync to completion."""
    settings.SYNC_RUNNER = "tasks"
    calls: list[dict[str, Any]] = []

    def fake_import(**kwargs: Any) -> ImportResult:
        calls.append(kwargs)
        return ImportResult(created=3, total=3)

    monkeypatch.setattr(importer, "import_catalog", fake_import)
    operation = SyncManager(enqueue_sync).start(options=SyncOptions(skip_spotify=True))

    operation.refresh_from_db()
    assert (operation.status, operation.message) == (Status.PENDING, sync.SYNC_WAITING_FOR_WORKER)
    queued = list(DBTaskResult.objects.all())
    assert [(t.task_path, t.args_kwargs, t.status) for t in queued] == [
        ("catalog.tasks.run_sync", {"args": [operation.pk], "kwargs": {}}, "READY")
    ]
    assert calls == []  # nothing ran in the "web" process

    run_worker_batch()

    operation.refresh_from_db()
    assert operation.status == Status.COMPLETED, operation.message
    assert operation.message == "Sync complete: 3 new albums."
    assert len(calls) == 1 and calls[0]["skip_spotify"] is True
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


@pytest.mark.django_db(transaction=True)
def test_a_task_for_a_recovered_row_does_nothing(settings, monkeypatch):
    """A worker that starts after the queued row was given up finds it no longer pending: it
    runs no import (the lock may belong to a newer sync by then)."""
    settings.SYNC_RUNNER = "tasks"
    monkeypatch.setattr(importer, "import_catalog", lambda **kw: pytest.fail("ran a dead job"))
    operation = SyncManager(enqueue_sync).start(options=SyncOptions(skip_spotify=True))
    SyncOperation.objects.filter(pk=operation.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1)
    )
    assert sync.recover_stale() == 1

    run_worker_batch()

    operation.refresh_from_db()
    assert (operation.status, operation.error) == (Status.FAILED, sync.SYNC_NO_WORKER)


@pytest.mark.django_db
def test_a_row_no_worker_claims_is_recovered_as_never_started(settings, django_assert_num_queries):
    """Stale recovery (still one UPDATE) frees the lock of a queued row: "never started" for a
    row that waited for a worker, "interrupted" for a run whose heartbeat stopped."""
    old = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 5)
    waiting = make_operation(
        status=Status.PENDING,
        message=sync.SYNC_WAITING_FOR_WORKER,
        started_at=old,
        heartbeat_at=old,
    )
    with django_assert_num_queries(1):
        assert sync.recover_stale() == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error, waiting.message) == (
        Status.FAILED,
        sync.SYNC_NO_WORKER,
        sync.SYNC_NO_WORKER,
    )
    running = make_operation(status=Status.RUNNING, heartbeat_at=old)
    assert sync.recover_stale() == 1
    running.refresh_from_db()
    assert running.error == sync.SYNC_INTERRUPTED


@pytest.mark.django_db
def test_panel_says_when_no_worker_has_claimed_the_sync(settings):
    """Queued: "waiting for a worker"; still unclaimed after a few seconds: the panel asks
    whether a worker runs and says when the lock goes; past the stale limit: never started,
    shown as interrupted, and Sync Now is free again."""
    settings.SYNC_STALE_AFTER_SECONDS = 60
    now = timezone.now()
    operation = make_operation(
        status=Status.PENDING, message=sync.SYNC_WAITING_FOR_WORKER, started_at=now
    )
    panel = load_sync_panel()
    assert (panel.state, panel.message) == ("pending", sync.SYNC_WAITING_FOR_WORKER)

    SyncOperation.objects.filter(pk=operation.pk).update(started_at=now - timedelta(seconds=15))
    panel = load_sync_panel()
    assert panel.is_active
    assert panel.message == NO_WORKER_YET.format(seconds=60)
    assert "db_worker" in panel.message

    long_ago = now - timedelta(seconds=61)
    SyncOperation.objects.filter(pk=operation.pk).update(started_at=long_ago, heartbeat_at=long_ago)
    panel = load_sync_panel()
    assert not panel.is_active
    assert (panel.state, panel.message) == ("interrupted", sync.SYNC_NO_WORKER)
    assert SyncOperation.objects.get().error == sync.SYNC_NO_WORKER


@pytest.mark.django_db(transaction=True)
def test_only_a_backend_that_hands_the_task_to_a_worker_says_it_waits_for_one(
    settings, monkeypatch
):
    """The thread backend runs the task at once: the pending row keeps "Starting sync...". A
    queue (django-tasks' dummy backend here: nothing works it) says it waits for a worker."""
    ran: list[int] = []
    monkeypatch.setattr(sync, "run_operation", ran.append)
    settings.SYNC_RUNNER = "thread"
    operation = SyncManager(enqueue_sync).start(options=SyncOptions(skip_spotify=True))
    thread_backend().join(timeout=10)
    operation.refresh_from_db()
    assert (operation.status, operation.message) == (Status.PENDING, sync.SYNC_STARTING)
    assert ran == [operation.pk]

    SyncOperation.objects.all().delete()
    settings.SYNC_RUNNER = "dummy"
    operation = SyncManager(enqueue_sync).start(options=SyncOptions(skip_spotify=True))
    operation.refresh_from_db()
    assert (operation.status, operation.message) == (Status.PENDING, sync.SYNC_WAITING_FOR_WORKER)
    assert queued_sync_ids()[-1] == operation.pk
    assert len(ran) == 1  # the dummy backend ran nothing
