"""nginx in front of the app for the end-to-end tests (and bench/slowloris.py), and slow clients.

`NginxServer` runs Debian's nginx with the repository's deploy/nginx/nginx.conf and its site
template rendered as the official nginx image renders it (envsubst of the named variables), from
a temp folder of its own (pid, config, logs on its stdout/stderr). `SlowClients` is a slowloris:
connections to a loopback port that each send one header byte every `interval` seconds and
reconnect when the server drops them, for a bounded time. `probe` times status polls made on
fresh connections, as a newly opened tab does.

    nginx = NginxServer(upstream="127.0.0.1:8001", log_path=tmp_path / "nginx.log").start()
    with SlowClients(port=nginx.port, count=40, interval=12, seconds=60) as attack:
        latencies = probe(nginx.url + STATUS_PATH, seconds=30, every=0.5, timeout=5)
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import requests

from tests.support.e2e.servers import START_TIMEOUT, ProcessGroup, free_port, wait_for
from tests.support.processes import REPO_ROOT

NGINX_DIR = REPO_ROOT / "deploy" / "nginx"
MAIN_CONFIG = NGINX_DIR / "nginx.conf"
SITE_TEMPLATE = NGINX_DIR / "templates" / "progmetal.conf.template"
# Where deploy/nginx/nginx.conf includes the rendered site (the image renders it there).
SITE_CONFIG = Path("conf.d") / "progmetal.conf"
LOOPBACK = "127.0.0.1"
# The start of a request whose header never ends; the slow clients drip the rest.
SLOW_REQUEST = b"GET /catalog/sync/status/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def nginx_binary() -> str:
    """Debian's nginx (or $E2E_NGINX): `make system-deps` installs it."""
    path = os.environ.get("E2E_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        raise RuntimeError(
            f"nginx not found at {path}: install Debian's nginx (make system-deps) or set E2E_NGINX"
        )
    return path


def render_template(text: str, variables: Mapping[str, str]) -> str:
    """What the image's entrypoint does (`envsubst` restricted to defined variables): `$NAME`
    and `${NAME}` of the given names are replaced, nginx's own `$variables` are left alone."""
    names = "|".join(re.escape(name) for name in variables)
    pattern = re.compile(r"\$\{(" + names + r")\}|\$(" + names + r")\b")
    rendered = pattern.sub(lambda m: variables[m.group(1) or m.group(2)], text)
    left = re.findall(r"\$\{[A-Z_]+\}", rendered)
    if left:
        raise ValueError(f"template variables without a value: {sorted(set(left))}")
    return rendered


def render_config(workdir: Path, variables: Mapping[str, str]) -> Path:
    """deploy/nginx/nginx.conf and the site rendered with `variables`, in `workdir` as in the
    image (conf.d/progmetal.conf beside nginx.conf); return the main file."""
    (workdir / SITE_CONFIG).parent.mkdir(parents=True)
    (workdir / SITE_CONFIG).write_text(render_template(SITE_TEMPLATE.read_text(), variables))
    main = workdir / "nginx.conf"
    shutil.copyfile(MAIN_CONFIG, main)
    return main


def nginx_command(main: Path, *directives: str) -> list[str]:
    """nginx with `main` as its configuration, its prefix, pid file and startup log there."""
    workdir = main.parent
    globals_ = [*directives, f"pid {workdir / 'nginx.pid'};"]
    if os.geteuid() == 0:
        # As root nginx switches its workers to `user`, "nobody nobody" by default, a group
        # Debian does not have; compose names the image's user the same way.
        globals_.append(f"user {_worker_user()};")
    return [
        nginx_binary(),
        "-c",
        str(main),
        "-p",
        f"{workdir}/",
        "-e",
        "stderr",
        "-g",
        " ".join(globals_),
    ]


def check_config(variables: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of the configuration rendered with `variables` (exit 0: it loads)."""
    with tempfile.TemporaryDirectory(prefix="progmetal-nginx-t.") as tmp:
        main = render_config(Path(tmp), variables)
        return subprocess.run(
            [*nginx_command(main), "-t"], capture_output=True, text=True, timeout=30, check=False
        )


class NginxServer(ProcessGroup):
    """`nginx -c <copy of deploy/nginx/nginx.conf> -p <temp> -g 'daemon off; ...'`, proxying to
    `upstream` (host:port). It may start before the upstream listens."""

    def __init__(self, *, upstream: str, log_path: Path, port: int | None = None) -> None:
        super().__init__(env=os.environ, log_path=log_path)
        self.upstream = upstream
        self.port = port or free_port()
        self.workdir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def render(self, workdir: Path) -> Path:
        """The configuration in `workdir`, laid out as in the image; return the main file."""
        return render_config(
            workdir,
            {
                "PROGMETAL_UPSTREAM": self.upstream,
                # Never asked: the upstream is an address, nothing to resolve.
                "PROGMETAL_RESOLVER": LOOPBACK,
                "PROGMETAL_NGINX_PORT": f"{LOOPBACK}:{self.port}",
            },
        )

    def start(self, *, timeout: float = START_TIMEOUT) -> NginxServer:
        """Start nginx and return once its port accepts connections."""
        self.workdir = Path(tempfile.mkdtemp(prefix="progmetal-nginx."))
        main = self.render(self.workdir)
        self._launch(nginx_command(main, "daemon off;"))

        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with socket.socket() as sock:
                sock.settimeout(1)
                return sock.connect_ex((LOOPBACK, self.port)) == 0

        try:
            wait_for(listening, timeout=timeout, interval=0.1, what=f"nginx on {self.url}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        super().stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _worker_user() -> str:
    for name in ("www-data", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return f"{name} {grp.getgrgid(entry.pw_gid).gr_name}"
    return "root"


# --- a slowloris -----------------------------------------------------------------------------


@dataclass
class SlowClients:
    """`count` connections to 127.0.0.1:`port`, each sending one more header byte every
    `interval` seconds; a connection the server closes (or answers, 408) is counted and opened
    again. Runs in a thread for at most `seconds`, or until the `with` block ends."""

    port: int
    count: int
    interval: float
    seconds: float
    opened: int = 0
    dropped: int = 0  # connections the server closed or answered
    refused: int = 0  # connection attempts that failed
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SlowClients:
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _top_up(self, selector: selectors.BaseSelector, due: dict[socket.socket, float]) -> None:
        """Open connections until `count` are open; stop at the first that fails (next tick)."""
        while len(due) < self.count:
            try:
                sock = socket.create_connection((LOOPBACK, self.port), timeout=5)
                sock.sendall(SLOW_REQUEST[:1])
            except OSError:
                self.refused += 1
                return
            self._add(selector, due, sock)

    def _add(
        self, selector: selectors.BaseSelector, due: dict[socket.socket, float], sock: socket.socket
    ) -> None:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, data=1)  # data: bytes sent so far
        # Spread the drips over the interval, as independent clients would.
        due[sock] = time.monotonic() + self.interval * (self.opened % self.count + 1) / self.count
        self.opened += 1

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        due: dict[socket.socket, float] = {}
        deadline = time.monotonic() + self.seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._top_up(selector, due)
                for key, _ in selector.select(timeout=0.2):
                    self._drop(selector, due, key.fileobj)  # type: ignore[arg-type]
                now = time.monotonic()
                for sock, when in list(due.items()):
                    if when > now:
                        continue
                    sent = selector.get_key(sock).data
                    try:
                        sock.send(_drip(sent))
                    except OSError:
                        self._drop(selector, due, sock)
                        continue
                    selector.modify(sock, selectors.EVENT_READ, data=sent + 1)
                    due[sock] = now + self.interval
        finally:
            for sock in list(due):
                selector.unregister(sock)
                sock.close()
            selector.close()

    def _drop(
        self, selector: selectors.BaseSelector, due: dict[socket.socket, float], sock: socket.socket
    ) -> None:
        selector.unregister(sock)
        due.pop(sock, None)
        sock.close()
        self.dropped += 1


def _drip(sent: int) -> bytes:
    """The next byte of a header that never ends."""
    return SLOW_REQUEST[sent : sent + 1] if sent < len(SLOW_REQUEST) else b"a"


# --- probes ----------------------------------------------------------------------------------


def probe(url: str, *, seconds: float, every: float, timeout: float) -> list[float | None]:
    """GET `url` (status JSON) on a fresh connection every `every` seconds for `seconds`: the
    time each answer took, None for one that did not come within `timeout`."""
    latencies: list[float | None] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            response = requests.get(url, headers={"Accept": "application/json"}, timeout=timeout)
            response.raise_for_status()
        except (requests.ConnectionError, requests.Timeout):
            latencies.append(None)
        else:
            latencies.append(time.monotonic() - started)
        time.sleep(max(0.0, every - (time.monotonic() - started)))
    return latencies
