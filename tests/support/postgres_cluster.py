"""A PostgreSQL cluster of a test's own, which the test may stop and start (an outage).

The session's server (scripts/with-postgres.sh, or POSTGRES_TEST_URL) is shared by every test,
so a test that takes its database away makes a cluster of its own: initdb in a temp folder, a
free loopback port, trust authentication, owned by the `postgres` user when run as root (initdb
refuses root), in a folder of its own under the system's temp folder (pytest's tmp_path is
root's alone), removed afterwards.

    with ScratchCluster() as cluster:
        url = cluster.create_database("catalog")
        cluster.stop()   # pg_ctl stop -m fast: connections are cut, new ones refused
        cluster.start()  # returns once it accepts connections
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Self

PG_CTL_TIMEOUT = 120  # seconds pg_ctl waits for the server to start or stop (-t)


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are (as scripts/with-postgres.sh finds them), or None."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if bindir and (Path(bindir) / "initdb").exists():
            return Path(bindir)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ScratchCluster:
    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server not found (apt-get install postgresql)")
        self.bindir = bindir
        self.workdir = Path(tempfile.mkdtemp(prefix="progmetal-outage-pg."))
        self.data = self.workdir / "data"
        self.port = _free_port()
        self._as_owner: list[str] = []

    def __enter__(self) -> Self:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def start(self) -> None:
        """Start the server; returns once it accepts connections (pg_ctl -w)."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.workdir} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            *("-D", str(self.data), "-l", str(self.workdir / "server.log")),
            *("-w", "-t", str(PG_CTL_TIMEOUT), "-o", options, "start"),
        )

    def stop(self) -> None:
        """Stop the server as an operator would (`-m fast`: sessions are cut); returns once
        it is down."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", str(PG_CTL_TIMEOUT), "stop"
        )

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "server.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [*self._as_owner, str(self.bindir / program), *args]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=PG_CTL_TIMEOUT + 30, check=False
        )
        if check and completed.returncode != 0:
            raise RuntimeError(f"{program} failed: {completed.stderr[-2000:]}")
