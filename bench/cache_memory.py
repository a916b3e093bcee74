"""How much memory a web process's page cache can be made to hold: cache-busting URLs against
gunicorn, the byte budget (catalog/cache.py) beside a cache bounded in entries only.

    python -m bench.cache_memory                  # scratch SQLite file
    python -m bench.cache_memory --urls 2000 --upcoming 2500

A scratch database gets bench/album_list.py's catalog (17,500 albums by default, `--upcoming` of
them still to come: the calendar of every upcoming release is the heaviest page). For each phase,
gunicorn (config/gunicorn.py, one worker so that every request lands in the same process, page
cache on) is started anew and sent `--urls` distinct URLs, each with a parameter nobody asked
before (`?x=N`) so that each is a miss and a new entry: list pages, the upcoming page, the
statistics and the calendar. The worker's resident memory is read from /proc before and after.

- `entries`: `PAGE_CACHE_MAX_BYTES` set past any size, so only `PAGE_CACHE_MAX_ENTRIES` (1,000)
  bounds the cache, as before the byte budget;
- `bytes`: the settings' defaults (64 MB, pages over 4 MB not stored).

It prints the figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench import REPO_ROOT
from tests.support.e2e.servers import AppServer, app_environment
from tests.support.processes import DatabaseFactory, ScratchDatabase, clean_environment

PAGES = [
    ("/catalog/albums/", 4),
    ("/catalog/upcoming/", 2),
    ("/catalog/stats/", 2),
    ("/catalog/upcoming.ics", 1),
]
UNBOUNDED_BYTES = str(1 << 40)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--albums", type=int, default=17_500)
    parser.add_argument("--genres", type=int, default=2_000)
    parser.add_argument("--upcoming", type=int, default=2_500)
    parser.add_argument("--urls", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--phases", default="entries,bytes")
    return parser.parse_args(argv)


def fill(db: ScratchDatabase, args: argparse.Namespace) -> None:
    command = [
        sys.executable, "-m", "bench.album_list", "--fill-only", "--database-url", db.url,
        "--albums", str(args.albums), "--genres", str(args.genres),
        "--upcoming", str(args.upcoming),
    ]  # fmt: skip
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=clean_environment(database_url=db.url),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"filling the database failed:\n{completed.stderr[-2000:]}")


def worker_pid(server: AppServer) -> int:
    """The one gunicorn worker: the master's child."""
    master = server.process.pid  # type: ignore[union-attr]
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def urls(count: int) -> list[str]:
    weighted = [path for path, weight in PAGES for _ in range(weight)]
    return [f"{weighted[n % len(weighted)]}?x={n}" for n in range(count)]


def phase(name: str, db: ScratchDatabase, args: argparse.Namespace, log_dir: Path) -> None:
    overrides = {"SPOTIFY_ENABLED": "0", "PAGE_CACHE_SECONDS": "3600"}
    if name == "entries":
        overrides["PAGE_CACHE_MAX_BYTES"] = UNBOUNDED_BYTES
    env = app_environment(database_url=db.url, overrides=overrides)
    server = AppServer(env=env, workers=1, log_path=log_dir / f"{name}.log").start()
    try:
        pid = worker_pid(server)
        session = requests.Session()
        for path, _ in PAGES:  # loaded modules and warm connections before the first reading
            session.get(server.url + path, timeout=120).raise_for_status()
        before = rss_mb(pid)
        started = time.monotonic()
        peak = before
        with ThreadPoolExecutor(args.concurrency) as pool:
            fetch = lambda url: requests.get(server.url + url, timeout=300)  # noqa: E731
            for done, response in enumerate(pool.map(fetch, urls(args.urls)), 1):
                response.raise_for_status()
                if done % 100 == 0:
                    peak = max(peak, rss_mb(pid))
        after = rss_mb(pid)
        peak = max(peak, after)
        took = time.monotonic() - started
        print(
            f"{name:8} worker RSS before {before:6.1f} MB, after {args.urls} distinct URLs "
            f"{after:6.1f} MB (peak {peak:6.1f} MB, +{after - before:.1f} MB) in {took:.0f} s"
        )
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cache-memory-") as tmp:
        factory = DatabaseFactory(session_url=os.environ.get("DATABASE_URL", ""), workdir=Path(tmp))
        try:
            db = factory.create()
            fill(db, args)
            print(
                f"{args.albums:,} albums ({args.upcoming:,} still to come), {args.urls:,} URLs, "
                f"{args.concurrency} at a time, {db.vendor}"
            )
            for name in args.phases.split(","):
                phase(name, db, args, Path(tmp))
        finally:
            factory.close()


if __name__ == "__main__":
    main()
