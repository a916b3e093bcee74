"""A PostgreSQL cluster of the test's own, which the test may stop and start again.

The session's PostgreSQL (scripts/with-postgres.sh, or POSTGRES_TEST_URL) serves every other
test, so an outage cannot be staged on it: `PostgresCluster` runs a throwaway server from
Debian's binaries in a temp folder, on a free loopback port, owned by the `postgres` user when
the tests run as root (initdb refuses root).

    with PostgresCluster() as cluster:
        url = cluster.create_database("progmetal")
        cluster.stop()   # pg_ctl stop -m fast: what an operator's restart does to clients
        cluster.start()
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.support.e2e.servers import free_port

PG_CTL_TIMEOUT = 60


def postgres_bindir() -> Path:
    """Debian's PostgreSQL server binaries (initdb, pg_ctl): the newest installed version."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [
        path for path in [shutil.which("initdb")] if path
    ]
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server not found: install it (make system-deps, or apt-get install "
            "postgresql)"
        )
    return Path(candidates[-1]).parent


class PostgresCluster:
    """initdb, pg_ctl start / stop on 127.0.0.1:`port`; everything under a temp folder that goes
    at `close()`."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="progmetal-outage-pg."))
        self.data = self.workdir / "data"
        self.log_path = self.workdir / "server.log"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.workdir, user="postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and return once it accepts connections (pg_ctl -w)."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.workdir} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-o", options, "start"
        )

    def stop(self, *, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast`: the server ends every session and stops listening."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def close(self) -> None:
        """Stop the server (if it runs) and remove its folder."""
        subprocess.run(
            [*self._as_owner, str(self.bindir / "pg_ctl"), "-D", str(self.data)]
            + ["-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=PG_CTL_TIMEOUT,
            check=False,
        )
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_owner, str(self.bindir / program), *args]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=PG_CTL_TIMEOUT, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({completed.returncode}): {completed.stderr[-2000:]}"
            )
