"""Run the app's code in processes of its own, on scratch databases of the test session's kind.

`clean_environment` is what such a process gets: this environment without the app's variables (a
developer's shell may hold SPOTIFY_* credentials, a DATABASE_URL or DJANGO_DEBUG), then the test
settings and the scratch database. `DatabaseFactory` makes the scratch databases: a temp SQLite
file, or a fresh database on the session's PostgreSQL server (when DATABASE_URL is postgres),
copied from one migrated template that holds a staff user. `manage` and `start_manage` run
`manage.py`. Used by the command tests, tests/e2e (gunicorn, see tests/support/e2e/servers.py) and
bench/sync.py.

    database = scratch_databases.create()  # the `scratch_database` fixture in tests/conftest.py
    env = clean_environment(database_url=database.url, overrides={"SPOTIFY_ENABLED": "0"})
    completed = manage("import_albums", "--file", path, env=env)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_SETTINGS = "tests.settings"
STAFF_USERNAME = "e2e-staff"
STAFF_PASSWORD = "e2e-staff-password"
MIGRATE_TIMEOUT = 180
MANAGE_TIMEOUT = 120

# Variables of the developer's shell that would change what the app does.
_APP_VARIABLE_PREFIXES = ("DJANGO_", "SPOTIFY_", "SYNC_", "GOOGLE_", "WORKBOOK_", "DATABASE_")


def clean_environment(
    *,
    database_url: str,
    settings_module: str = TEST_SETTINGS,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """This environment (PATH, HOME, LANG...) without the app's variables, then `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_APP_VARIABLE_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DJANGO_ENV_FILE="",
        DJANGO_DEBUG="0",
        DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(overrides or {})
    return env


def start_manage(*args: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start `manage.py *args` (to signal it, say); stdout and stderr are text pipes."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def manage(
    *args: str, env: Mapping[str, str], timeout: float = MANAGE_TIMEOUT, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `manage.py *args` to its end (killed after `timeout` seconds) and return its output;
    with `check`, a non-zero exit raises CalledProcessError."""
    with start_manage(*args, env=env) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            process.kill()
            raise
    completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check:
        completed.check_returncode()
    return completed


# --- databases -------------------------------------------------------------------------------


class ScratchDatabase:
    """One database that processes of the app use; the tests read it with plain SQL."""

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
        name = f"scratch_{uuid.uuid4().hex[:12]}"
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
        name = f"scratch_template_{uuid.uuid4().hex[:8]}"
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
    completed = subprocess.run(
        [sys.executable, "-c", _PREPARE],
        cwd=REPO_ROOT,
        env=clean_environment(database_url=database_url),
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"preparing {database_url} failed:\n{completed.stderr[-4000:]}")
