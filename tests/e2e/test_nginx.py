"""The production setup's nginx (deploy/nginx/) in front of gunicorn, with Debian's nginx.

gunicorn's threads read a request header as it arrives, so 40 connections that each send a
header byte every 12 s hold every thread and the status poll goes unanswered (bench/slowloris.py
measures it). nginx holds those connections itself, drops them after client_header_timeout, and
hands gunicorn only whole requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.e2e.catalog_data import releases, workbook
from tests.support.e2e.client import STATUS_PATH, AppClient
from tests.support.e2e.nginx import NginxServer, SlowClients, check_config, probe
from tests.support.e2e.servers import AppServer, app_environment, free_port
from tests.support.processes import REPO_ROOT, DatabaseFactory
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 40
DRIP_INTERVAL = 12.0
POLL_SECONDS = 30.0
POLL_EVERY = 0.5  # four times the panel's rate, still one client address
ANSWER_WITHIN = 1.0
# nginx's client_header_timeout (10 s) ends each slow connection at least twice in 30 s.
DROPS_PER_CLIENT = 2


@dataclass
class ProxiedApp:
    nginx: NginxServer
    server: AppServer


@pytest.fixture
def proxied_app(
    scratch_databases: DatabaseFactory, workbook_server: WorkbookServer, tmp_path: Path
) -> Iterator[ProxiedApp]:
    """nginx started first, proxying to a port where gunicorn (2 workers x 4 threads, the
    production config) starts next."""
    port = free_port()
    nginx = NginxServer(upstream=f"127.0.0.1:{port}", log_path=tmp_path / "nginx.log")
    db = scratch_databases.create()
    env = app_environment(
        database_url=db.url,
        overrides={"GOOGLE_SHEETS_XLSX_URL": workbook_server.url, "SPOTIFY_ENABLED": "0"},
    )
    server = AppServer(env=env, workers=2, port=port, log_path=tmp_path / "server.log")
    try:
        nginx.start()
        server.start()
        yield ProxiedApp(nginx=nginx, server=server)
    except BaseException:
        print(f"\n--- nginx log ---\n{nginx.log_tail(40)}\n--- server log ---\n")
        print(server.log_tail(40))
        raise
    finally:
        server.stop()
        nginx.stop()


def test_status_poll_answers_within_a_second_through_nginx_under_a_slowloris(
    proxied_app: ProxiedApp,
) -> None:
    """40 connections dripping a header byte every 12 s at nginx: for 30 s every status poll
    through nginx, each on a new connection, is answered within 1 s, and nginx drops the slow
    connections (client_header_timeout) instead of passing them on."""
    url = proxied_app.nginx.url + STATUS_PATH
    with SlowClients(
        port=proxied_app.nginx.port,
        count=SLOW_CLIENTS,
        interval=DRIP_INTERVAL,
        seconds=POLL_SECONDS + 30,
    ) as attack:
        latencies = probe(url, seconds=POLL_SECONDS, every=POLL_EVERY, timeout=5)

    late = [latency for latency in latencies if latency is None or latency > ANSWER_WITHIN]
    assert late == [], f"{len(late)} of {len(latencies)} polls late (None: no answer in 5 s)"
    assert len(latencies) >= POLL_SECONDS / POLL_EVERY / 2
    # The attack ran all along: nginx cut every slow connection off, and it came back.
    assert attack.refused == 0
    assert attack.dropped >= SLOW_CLIENTS * DROPS_PER_CLIENT


def test_staff_sync_now_works_through_nginx(
    proxied_app: ProxiedApp, workbook_server: WorkbookServer
) -> None:
    """Login and Sync Now through nginx, with the Origin header a browser sends: Django sees the
    Host with its port, so the CSRF origin check passes (202)."""
    workbook_server.set_workbook(workbook(releases(2, prefix="nginx")))
    staff = AppClient(proxied_app.nginx.url)
    staff.session.headers["Origin"] = proxied_app.nginx.url
    staff.login()

    assert staff.trigger().status_code == 202


def test_the_configuration_compose_renders_loads() -> None:
    """The template rendered with compose's variables (a host name resolved at request time,
    Docker's DNS) passes `nginx -t`: no variable left, nothing resolved at start."""
    services = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    checked = check_config(services["nginx"]["environment"])

    assert checked.returncode == 0, checked.stderr


# --- nginx alone, in front of a loopback echo --------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Answers with the request's headers and body size as JSON."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps(
            {
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": len(self.rfile.read(length)),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_behind_nginx(tmp_path: Path) -> Iterator[NginxServer]:
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=echo.serve_forever, daemon=True)
    thread.start()
    nginx = NginxServer(
        upstream=f"127.0.0.1:{echo.server_address[1]}", log_path=tmp_path / "nginx.log"
    )
    try:
        yield nginx.start()
    finally:
        nginx.stop()
        echo.shutdown()
        echo.server_close()


def test_nginx_overwrites_the_forwarding_headers_clients_send(
    echo_behind_nginx: NginxServer,
) -> None:
    """X-Forwarded-For, X-Real-IP and X-Forwarded-Proto come from the connection whatever the
    client claims, X-Forwarded-Host is dropped, and Host keeps the port the client used."""
    response = requests.get(
        echo_behind_nginx.url + "/catalog/albums/",
        headers={
            "X-Forwarded-For": "203.0.113.9",
            "X-Real-IP": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
        },
        timeout=10,
    )

    headers = response.json()["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert "x-forwarded-host" not in headers
    assert headers["host"] == f"127.0.0.1:{echo_behind_nginx.port}"


def test_nginx_refuses_a_body_over_the_limit_and_buffers_the_rest(
    echo_behind_nginx: NginxServer,
) -> None:
    """A body over client_max_body_size gets 413 from nginx; a body under it reaches the app
    whole, with a Content-Length (buffered, not streamed chunk by chunk)."""
    url = echo_behind_nginx.url + "/catalog/sync/trigger/"

    too_big = requests.post(url, data=b"x" * (2 * 1024 * 1024), timeout=10)
    chunked = requests.post(url, data=iter([b"x" * 1000] * 100), timeout=10)

    assert too_big.status_code == 413
    assert chunked.status_code == 200
    assert chunked.json()["body"] == 100_000
    assert chunked.json()["headers"]["content-length"] == "100000"


def test_nginx_limits_the_request_rate_of_one_address(echo_behind_nginx: NginxServer) -> None:
    """A client firing requests back to back gets 429 once past the burst, not an app thread."""
    with requests.Session() as session:
        codes = [
            session.get(echo_behind_nginx.url + "/", timeout=10).status_code for _ in range(120)
        ]

    assert 429 in codes
    assert codes[:20] == [200] * 20
