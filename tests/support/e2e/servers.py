"""Run the app as gunicorn processes for the end-to-end tests (and bench/sync.py).

`AppServer` runs gunicorn on a scratch database (tests/support/processes.py) in its own process
group, so that a test can stop it or `kill -9` all of it at once. Every wait here follows an event
(the server answering, a log line, the process group gone) and is bounded by a deadline of
tests/support/e2e/deadlines.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import requests

from tests.support.e2e.deadlines import scaled
from tests.support.processes import REPO_ROOT, clean_environment

SETTINGS_MODULE = "tests.support.e2e.settings"
START_TIMEOUT = scaled(60)
STOP_TIMEOUT = scaled(10)
# gunicorn's own default backlog: the race test's twenty triggers arrive at once.
BACKLOG = 2048
# Bytecode of the processes these tests start, kept out of the checkout: without it every
# gunicorn worker and db_worker compiles Django and the app from source again (seconds of CPU
# per process, and a restart that takes 4 s instead of 0.5 s on an idle machine).
BYTECODE_CACHE = Path(tempfile.gettempdir()) / f"progmetal-test-bytecode-{os.getuid()}"

T = TypeVar("T")


def free_port() -> int:
    """A loopback port free at the moment (another process may take it before it is bound)."""
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
    """The clean environment of an app server, with the settings that serve static files."""
    cache = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(BYTECODE_CACHE)}
    return clean_environment(
        database_url=database_url,
        settings_module=SETTINGS_MODULE,
        overrides={**cache, **(overrides or {})},
    )


# --- a process group ------------------------------------------------------------------------


class ProcessGroup:
    """A command started in a process group of its own, writing to `log_path`: `stop()` and
    `kill()` reach every process it forked (gunicorn's workers, say) and wait, bounded, for all."""

    def __init__(self, *, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def _launch(self, command: Sequence[str], *, pass_fds: Sequence[int] = ()) -> None:
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
                pass_fds=pass_fds,
            )

    def kill(self) -> None:
        """`kill -9` the whole process group, as a crash would; return once every process of it
        is gone (a server started next must not share its socket with a dying one)."""
        self._signal_group(signal.SIGKILL)
        if not self._reap(timeout=STOP_TIMEOUT):
            raise RuntimeError(f"processes of {self.log_path.name} outlived kill -9")

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after STOP_TIMEOUT seconds."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)
        self._signal_group(signal.SIGKILL)  # processes stuck in a request, or orphaned
        self._reap(timeout=STOP_TIMEOUT)

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def _reap(self, *, timeout: float) -> bool:
        """Wait for the whole group to end; whether it did within `timeout`."""
        if self.process is None:
            return True
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        # Forked processes are gone once no live process of the group is left.
        deadline = time.monotonic() + timeout
        while _group_alive(self.process.pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def log_tail(self, lines: int = 60) -> str:
        """The end of the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --- the app server --------------------------------------------------------------------------


class AppServer(ProcessGroup):
    """`gunicorn -c config/gunicorn.py config.wsgi` with `workers` worker processes, in a process
    group of its own. `config=None` runs gunicorn without the project's config, with `extra` flags
    (bench/poll_resets.py compares the two).

    The listening socket belongs to this object, not to gunicorn: made once, handed to every
    gunicorn it starts (`--bind fd://N`), closed by `close()`. A restart after `kill()` therefore
    serves on the same port without binding it again, and no other process on a busy machine can
    take the port meanwhile (connections made while no gunicorn runs wait in the backlog).
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        workers: int,
        log_path: Path,
        port: int | None = None,
        config: str | None = "config/gunicorn.py",
        extra: Sequence[str] = (),
    ) -> None:
        super().__init__(env=env, log_path=log_path)
        self.workers = workers
        self.listener = socket.create_server(("127.0.0.1", port or 0), backlog=BACKLOG)
        self.port: int = self.listener.getsockname()[1]
        self.config = config
        self.extra = list(extra)

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
            # The production config (threads, keep-alive); the flags below take precedence.
            *([f"--config={self.config}"] if self.config else []),
            *self.extra,
            "config.wsgi",
            f"--workers={self.workers}",
            f"--bind=fd://{self.listener.fileno()}",
            # A loaded CI box may starve a worker for a while: that must not get it killed.
            "--timeout=120",
            "--graceful-timeout=2",
            "--access-logfile=-",
            "--error-logfile=-",
            # No control socket in ~/.gunicorn/: every server of every test run would share it.
            "--no-control-socket",
        ]
        self._launch(command, pass_fds=[self.listener.fileno()])
        try:
            wait_for(self._ready, timeout=timeout, interval=0.2, what=f"the server on {self.url}")
        except BaseException:
            self.stop()
            raise
        return self

    def close(self) -> None:
        """Stop the server and close its listening socket (no start after this)."""
        self.stop()
        self.listener.close()

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {self.process.returncode}:\n{self.log_tail()}"
            )
        # The connection is accepted at once (the socket listens before gunicorn runs); the
        # answer comes once a worker has booted.
        probe = requests.get(self.url + "/admin/login/", timeout=scaled(15))
        return probe.status_code == 200

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


# --- the task worker -------------------------------------------------------------------------


class WorkerProcess(ProcessGroup):
    """`manage.py db_worker` (django-tasks-db) on the app's database, in a process group of its own:
    what runs syncs when SYNC_RUNNER=tasks. `kill()` is a `kill -9` of it."""

    READY_LINE = "Starting worker worker_id="

    def __init__(self, *, env: Mapping[str, str], log_path: Path, worker_id: str) -> None:
        super().__init__(env=env, log_path=log_path)
        self.worker_id = worker_id

    def start(self, *, timeout: float = START_TIMEOUT) -> WorkerProcess:
        """Start the worker and return once it polls the queue."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the worker is already running")
        command = [
            sys.executable,
            "manage.py",
            "db_worker",
            f"--worker-id={self.worker_id}",
            "--interval=0.2",
            "--no-startup-delay",
            "--no-reload",
        ]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._launch(command)

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.process.returncode}")
            return self.READY_LINE in self.log_path.read_text(errors="replace")[offset:]

        try:
            wait_for(ready, timeout=timeout, interval=0.1, what="the task worker to start")
        except BaseException:
            self.stop()
            raise
        return self
