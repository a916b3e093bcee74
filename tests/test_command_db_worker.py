"""The project's `db_worker`: django-tasks-db's worker, resumed after a database error.

tests/e2e/test_worker_outage.py stops a real PostgreSQL under it; these pin the loop's rules.
"""

from __future__ import annotations

import logging

import pytest
from django.core.management import get_commands
from django.db import InterfaceError, OperationalError
from django_tasks_db.management.commands.db_worker import Worker

from catalog.management.commands import db_worker
from catalog.management.commands.db_worker import (
    DATABASE_BACK,
    DATABASE_UNAVAILABLE,
    RETRY_FIRST_SECONDS,
    RETRY_MAX_SECONDS,
    ResilientWorker,
)


def make_worker() -> ResilientWorker:
    return ResilientWorker(
        queue_names=["default"],
        interval=0,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="unit-worker",
        excluded_queue_names=[],
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits, recorded instead of slept; connections left alone, and the database answering
    (the e2e test closes real ones against a real outage)."""
    slept: list[float] = []
    monkeypatch.setattr(db_worker.time, "sleep", slept.append)
    monkeypatch.setattr(db_worker, "close_all_connections", lambda: None)
    monkeypatch.setattr(db_worker.DBTaskResult.objects, "exists", lambda: True)
    return slept


def test_manage_py_db_worker_is_the_projects_command():
    """`manage.py db_worker` (compose, README, make worker) runs catalog's command."""
    assert get_commands()["db_worker"] == "catalog"


def test_a_database_error_in_the_loop_is_logged_and_the_loop_starts_again(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], caplog: pytest.LogCaptureFixture
):
    """OperationalError, then InterfaceError, out of the library's loop: the worker waits
    RETRY_FIRST_SECONDS then longer, finds the database answering, and runs the loop again."""
    errors: list[Exception] = [OperationalError("server closed"), InterfaceError("closed")]
    runs: list[int] = []

    def library_run(self: Worker) -> None:
        runs.append(1)
        if errors:
            raise errors.pop(0)

    monkeypatch.setattr(Worker, "run", library_run)
    with caplog.at_level(logging.INFO, logger="django_tasks_db"):
        make_worker().run()

    assert len(runs) == 3
    assert sleeps == [RETRY_FIRST_SECONDS, RETRY_FIRST_SECONDS * 2]
    assert sleeps[-1] <= RETRY_MAX_SECONDS
    messages = [record.getMessage() for record in caplog.records]
    assert sum(DATABASE_UNAVAILABLE in message for message in messages) == 2
    assert sum(DATABASE_BACK in message for message in messages) == 2


def test_the_backoff_doubles_up_to_its_cap_while_the_database_stays_down(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
):
    """Each failed probe doubles the wait, never beyond RETRY_MAX_SECONDS."""
    failures = iter(range(6))

    def probe() -> bool:
        if next(failures, None) is not None:
            raise OperationalError("connection refused")
        return False

    monkeypatch.setattr(db_worker.DBTaskResult.objects, "exists", probe)
    make_worker().wait_for_database(RETRY_FIRST_SECONDS)

    assert sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_shutdown_is_not_a_database_error(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]):
    """SIGTERM's SystemExit (the library's handler) and Ctrl-C end the worker, no retry."""
    for stop in (SystemExit(0), KeyboardInterrupt()):

        def library_run(self: Worker, stop: BaseException = stop) -> None:
            raise stop

        monkeypatch.setattr(Worker, "run", library_run)
        with pytest.raises(type(stop)):
            make_worker().run()
    assert sleeps == []
