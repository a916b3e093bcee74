"""`manage.py db_worker`: django-tasks-db's worker, kept running through a database outage.

What is the library's: the command's options, the polling loop, claiming and running a task and
recording its result (`django_tasks_db.management.commands.db_worker.Worker`), and the signal
handling (SIGINT / SIGTERM stop it gracefully, a second one at once). Its loop lets every
database error other than SQLite's "database is locked" escape, so a PostgreSQL restart, or a
network blip, ends the process, and the next Sync Now waits for a worker that never comes.

What is ours (`ResilientWorker`): when the library's loop raises OperationalError or
InterfaceError, every connection of this process is closed, one line is logged, and the worker
retries with a bounded backoff (1 s doubling to 10 s) until a query on the queue table works;
then the library's loop starts again with fresh connections. SystemExit from the library's
signal handler and KeyboardInterrupt are not database errors: they still end the process. A task
whose result could not be recorded because the database went away stays "running" in the queue
table; the sync's own row is recovered by its heartbeat (docs/architecture.md, "The worker
outlives the database").
`handle()` is the library's, constructing `ResilientWorker` instead of `Worker`.

This command replaces the library's because "catalog" comes before "django_tasks_db" in
INSTALLED_APPS (the first app with a command of that name wins).
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management.base import CommandError
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.utils.autoreload import run_with_reloader
from django_tasks_db.management.commands.db_worker import Command as LibraryCommand
from django_tasks_db.management.commands.db_worker import Worker, logger
from django_tasks_db.models import DBTaskResult

DATABASE_UNAVAILABLE = "Database unavailable: the worker stays up and retries"
DATABASE_BACK = "Database reachable again: the worker resumes polling"
# What a stopped, restarting or unreachable server raises (psycopg: OperationalError on
# connect or mid-query, InterfaceError on a connection it already knows is closed).
DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 10.0
# django.utils.autoreload.DJANGO_AUTORELOAD_ENV, which django-types does not declare.
DJANGO_AUTORELOAD_ENV = "RUN_MAIN"


def close_all_connections() -> None:
    """Close every connection of this process; closing a broken one may raise, which is moot."""
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except DatabaseError:
            # The server end is gone already; forget the client end so the next query reconnects.
            connection.connection = None


def describe(exc: BaseException) -> str:
    """The error's class and first line (libpq names host and port, never the password)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class ResilientWorker(Worker):
    """The library's worker, restarted with fresh connections after a database outage."""

    def run(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            started = time.monotonic()
            try:
                super().run()
                return
            except DATABASE_DOWN_ERRORS as exc:
                if not self.running:
                    raise  # already shutting down: nothing left to resume
                if time.monotonic() - started > RETRY_MAX_SECONDS:
                    # It worked for a while: a new outage starts the backoff again. An error
                    # that recurs at once keeps the backoff growing instead of spinning.
                    delay = RETRY_FIRST_SECONDS
                logger.warning(
                    "%s (worker_id=%s, %s)", DATABASE_UNAVAILABLE, self.worker_id, describe(exc)
                )
                delay = self.wait_for_database(delay)
                # The library's loop starts over; its thundering-herd delay is for the first start.
                self.startup_delay = False

    def wait_for_database(self, delay: float) -> float:
        """Sleep, then try the queue table, doubling the sleep up to RETRY_MAX_SECONDS, until a
        query works; return the next delay."""
        lost_at = time.monotonic()
        while True:
            close_all_connections()
            time.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            try:
                DBTaskResult.objects.exists()
            except DATABASE_DOWN_ERRORS:
                continue
            logger.info(
                "%s (worker_id=%s, after %.1f s)",
                DATABASE_BACK,
                self.worker_id,
                time.monotonic() - lost_at,
            )
            return delay


class Command(LibraryCommand):
    help = LibraryCommand.help + ", which survives a database outage"

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options: Any,
    ) -> None:
        # django-tasks-db's handle(), with ResilientWorker.
        self.configure_logging(verbosity)

        if reload and batch:
            logger.warning(
                "Warning: --reload and --batch cannot be specified together. Disabling autoreload."
            )
            reload = False

        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []

        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")

        worker = ResilientWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )

        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                # Only the child process should configure its signals.
                worker.configure_signals()

            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
