"""The sync as a task of Django's Tasks framework, for `SYNC_RUNNER=tasks`.

On Django 5.2 the API comes from the `django-tasks` backport (Django 6 has it as `django.tasks`);
the queue is django-tasks-db's table in the catalog's own database, and `manage.py db_worker`
(from django-tasks-db) runs what is queued. The task carries only the row's id: the options are
on the row, and everything else (the lock, the heartbeat, cancel, stale recovery) is the same as
with the thread runner (docs/architecture.md, "The runner").
"""

from __future__ import annotations

from django_tasks import task

from catalog.services import sync


@task()
def run_sync(operation_id: int) -> None:
    """Run the pending sync `operation_id` (nothing when it is no longer pending)."""
    sync.run_operation(operation_id)
