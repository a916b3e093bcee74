"""Tasks backends for the sync tests: one whose queue is down, what the dummy one holds, the
enqueue callables a `SyncManager` is given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tasks import task_backends
from django_tasks.backends.dummy import DummyBackend

from catalog.task_backends import ThreadBackend
from catalog.tasks import run_sync


class RefusingBackend(DummyBackend):
    """Every enqueue raises, as a queue that cannot be reached would."""

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        raise ConnectionError("the queue is unreachable")


def dummy_backend() -> DummyBackend:
    backend = task_backends["dummy"]
    assert isinstance(backend, DummyBackend)
    return backend


def queued_sync_ids() -> list[int]:
    """The operation ids enqueued on the "dummy" backend, oldest first."""
    return [result.args[0] for result in dummy_backend().results]


def enqueue_on(alias: str) -> Callable[[int], object]:
    """A `SyncManager` enqueue that puts the sync task on the TASKS backend `alias`."""
    return run_sync.using(backend=alias).enqueue


def thread_backend() -> ThreadBackend:
    """The project's in-process backend ("thread" in TASKS), to join the runs it started.

    The backend lives as long as the test process (one per thread, as django-tasks keeps
    them): it forgets the threads of earlier tests, so that a test joins and checks its own.
    """
    backend = task_backends["thread"]
    assert isinstance(backend, ThreadBackend)
    backend.threads.clear()
    return backend
