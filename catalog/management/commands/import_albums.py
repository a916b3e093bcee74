"""`python manage.py import_albums [--file PATH | --url URL] [--skip-spotify] [--refresh-spotify]
[--dry-run] [--allow-removals]`: the Sync Now import from a shell, with a progress bar and a
summary.

It runs through the same SyncManager as the Sync Now button: it takes the same lock (while a web
sync runs it refuses with "Sync already in progress"), and the web panel shows it live. A dry run
writes nothing at all: it only reads, so it takes no lock and leaves no SyncOperation row.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.models import SyncOperation
from catalog.services import importer
from catalog.services.importer import (
    STAGE_ENRICHING,
    STAGE_IMPORTING,
    ImportResult,
    Progress,
    ProgressFn,
)
from catalog.services.sync import (
    SPOTIFY_NOT_CONFIGURED,
    SPOTIFY_SETUP_HINT,
    SPOTIFY_STOPPED,
    SYNC_ALREADY_RUNNING,
    SpotifyNotConfigured,
    SyncAlreadyRunning,
    SyncManager,
    SyncOptions,
    failure_message,
    is_expected_failure,
)

logger = logging.getLogger(__name__)

SPOTIFY_HINT = f"{SPOTIFY_NOT_CONFIGURED} {SPOTIFY_SETUP_HINT} For one run: --skip-spotify."
SOURCES_EXCLUSIVE = "Give --file or --url, not both."
INTERRUPTED = "Import interrupted"
SUMMARY = (
    "Import complete in {duration}: {created} created, {updated} updated, "
    "{unchanged} unchanged, {removed} removed, {failed} failed."
)
DRY_RUN_SUMMARY = (
    "Dry run complete in {duration}: {created} would be created, {updated} updated, "
    "{unchanged} unchanged, {removed} removed. Nothing was written."
)
SPOTIFY_SUMMARY = "Spotify: {requests} requests, {enriched} albums enriched."
SHOWN_ITEMS = 5  # warnings and failures listed in the summary; the rest are counted
PLAIN_INTERVAL = 2.0  # seconds between progress lines when stdout is not a terminal

_BAR_LABELS = {STAGE_IMPORTING: "Syncing albums", STAGE_ENRICHING: "Spotify metadata"}


class ProgressDisplay:
    """Progress on a terminal as a tqdm bar per counted stage; elsewhere as periodic lines.

    Plain lines: every stage change, every message that is not a count (a rate-limit pause),
    the end of each stage, and otherwise at most one line per `interval` seconds.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.interval = interval
        self.clock = clock
        self._stage = ""
        self._last_line = float("-inf")
        self._last_message = ""
        self._bar: Any = None

    def __call__(self, progress: Progress) -> None:
        if self.tty:
            self._show_bar(progress)
        else:
            self._show_line(progress)
        self._stage = progress.stage

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _show_line(self, progress: Progress) -> None:
        now = self.clock()
        counting = progress.stage in _BAR_LABELS and progress.message.startswith(
            ("Syncing album", "Enriching with")
        )
        due = (
            progress.stage != self._stage
            or not counting
            or (progress.total and progress.processed >= progress.total)
            or now - self._last_line >= self.interval
        )
        if due and progress.message != self._last_message:
            self.stream.write(progress.message + "\n")
            self.stream.flush()
            self._last_line = now
            self._last_message = progress.message

    def _show_bar(self, progress: Progress) -> None:
        label = _BAR_LABELS.get(progress.stage)
        if progress.stage != self._stage:
            self.close()
            if label is None:
                tqdm.write(progress.message, file=self.stream)
                return
            self._bar = tqdm(
                total=progress.total, desc=label, unit="album", file=self.stream, leave=True
            )
        if self._bar is None:
            return
        self._bar.n = progress.processed
        if progress.message.startswith("Spotify rate limit"):
            self._bar.set_postfix_str(progress.message, refresh=False)
        else:
            self._bar.set_postfix_str("", refresh=False)
        self._bar.refresh()


class Command(BaseCommand):
    help = (
        "Import the r/progmetal workbook into the catalog and enrich new albums from Spotify. "
        "Default source: GOOGLE_SHEETS_XLSX_URL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--file", metavar="PATH", help="read the workbook from this file")
        source.add_argument("--url", metavar="URL", help="download the workbook from this URL")
        parser.add_argument(
            "--skip-spotify", action="store_true", help="import the sheet only, no Spotify calls"
        )
        parser.add_argument(
            "--refresh-spotify",
            action="store_true",
            help="fetch Spotify data again for every album, not only new ones",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change, write nothing"
        )
        parser.add_argument(
            "--allow-removals",
            action="store_true",
            help="hide every album no longer in the workbook, even more than "
            "SYNC_MAX_HIDE_FRACTION of the catalog (confirms a large removal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("file") and options.get("url"):
            raise CommandError(SOURCES_EXCLUSIVE)  # call_command(...) bypasses argparse's check

        stream: TextIO = options.get("stdout") or sys.stdout
        display = ProgressDisplay(stream, tty=self.stdout.isatty())
        started = time.monotonic()
        run = self._dry_run if options["dry_run"] else self._run
        try:
            result = run(options, display)
        except KeyboardInterrupt:
            # A run's sync row already says cancelled; a dry run has no row and wrote nothing.
            raise CommandError(INTERRUPTED) from None
        finally:
            display.close()
        self._summary(result, duration=time.monotonic() - started, dry_run=options["dry_run"])

    def _run(self, options: dict[str, Any], on_progress: ProgressFn) -> ImportResult:
        """One import run through the SyncManager (the lock, the row the web panel shows).

        A failed or cancelled run (including one cancelled from the web panel) is a one-line
        CommandError carrying the message the panel shows.
        """
        manager = SyncManager()
        sync_options = SyncOptions(
            source=_source(options),
            skip_spotify=options["skip_spotify"],
            refresh_spotify=options["refresh_spotify"],
            allow_removals=options.get("allow_removals", False),
        )
        try:
            operation = manager.run_foreground(options=sync_options, on_progress=on_progress)
        except SyncAlreadyRunning:
            raise CommandError(SYNC_ALREADY_RUNNING) from None
        except SpotifyNotConfigured:
            raise CommandError(SPOTIFY_HINT) from None
        if operation.status != SyncOperation.Status.COMPLETED or manager.last_result is None:
            raise CommandError(operation.error or operation.message)
        return manager.last_result

    @staticmethod
    def _dry_run(options: dict[str, Any], on_progress: ProgressFn) -> ImportResult:
        """Compare the workbook with the catalog and count what would change.

        It writes nothing and asks Spotify nothing, so it is not a sync: no lock, no row, no
        credentials needed, and it may run while a sync runs. A failure is a one-line
        CommandError as for a run; an unexpected one is logged with its traceback first.
        """
        try:
            return importer.import_catalog(
                source=_source(options),
                dry_run=True,
                skip_spotify=True,
                on_progress=on_progress,
                allow_removals=options.get("allow_removals", False),
            )
        except Exception as exc:
            if not is_expected_failure(exc):
                logger.exception("Dry run failed unexpectedly")
            raise CommandError(failure_message(exc)) from None

    def _summary(self, result: ImportResult, *, duration: float, dry_run: bool) -> None:
        counts = {
            "duration": f"{duration:.1f} s",
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "removed": result.removed,
            "failed": result.failed,
        }
        template = DRY_RUN_SUMMARY if dry_run else SUMMARY
        self.stdout.write(self.style.SUCCESS(template.format(**counts)))
        if not dry_run:
            self.stdout.write(
                SPOTIFY_SUMMARY.format(requests=result.spotify_requests, enriched=result.enriched)
            )
        if result.spotify_stopped:
            self.stdout.write(
                self.style.WARNING(SPOTIFY_STOPPED.format(reason=result.spotify_stopped))
            )
        if result.removals_kept:
            self.stdout.write(self.style.WARNING(result.warnings[0]))
        self._listing("Warnings", result.warnings)
        self._listing("Failures", [f"{f.label}: {f.reason}" for f in result.failures])

    def _listing(self, title: str, items: list[str]) -> None:
        if not items:
            return
        self.stdout.write(self.style.WARNING(f"{title} ({len(items)}):"))
        for item in items[:SHOWN_ITEMS]:
            self.stdout.write(f"  - {item}")
        if len(items) > SHOWN_ITEMS:
            self.stdout.write(f"  ... and {len(items) - SHOWN_ITEMS} more")


def _source(options: dict[str, Any]) -> str | None:
    return options.get("file") or options.get("url") or None
