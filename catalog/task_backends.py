"""The project's own Tasks backend: a daemon thread of this process (the default sync runner).

django-tasks (Django 6: `django.tasks`) ships an immediate backend (runs the task in the caller,
inside the request) and a dummy one (keeps it, runs nothing); django-tasks-db adds the database
queue worked by `manage.py db_worker`. None of them runs a task off the request in the web
process itself, which is what a small deployment without a worker wants: `ThreadBackend` does,
and closes the thread's database connections when the task ends (docs/architecture.md, "The
runner"). It keeps no results: a task's outcome is wherever the task writes it (a sync's is on
its `SyncOperation` row).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, TypeVar

from django.db import connections
from django.utils import timezone
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskResult, TaskResultStatus
from django_tasks.utils import get_random_id
from typing_extensions import ParamSpec

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")


class ThreadBackend(BaseTaskBackend):
    """Runs each enqueued task at once in a new daemon thread of this process.

    `OPTIONS["THREAD_NAME"]` names the threads (default "task-runner"). A task that raises is
    logged with its traceback: nobody else would see it.
    """

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.thread_name = self.options.get("THREAD_NAME", "task-runner")
        self.threads: list[threading.Thread] = []

    def enqueue(
        self,
        task: Task[P, T],
        args: P.args,  # type: ignore[valid-type]
        kwargs: P.kwargs,  # type: ignore[valid-type]
    ) -> TaskResult[T]:
        self.validate_task(task)
        result: TaskResult[T] = TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        thread = threading.Thread(
            target=_run, args=(task, args, kwargs), name=self.thread_name, daemon=True
        )
        thread.start()
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        return result

    def join(self, timeout: float | None = None) -> None:
        """Wait for the tasks enqueued so far (tests, graceful shutdowns)."""
        for thread in self.threads:
            thread.join(timeout)


def _run(task: Task[Any, Any], args: Any, kwargs: Any) -> None:
    try:
        task.call(*args, **kwargs)
    except BaseException:
        # The last line of defence: the sync task records its own failures on its row.
        logger.exception("Task %s%r crashed", task.module_path, tuple(args))
    finally:
        connections.close_all()
