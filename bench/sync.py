"""Time Sync Now against a real server: the trigger, the status endpoint under 20 pollers during a
running sync, and the status view's SQL queries.

    python -m bench.sync                                          # scratch SQLite file
    bash scripts/with-postgres.sh .venv/bin/python -m bench.sync  # scratch PostgreSQL database

Runs gunicorn (`--workers`, default 4) on a scratch database like the end-to-end tests, with a
loopback workbook server and an in-process Spotify stand-in. Requests are timed on the client
(a new loopback connection each, as gunicorn's sync workers close them) in milliseconds.

1. Accepted trigger: `--rounds` staff POSTs, each starting a 2-album sync that is waited out.
2. A long sync (`--albums` albums, a `--lookup`-second Spotify lookup each) is started, and while
   it runs: `--conflicts` trigger POSTs refused with 409; `--pollers` anonymous pollers fetching
   the status fragment every 2 s (as the panel does) for `--poll-seconds`; the same pollers
   back-to-back (a stress figure); the status JSON.
3. SQL queries of one anonymous status request (fragment and JSON), counted in this process with
   Django's test client and CaptureQueriesContext, on the same database while the sync runs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.e2e.catalog_data import releases, workbook
from tests.support.e2e.client import CANCEL_PATH, STATUS_PATH, TRIGGER_PATH, AppClient
from tests.support.e2e.servers import AppServer, app_environment
from tests.support.processes import DatabaseFactory
from tests.support.spotify_standin import SpotifyStandIn
from tests.support.workbook_server import WorkbookServer

TRIGGER_TARGET_MS = 50.0
STATUS_TARGET_MS = 10.0
QUERY_TARGET = 2
POLL_INTERVAL = 2.0  # the panel's hx-trigger="every 2s"
TERMINAL = ("completed", "failed", "cancelled")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=25, help="accepted triggers to time")
    parser.add_argument("--conflicts", type=int, default=50, help="refused triggers to time")
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--poll-seconds", type=float, default=10.0)
    parser.add_argument("--stress-seconds", type=float, default=4.0)
    parser.add_argument("--albums", type=int, default=600, help="albums in the long sync")
    parser.add_argument("--lookup", type=float, default=0.05, help="seconds per Spotify lookup")
    return parser.parse_args(argv)


class Http:
    """Timed requests on fresh loopback connections, with optional staff cookies."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, float, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        started = time.perf_counter()
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        return response.status, (time.perf_counter() - started) * 1000, body


def staff_headers(client: AppClient) -> dict[str, str]:
    return {
        "Cookie": f"sessionid={client.session_id}; csrftoken={client.csrf_token}",
        "X-CSRFToken": client.csrf_token,
        "HX-Request": "true",
        "Content-Length": "0",
    }


def summary(label: str, samples: list[float], target: float | None = None) -> str:
    if not samples:
        return f"{label:<58} no samples"
    median = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10)[-1] if len(samples) > 1 else samples[0]
    verdict = ""
    if target is not None:
        verdict = f"  {'meets' if median < target else 'MISSES'} the < {target:.0f} ms target"
    return f"{label:<58} n={len(samples):<5} median {median:7.1f} ms  p90 {p90:7.1f} ms{verdict}"


def wait_terminal(client: AppClient, *, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.status()
        if status["status"] in TERMINAL or status["status"] is None:
            return status
        time.sleep(0.02)
    raise RuntimeError(f"the sync did not end within {timeout:.0f} s")


def wait_running(client: AppClient, *, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.status()
        if status["status"] == "running":
            return status
        if status["status"] in TERMINAL:
            raise RuntimeError(f"the long sync ended before the measurement: {status}")
        time.sleep(0.05)
    raise RuntimeError(f"the long sync did not start running within {timeout:.0f} s")


def accepted_triggers(http_: Http, staff: AppClient, rounds: int) -> list[float]:
    samples = []
    for number in range(rounds + 2):
        status, ms, body = http_.request("POST", TRIGGER_PATH, staff_headers(staff))
        if status != 202:
            raise RuntimeError(f"trigger answered {status}: {body[:300]!r}")
        if number >= 2:  # the first two warm up the workers
            samples.append(ms)
        wait_terminal(staff)
    return samples


def refused_triggers(http_: Http, staff: AppClient, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        status, ms, body = http_.request("POST", TRIGGER_PATH, staff_headers(staff))
        if status != 409:
            raise RuntimeError(f"trigger during a sync answered {status}: {body[:300]!r}")
        samples.append(ms)
    return samples


def pollers(
    http_: Http, *, count: int, seconds: float, interval: float, headers: dict[str, str]
) -> list[float]:
    """`count` threads GETting the status for `seconds`, every `interval` s (0: back-to-back)."""
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def poll() -> None:
        rng = random.Random()
        next_at = time.monotonic() + (rng.uniform(0, interval) if interval else 0)
        while True:
            if interval:
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                next_at += interval
            if time.monotonic() >= stop_at:
                return
            status, ms, _ = http_.request("GET", STATUS_PATH, headers)
            with lock:
                if status == 200:
                    samples.append(ms)
                else:
                    errors.append(str(status))

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    if errors:
        raise RuntimeError(f"status answered {sorted(set(errors))}")
    return samples


def status_query_counts(database_url: str) -> dict[str, int]:
    """SQL queries of one anonymous status request (fragment, JSON), in this process."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.e2e.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()  # lets the test client's "testserver" host in
    client = Client()
    requests_: dict[str, Callable[[], object]] = {
        "fragment": lambda: client.get(STATUS_PATH, headers={"HX-Request": "true"}),
        "json": lambda: client.get(STATUS_PATH, headers={"Accept": "application/json"}),
    }
    counts = {}
    for name, send in requests_.items():
        send()  # warm: template loading, content types
        with CaptureQueriesContext(connection) as queries:
            send()
        counts[name] = len(queries.captured_queries)
        for query in queries.captured_queries:
            print(f"    {name}: {query['sql'][:160]}")
    connection.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    session_url = os.environ.get("DATABASE_URL", "")
    with (
        tempfile.TemporaryDirectory(prefix="bench-sync-") as workdir,
        WorkbookServer() as workbook_server,
        SpotifyStandIn(mode="dev") as standin,
    ):
        databases = DatabaseFactory(session_url=session_url, workdir=Path(workdir))
        try:
            db = databases.create()
            env = app_environment(
                database_url=db.url,
                overrides={
                    "GOOGLE_SHEETS_XLSX_URL": workbook_server.url,
                    "SPOTIFY_ENABLED": "1",
                    "SPOTIFY_CLIENT_ID": standin.client_id,
                    "SPOTIFY_CLIENT_SECRET": standin.client_secret,
                    "SPOTIFY_API_BASE_URL": standin.base_url,
                    "SPOTIFY_TOKEN_URL": standin.token_url,
                    "SPOTIFY_CONCURRENCY": "1",
                },
            )
            server = AppServer(env=env, workers=args.workers, log_path=Path(workdir) / "server.log")
            server.start()
            try:
                print(
                    f"Sync Now benchmark: {databases.vendor}, gunicorn --workers {args.workers}, "
                    f"{os.cpu_count()} CPUs"
                )
                run(args, server=server, database_url=db.url, workbook_server=workbook_server,
                    standin=standin)  # fmt: skip
            except BaseException:
                print(server.log_tail(40), file=sys.stderr)
                raise
            finally:
                server.stop()
        finally:
            databases.close()
    return 0


def run(
    args: argparse.Namespace,
    *,
    server: AppServer,
    database_url: str,
    workbook_server: WorkbookServer,
    standin: SpotifyStandIn,
) -> None:
    http_ = Http(server.url)
    staff = AppClient(server.url)
    staff.login()
    for _ in range(args.workers * 3):  # every worker has answered before the clock starts
        http_.request("GET", STATUS_PATH, {"HX-Request": "true"})

    workbook_server.set_workbook(workbook(releases(2, prefix="bench-small")))
    accepted = accepted_triggers(http_, staff, args.rounds)
    print(summary("trigger, accepted (202, starts a 2-album sync)", accepted, TRIGGER_TARGET_MS))

    workbook_server.set_workbook(workbook(releases(args.albums, prefix="bench-long")))
    standin.set_latency(args.lookup)
    status, _, body = http_.request("POST", TRIGGER_PATH, staff_headers(staff))
    if status != 202:
        raise RuntimeError(f"the long sync did not start: {status} {body[:300]!r}")
    wait_running(staff)

    refused = refused_triggers(http_, staff, args.conflicts)
    print(summary("trigger, refused during a sync (409)", refused, TRIGGER_TARGET_MS))

    fragment = {"HX-Request": "true"}
    as_panel = pollers(
        http_, count=args.pollers, seconds=args.poll_seconds, interval=POLL_INTERVAL,
        headers=fragment,
    )  # fmt: skip
    print(summary(f"status fragment, {args.pollers} pollers every 2 s", as_panel, STATUS_TARGET_MS))
    stress = pollers(
        http_, count=args.pollers, seconds=args.stress_seconds, interval=0, headers=fragment
    )
    print(summary(f"status fragment, {args.pollers} pollers back-to-back", stress))
    as_json = pollers(
        http_, count=args.pollers, seconds=args.poll_seconds / 2, interval=POLL_INTERVAL,
        headers={"Accept": "application/json"},
    )  # fmt: skip
    print(summary(f"status JSON, {args.pollers} pollers every 2 s", as_json, STATUS_TARGET_MS))

    during = staff.status()
    print(
        f"  (the sync was {during['status']}, stage {during['stage']!r}, "
        f"{during['processed']} of {during['total']} at the end of the measurement)"
    )
    if during["status"] != "running":
        print("  WARNING: the sync ended during the measurement: raise --albums or --lookup")

    print("status view SQL queries, anonymous poller (during the sync):")
    counts = status_query_counts(database_url)
    for name, count in counts.items():
        verdict = "meets" if count <= QUERY_TARGET else "MISSES"
        print(f"  {name}: {count} queries  {verdict} the <= {QUERY_TARGET} target")

    standin.set_latency(0)
    http_.request("POST", CANCEL_PATH, staff_headers(staff))
    wait_terminal(staff)


if __name__ == "__main__":
    sys.exit(main())
