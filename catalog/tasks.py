"""The sync as a task of Django's Tasks framework, and the choice of the backend that runs it.

On Django 5.2 the API comes from the `django-tasks` backport (Django 6 has it as `django.tasks`:
moving is an import change). Every web-started sync is the task `run_sync`, enqueued on the
backend `SYNC_RUNNER` names among those in `settings.TASKS`: "thread" (the default) is
`catalog.task_backends.ThreadBackend`, a daemon thread of the web process; "tasks" is
django-tasks-db's database queue in the catalog's own database, run by `manage.py db_worker`;
any other value is the alias of a backend in `TASKS` (tests use django-tasks' dummy and
immediate backends), or the dotted path of a backend class used with its defaults. The task
carries only the row's id: the options are on the row, and everything else (the lock, the
heartbeat, cancel, stale recovery) is the same whichever backend runs it (docs/architecture.md,
"The runner").
"""

from __future__ import annotations

import functools
from typing import cast

from django.conf import settings
from django.utils.module_loading import import_string
from django_tasks import task, task_backends
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.backends.immediate import ImmediateBackend

from catalog.models import SyncOperation
from catalog.services import sync
from catalog.task_backends import ThreadBackend

# SYNC_RUNNER's short names for the aliases of settings.TASKS; anything else is an alias itself.
RUNNER_BACKENDS = {"thread": "thread", "tasks": "default"}

# Backends that run the task in this process as soon as it is enqueued: nothing waits for a worker.
IN_PROCESS_BACKENDS = (ThreadBackend, ImmediateBackend)


@task()
def run_sync(operation_id: int) -> None:
    """Run the pending sync `operation_id` (nothing when it is no longer pending)."""
    sync.run_operation(operation_id)


def sync_backend_alias() -> str:
    """The TASKS alias named by settings.SYNC_RUNNER ("thread" when empty)."""
    name = getattr(settings, "SYNC_RUNNER", "") or "thread"
    return RUNNER_BACKENDS.get(name, name)


@functools.cache
def _backend_at(path: str) -> BaseTaskBackend:
    # One instance per class path for the process, as TASKS gives one per alias (a thread
    # backend keeps its threads).
    return import_string(path)(alias=path, params={})


def enqueue_sync(operation_id: int) -> None:
    """Enqueue `run_sync(operation_id)` on the SYNC_RUNNER backend (`SyncManager`'s enqueue).

    A backend that hands the task to a worker leaves the pending row saying it waits for one
    until a worker claims it; a row never claimed is recovered as stale (SYNC_NO_WORKER) after
    SYNC_STALE_AFTER_SECONDS, which frees the lock. Whatever the enqueue raises reaches the
    manager, which marks the row failed (SYNC_RUNNER_FAILED).
    """
    alias = sync_backend_alias()
    dotted = "." in alias and alias not in settings.TASKS
    backend = _backend_at(alias) if dotted else cast(BaseTaskBackend, task_backends[alias])
    if not isinstance(backend, IN_PROCESS_BACKENDS):
        # Before the enqueue: once a worker has claimed the row it is no longer pending.
        SyncOperation.objects.update_pending(operation_id, message=sync.SYNC_WAITING_FOR_WORKER)
    if dotted:
        backend.enqueue(run_sync, (operation_id,), {})
    else:
        run_sync.using(backend=alias).enqueue(operation_id)
