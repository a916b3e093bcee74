"""Run the app as real server processes for the end-to-end tests (and bench/sync.py).

`DatabaseFactory` makes scratch databases next to the session's own (a temp SQLite file, or a
fresh database on the session's PostgreSQL server), copied from one migrated template that holds
a staff user. `AppServer` runs gunicorn on such a database in its own process group, so that a
test can stop it or `kill -9` all of it at once. Every wait here is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS_MODULE = "tests.e2e.settings"
STAFF_USERNAME = "e2e-staff"
STAFF_PASSWORD = "e2e-staff-password"
MIGRATE_TIMEOUT = 180
START_TIMEOUT = 60
STOP_TIMEOUT = 10

# Variables of the developer's shell that would change what the app servers do.
_APP_VARIABLE_PREFIXES = ("DJANGO_", "SPOTIFY_", "SYNC_", "GOOGLE_", "WORKBOOK_", "DATABASE_")

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = probe()
        except (requests.ConnectionError, requests.Timeout) as exc:
            result, last = None, exc
        else:
            last = result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}"
            )
        time.sleep(interval)


def app_environment(
    *, database_url: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of an app server: this one without the app's variables, then `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_APP_VARIABLE_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DJANGO_ENV_FILE="",
        DJANGO_DEBUG="0",
        DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(overrides or {})
    return env


# --- databases -------------------------------------------------------------------------------


class ScratchDatabase:
    """One database the app servers use; the tests read it with plain SQL."""

    def __init__(self, *, url: str, vendor: str, name: str) -> None:
        self.url = url
        self.vendor = vendor  # "sqlite" | "postgresql"
        self.name = name  # file path (SQLite) or database name (PostgreSQL)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of `sql` (placeholders written `%s`), on a connection of its own."""
        if self.vendor == "sqlite":
            with sqlite3.connect(self.name, timeout=20) as connection:
                return connection.execute(sql.replace("%s", "?"), tuple(params)).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as connection:
            return connection.execute(sql, tuple(params)).fetchall()  # type: ignore[arg-type]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


class DatabaseFactory:
    """Scratch databases of the session's kind (DATABASE_URL), copied from a migrated template."""

    def __init__(self, *, session_url: str, workdir: Path) -> None:
        self.workdir = workdir
        self.session_url = session_url
        scheme = urlsplit(session_url).scheme if session_url else "sqlite"
        self.vendor = "postgresql" if scheme.startswith("postgres") else "sqlite"
        self._template: ScratchDatabase | None = None
        self._made: list[ScratchDatabase] = []

    def create(self) -> ScratchDatabase:
        """A new database with the schema and the staff user, empty otherwise."""
        template = self._template or self._make_template()
        name = f"e2e_{uuid.uuid4().hex[:12]}"
        if self.vendor == "sqlite":
            path = self.workdir / f"{name}.sqlite3"
            shutil.copyfile(template.name, path)
            database = ScratchDatabase(url=f"sqlite:///{path}", vendor="sqlite", name=str(path))
        else:
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"')
            database = self._postgres(name)
        self._made.append(database)
        return database

    def close(self) -> None:
        """Drop every PostgreSQL database made (SQLite files go with the temp folder)."""
        if self.vendor != "postgresql":
            return
        made = [*self._made, *([self._template] if self._template else [])]
        for database in made:
            self._admin(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
        self._made.clear()
        self._template = None

    def _make_template(self) -> ScratchDatabase:
        name = f"e2e_template_{uuid.uuid4().hex[:8]}"
        if self.vendor == "sqlite":
            path = self.workdir / f"{name}.sqlite3"
            template = ScratchDatabase(url=f"sqlite:///{path}", vendor="sqlite", name=str(path))
        else:
            self._admin(f'CREATE DATABASE "{name}"')
            template = self._postgres(name)
        self._template = template
        prepare_database(template.url)
        if self.vendor == "sqlite":
            # One self-contained file to copy: no -wal/-shm left beside it.
            with sqlite3.connect(template.name) as connection:
                connection.execute("PRAGMA journal_mode=DELETE")
        return template

    def _postgres(self, name: str) -> ScratchDatabase:
        parts = urlsplit(self.session_url)
        url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
        return ScratchDatabase(url=url, vendor="postgresql", name=name)

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.session_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)  # type: ignore[arg-type]


_PREPARE = f"""
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
get_user_model().objects.create_superuser(
    username={STAFF_USERNAME!r}, email="e2e@example.com", password={STAFF_PASSWORD!r}
)
"""


def prepare_database(database_url: str) -> None:
    """Migrate the database at `database_url` and add the staff user, in a process of its own."""
    env = app_environment(database_url=database_url)
    completed = subprocess.run(
        [sys.executable, "-c", _PREPARE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"preparing {database_url} failed:\n{completed.stderr[-4000:]}")


# --- the app server --------------------------------------------------------------------------


class AppServer:
    """`gunicorn config.wsgi` with `workers` worker processes, in a process group of its own."""

    def __init__(
        self, *, env: Mapping[str, str], workers: int, log_path: Path, port: int | None = None
    ) -> None:
        self.env = dict(env)
        self.workers = workers
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = START_TIMEOUT) -> AppServer:
        """Start the server and return once it answers; raise with its log when it does not."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            f"--workers={self.workers}",
            f"--bind=127.0.0.1:{self.port}",
            # A loaded CI box may starve a worker for a while: that must not get it killed.
            "--timeout=120",
            "--graceful-timeout=2",
            "--access-logfile=-",
            "--error-logfile=-",
        ]
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: kill it (and only it) at once
            )
        try:
            wait_for(self._ready, timeout=timeout, interval=0.2, what=f"the server on {self.url}")
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {self.process.returncode}:\n{self.log_tail()}"
            )
        return requests.get(self.url + "/admin/login/", timeout=5).status_code == 200

    def kill(self) -> None:
        """`kill -9` the whole process group (master and workers), as a crash would."""
        self._signal_group(signal.SIGKILL)
        self._reap(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop the server: SIGTERM to the group, SIGKILL after STOP_TIMEOUT seconds."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)
        self._signal_group(signal.SIGKILL)  # workers stuck in a request, or orphaned
        self._reap(timeout=STOP_TIMEOUT)

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def _reap(self, *, timeout: float) -> None:
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        # Workers are gone once no live process of the group is left.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(self.process.pid):
            time.sleep(0.05)

    def log_tail(self, lines: int = 60) -> str:
        """The end of the server's log, without the access lines of status polls."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        kept = [line for line in text.splitlines() if '"GET /catalog/sync/status/' not in line]
        return "\n".join(kept[-lines:])


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies waiting for init do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")".
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
