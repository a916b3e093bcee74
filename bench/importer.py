"""Time the importer end to end (fetch + parse + upsert [+ Spotify]) on a scratch database.

    python -m bench.importer real       # the real 2025 tab, --skip-spotify: 2,555 albums; rerun
    python -m bench.importer generated  # 18 tabs, 17,500 rows: first <= 60 s, repeat <= 15 s
    python -m bench.importer spotify    # the 2025 tab against the stand-in at 50 ms a request
    python -m bench.importer all
    bash scripts/with-postgres.sh .venv/bin/python -m bench.importer generated   # on PostgreSQL

Without DATABASE_URL the benchmark migrates a temporary SQLite file and removes it afterwards;
with DATABASE_URL (scripts/with-postgres.sh) it refuses a database that already holds albums,
because it empties the catalog tables between scenarios. Prints every figure and whether it meets
the issue's target; exits 1 when one does not.
"""

from __future__ import annotations

import argparse
import atexit
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import REAL_WORKBOOK

REAL_ALBUMS = 2555  # 2,556 rows, one release listed twice
FIRST_IMPORT_LIMIT = 60.0
REPEAT_IMPORT_LIMIT = 15.0
BATCH_MODE_LIMIT = 10.0
DEV_MODE_LIMIT = 40.0


def setup_database() -> str:
    """Point Django at a scratch database (before django.setup) and migrate it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="bench-importer-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    from catalog.models import Album

    if Album.objects.exists():
        sys.exit("DATABASE_URL holds albums: the benchmark needs a scratch database.")
    return f"{connection.vendor} {connection.settings_dict['NAME']}"


def empty_catalog() -> None:
    from catalog.models import Album, Artist, Genre, VocalStyle

    Album.objects.all().delete()
    Artist.objects.all().delete()
    Genre.objects.all().delete()
    VocalStyle.objects.all().delete()


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def line(self, scenario: str, text: str) -> None:
        print(f"[{scenario}] {text}", flush=True)

    def check(self, scenario: str, text: str, ok: bool) -> None:
        self.line(scenario, f"{text}  {'OK' if ok else 'FAIL'}")
        if not ok:
            self.failures.append(f"{scenario}: {text}")


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def counts(result: Any) -> str:
    """The counts in the panel's words (catalog/counts.py)."""
    return (
        f"{result.created} new, {result.updated} changed, {result.unchanged} unchanged, "
        f"{result.removed} removed, {result.failed} failed"
    )


def sheet_scenario(
    report: Report,
    name: str,
    path: Path,
    *,
    repeats: int,
    expected_albums: int | None,
    first_limit: float | None,
    repeat_limit: float | None,
) -> None:
    """First import on an empty catalog, then `repeats` imports of the same workbook."""
    from catalog.models import Album
    from catalog.services.importer import import_catalog
    from catalog.services.workbook import load_workbook

    report.line(name, f"workbook {path} ({path.stat().st_size / 1e6:.1f} MB)")
    parse_seconds, parsed = timed(lambda: load_workbook(str(path)))
    report.line(
        name,
        f"parse only: {parse_seconds:.2f} s, {len(parsed.rows)} rows in {len(parsed.tabs)} tabs, "
        f"{len(parsed.warnings)} row warnings",
    )
    empty_catalog()
    first_seconds, first = timed(lambda: import_catalog(source=str(path), skip_spotify=True))
    albums = Album.objects.count()
    text = f"first import: {first_seconds:.2f} s ({counts(first)}); {albums} albums stored"
    ok = first.created == albums
    if expected_albums is not None:
        ok = ok and albums == expected_albums
        text += f" (expected {expected_albums})"
    if first_limit is not None:
        ok = ok and first_seconds <= first_limit
        text += f" (limit {first_limit:.0f} s)"
    report.check(name, text, ok)

    durations = []
    for attempt in range(1, repeats + 1):
        seconds, again = timed(lambda: import_catalog(source=str(path), skip_spotify=True))
        durations.append(seconds)
        still = again.created == 0 and again.updated == 0 and again.unchanged == albums
        report.check(name, f"repeat import {attempt}: {seconds:.2f} s ({counts(again)})", still)
    median = statistics.median(durations)
    if repeat_limit is not None:
        report.check(
            name, f"repeat import median: {median:.2f} s (limit {repeat_limit:.0f} s)",
            median <= repeat_limit,
        )  # fmt: skip


def spotify_scenario(report: Report, path: Path, *, latency: float, mode: str) -> None:
    """The 2025 tab with enrichment against the stand-in in `mode`; then a repeat import."""
    from django.conf import settings

    from catalog.models import Album
    from catalog.services.importer import STAGE_ENRICHING, Progress, import_catalog
    from tests.support.spotify_standin import SpotifyStandIn

    name = f"spotify-{mode}"
    empty_catalog()
    stage_started: dict[str, float] = {}

    def note(progress: Progress) -> None:
        stage_started.setdefault(progress.stage, time.perf_counter())

    with SpotifyStandIn(latency=latency, mode=mode) as standin:
        settings.SPOTIFY_ENABLED = True
        settings.SPOTIFY_CLIENT_ID = standin.client_id
        settings.SPOTIFY_CLIENT_SECRET = standin.client_secret
        settings.SPOTIFY_API_BASE_URL = standin.base_url
        settings.SPOTIFY_TOKEN_URL = standin.token_url
        concurrency = settings.SPOTIFY_CONCURRENCY

        seconds, result = timed(lambda: import_catalog(source=str(path), on_progress=note))
        finished = time.perf_counter()
        enrich_seconds = finished - stage_started.get(STAGE_ENRICHING, finished)
        stats = standin.stats
        linked = Album.objects.filter(spotify_album_id__isnull=False).count()
        enriched = Album.objects.filter(spotify_fetched_at__isnull=False).count()
        report.line(
            name,
            f"latency {latency * 1000:.0f} ms, SPOTIFY_CONCURRENCY {concurrency}, "
            f"{linked} albums with a Spotify id",
        )
        report.line(
            name,
            f"first import: {seconds:.2f} s (enrichment stage {enrich_seconds:.2f} s); "
            f"{counts(result)}; {result.enriched} enriched, {enriched} with Spotify data",
        )
        report.line(
            name,
            f"requests: {result.spotify_requests} by the client; the stand-in saw "
            f"{stats.batch_requests} batch, {stats.single_requests} single, "
            f"{stats.token_requests} token, max {stats.max_in_flight} in flight",
        )
        if mode == "batch":
            wanted = math.ceil(linked / 20)
            report.check(
                name,
                f"batch requests {stats.batch_requests} == ceil({linked}/20) = {wanted}, "
                f"{stats.single_requests} single requests",
                stats.batch_requests == wanted and stats.single_requests == 0,
            )
            limit = BATCH_MODE_LIMIT
        else:
            report.check(
                name,
                f"single requests {stats.single_requests} == {linked}, max in flight "
                f"{stats.max_in_flight} <= {concurrency}",
                stats.single_requests == linked and stats.max_in_flight <= concurrency,
            )
            limit = DEV_MODE_LIMIT
        report.check(
            name,
            f"first import {seconds:.2f} s <= {limit:.0f} s, all {linked} enriched",
            seconds <= limit and enriched == linked and not result.spotify_stopped,
        )
        before = standin.stats.api_requests
        repeat_seconds, repeat = timed(lambda: import_catalog(source=str(path)))
        made = standin.stats.api_requests - before
        report.check(
            name,
            f"repeat import: {repeat_seconds:.2f} s, {made} API requests "
            f"({repeat.spotify_requests} by the client; {counts(repeat)})",
            made == 0 and repeat.spotify_requests == 0 and repeat.updated == 0,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the importer on a scratch database.")
    parser.add_argument("scenario", choices=["real", "generated", "spotify", "all"])
    parser.add_argument("--real-file", type=Path, default=REAL_WORKBOOK)
    parser.add_argument(
        "--generated-file", type=Path, help="the 17,500-row workbook (generated when absent)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeat imports per workbook")
    parser.add_argument("--latency", type=float, default=0.05, help="stand-in seconds a request")
    parser.add_argument("--modes", nargs="+", default=["batch", "dev"], choices=["batch", "dev"])
    args = parser.parse_args(argv)

    database = setup_database()
    print(f"database: {database}", flush=True)
    report = Report()
    if args.scenario in ("real", "all"):
        if not args.real_file.exists():
            sys.exit(f"{args.real_file} not found: pass --real-file")
        sheet_scenario(
            report, "real", args.real_file, repeats=args.repeats,
            expected_albums=REAL_ALBUMS, first_limit=None, repeat_limit=None,
        )  # fmt: skip
    if args.scenario in ("generated", "all"):
        path = args.generated_file
        if path is None or not path.exists():
            from bench.generate_workbook import generate

            folder = tempfile.mkdtemp(prefix="bench-workbook-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            path = path or Path(folder) / "generated.xlsx"
            seconds, _ = timed(lambda: generate(path))
            print(f"[generated] generated {path} in {seconds:.1f} s", flush=True)
        sheet_scenario(
            report, "generated", path, repeats=args.repeats, expected_albums=None,
            first_limit=FIRST_IMPORT_LIMIT, repeat_limit=REPEAT_IMPORT_LIMIT,
        )  # fmt: skip
    if args.scenario in ("spotify", "all"):
        if not args.real_file.exists():
            sys.exit(f"{args.real_file} not found: pass --real-file")
        for mode in args.modes:
            spotify_scenario(report, args.real_file, latency=args.latency, mode=mode)
    empty_catalog()
    if report.failures:
        print("FAILED: " + "; ".join(report.failures), flush=True)
        return 1
    print("all figures within their targets", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
