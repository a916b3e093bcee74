"""The visitors' page cache across gunicorn worker processes: each process keeps its own
entries, and a completed sync is what the next visitor request sees in every one of them."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from catalog.page_cache import CACHE_HEADER
from tests.e2e.conftest import StartApp
from tests.support.e2e.catalog_data import releases, workbook
from tests.support.e2e.client import ALBUMS_PATH, TIMEOUT, AppClient
from tests.support.e2e.deadlines import scaled
from tests.support.e2e.waits import wait_finished
from tests.support.workbook_server import WorkbookServer

pytestmark = pytest.mark.slow

WORKERS = 2
PARALLEL = 8  # requests in flight, so that both worker processes take some
# Which process accepts a connection is the kernel's choice, and a busy machine may leave one
# process without a request for many rounds: rounds go on until both answered, up to this long.
ROUNDS_TIMEOUT = scaled(60)
TILE = re.compile(r'data-album-id="(\d+)"')


def visitor_round(url: str) -> list[tuple[str, int, bool]]:
    """PARALLEL anonymous GETs of the list, each on a new connection: (cache header, albums
    listed, whether a session or CSRF cookie was set) for each."""

    def one(_: int) -> tuple[str, int, bool]:
        response = requests.get(url + ALBUMS_PATH, timeout=TIMEOUT)
        response.raise_for_status()
        cookies = {"sessionid", "csrftoken"} & set(response.cookies.keys())
        return response.headers[CACHE_HEADER], len(TILE.findall(response.text)), bool(cookies)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(PARALLEL)))


def serve_until_every_process_missed(url: str, *, albums: int) -> int:
    """Rounds of visitor requests until WORKERS misses were seen (each process renders a version
    once, then serves it from its cache); every answer must list `albums` albums."""
    misses = 0
    deadline = time.monotonic() + ROUNDS_TIMEOUT
    while time.monotonic() < deadline:
        for header, listed, cookies in visitor_round(url):
            assert listed == albums, (header, listed)
            assert not cookies
            misses += header == "miss"
        if misses >= WORKERS:
            return misses
    raise AssertionError(f"only {misses} of {WORKERS} worker processes answered")


def sync(staff: AppClient) -> dict:
    assert staff.trigger().status_code == 202
    final = wait_finished(staff)
    assert final["status"] == "completed", final
    return final


def test_a_completed_sync_reaches_the_cache_of_every_worker_process(
    start_app: StartApp, workbook_server: WorkbookServer
) -> None:
    """Two gunicorn workers each cache the visitors' list page; after a second sync adds an
    album, every visitor answer lists it (each process misses its stale entry once), and no
    answer before or after set a session or CSRF cookie."""
    workbook_server.set_workbook(workbook(releases(3, prefix="cache")))
    app = start_app(workers=WORKERS, env={"SPOTIFY_ENABLED": "0", "PAGE_CACHE_SECONDS": "600"})
    staff = app.client()
    sync(staff)

    serve_until_every_process_missed(app.url, albums=3)
    hits = [header for header, _, _ in visitor_round(app.url)]
    assert hits == ["hit"] * PARALLEL  # both processes now answer from their cache

    workbook_server.set_workbook(workbook(releases(4, prefix="cache")))
    sync(staff)

    # The first answers after "Sync complete" already list the new album, in every process.
    serve_until_every_process_missed(app.url, albums=4)
    assert [header for header, _, _ in visitor_round(app.url)] == ["hit"] * PARALLEL
