"""`python manage.py import_albums [--file PATH | --url URL] [--skip-spotify] [--refresh-spotify]
[--dry-run] [--allow-removals] [-v 0|1|2]`: the Sync Now import from a shell, with a progress
bar and a summary.

It runs through the same SyncManager as the Sync Now button: it takes the same lock (while a web
sync runs it refuses with "Sync already in progress" and names that run), and the web panel shows
it live. A dry run writes nothing at all: it only reads, so it takes no lock and leaves no
SyncOperation row; it checks the Spotify settings as a run would and lists the albums that would
be new, changed or removed. Verbosity (Django's -v): 0 prints nothing unless the command fails
(cron), 1 the progress and a summary in the panel's words (catalog/counts.py), 2 also every note
and failure, the fields a dry run would change, and the sync's log lines.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TextIO
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from catalog import counts
from catalog.counts import format_duration
from catalog.models import SyncOperation
from catalog.services import importer
from catalog.services.download import UNSUPPORTED_SCHEME
from catalog.services.importer import (
    CHANGE_CHANGED,
    CHANGE_NEW,
    CHANGE_REMOVED,
    STAGE_ENRICHING,
    STAGE_IMPORTING,
    ImportResult,
    Progress,
    ProgressFn,
)
from catalog.services.sync import (
    DATABASE_OUTAGE_ERRORS,
    SPOTIFY_NOT_CONFIGURED,
    SPOTIFY_SETUP_HINT,
    SYNC_ALREADY_RUNNING,
    SYNC_DATABASE_UNREACHABLE,
    SpotifyNotConfigured,
    SyncAlreadyRunning,
    SyncManager,
    SyncOptions,
    completion_message,
    database_unavailable_message,
    failure_message,
    is_expected_failure,
    spotify_credentials_missing,
)
from catalog.sources import is_web_source

logger = logging.getLogger(__name__)

SPOTIFY_HINT = f"{SPOTIFY_NOT_CONFIGURED} {SPOTIFY_SETUP_HINT} For one run: --skip-spotify."
SOURCES_EXCLUSIVE = "Give --file or --url, not both."
SKIP_AND_REFRESH = (
    "--skip-spotify asks Spotify nothing and --refresh-spotify asks it again for every album: "
    "give one of them."
)
REFRESH_WITH_SPOTIFY_OFF = (
    "--refresh-spotify needs Spotify enrichment, which SPOTIFY_ENABLED=0 turns off: "
    "set SPOTIFY_ENABLED=1 (and the SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET it needs)."
)
URL_WITHOUT_SCHEME = (
    "--url needs a full web address that starts with http:// or https:// (got {url}); "
    "for a file on this machine, use --file"
)
INTERRUPTED = "Import interrupted"
# The counts line, in the panel's words (catalog/counts.py), and how long the run took.
ALBUMS_LINE = "Albums: {counts}. Took {duration}."
DRY_RUN_HEAD = "Dry run, nothing was written: a sync now would find {changes}."
SPOTIFY_SUMMARY = "Spotify: {requests}, {enriched} enriched."
SPOTIFY_SKIPPED = "Spotify enrichment skipped (--skip-spotify)."
SPOTIFY_DISABLED = (
    "Spotify enrichment is disabled (SPOTIFY_ENABLED=0): albums get no covers or Spotify data. "
    "To turn it on, set SPOTIFY_ENABLED=1 with SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET."
)
SPOTIFY_DRY_RUN = "Spotify: not asked in a dry run (its configuration was checked)."
ALREADY_RUNNING = (
    "{base}: sync #{id}, started {where} at {started} ({ago} ago). "
    "Wait for it to end, or cancel it from the web panel."
)
SHOWN_ITEMS = 5  # notes and failures listed at -v 1; -v 2 lists them all
SHOWN_CHANGES = 20  # albums per kind a dry run lists at -v 1; -v 2 lists them all, with fields
MORE_AT_V2 = "  ... and {count} more (-v 2 lists them all)"
PLAIN_INTERVAL = 2.0  # seconds between progress lines when stdout is not a terminal
# The sync's start and end lines (catalog.services.sync) repeat what the command prints
# itself: shown from -v 2 on.
LIFECYCLE_LOGGER = "catalog.sync"
SYNC_LOGGER = "catalog.services.sync"

_BAR_LABELS = {STAGE_IMPORTING: "Syncing albums", STAGE_ENRICHING: "Spotify metadata"}
_CHANGE_HEADINGS = {
    CHANGE_NEW: "New",
    CHANGE_CHANGED: "Changed",
    CHANGE_REMOVED: "Removed (no longer in the workbook: would be hidden)",
}
_CHANGE_MARKS = {CHANGE_NEW: "+", CHANGE_CHANGED: "~", CHANGE_REMOVED: "-"}


class ProgressDisplay:
    """Progress on a terminal as a tqdm bar per counted stage; elsewhere as periodic lines.

    Plain lines: every stage change, every message that is not a count (a rate-limit pause),
    the end of each stage, and otherwise at most one line per `interval` seconds. On a
    terminal, every other line (stage messages, and log records while `messages_above_bar()`
    is active) goes through `tqdm.write`, which clears the bar, prints the line and redraws the
    bar under it: a line never lands in the middle of the bar.
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

    @contextmanager
    def messages_above_bar(self, logger_name: str = "catalog") -> Iterator[None]:
        """While active, the console handlers of `logger_name` write through `tqdm.write`."""
        if not self.tty:
            yield
            return
        target = logging.getLogger(logger_name)
        originals = list(target.handlers)
        replaced = [
            _AboveBarHandler(handler) if _is_console(handler) else handler for handler in originals
        ]
        target.handlers = replaced
        try:
            yield
        finally:
            target.handlers = originals

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


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(
        handler, logging.FileHandler
    )


class _AboveBarHandler(logging.Handler):
    """Formats as `handler` does and writes the line with `tqdm.write` to the same stream."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__(handler.level)
        self.handler = handler
        self.filters = handler.filters

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = getattr(self.handler, "stream", None) or sys.stderr
            tqdm.write(self.handler.format(record), file=stream)
        except Exception:
            self.handleError(record)


class Command(BaseCommand):
    help = (
        "Import the r/progmetal workbook into the catalog and enrich new albums from Spotify. "
        "Default source: GOOGLE_SHEETS_XLSX_URL. -v 0 prints nothing unless it fails."
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
            "--dry-run",
            action="store_true",
            help="list the albums that would be new, changed or removed (-v 2: and what would "
            "change), write nothing",
        )
        parser.add_argument(
            "--allow-removals",
            action="store_true",
            help="hide every album no longer in the workbook, even more than "
            "SYNC_MAX_HIDE_FRACTION of the catalog (confirms a large removal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check_options(options)
        verbosity = int(options.get("verbosity", 1))
        stream: TextIO = options.get("stdout") or sys.stdout
        display = ProgressDisplay(stream, tty=self.stdout.isatty()) if verbosity else None
        started = time.monotonic()
        run = self._dry_run if options["dry_run"] else self._run
        with _log_levels(verbosity), display.messages_above_bar() if display else nullcontext():
            try:
                result = run(options, display)
            except KeyboardInterrupt:
                # A run's sync row already says cancelled; a dry run has no row and wrote nothing.
                raise CommandError(INTERRUPTED) from None
            finally:
                if display:
                    display.close()
        if verbosity:
            duration = time.monotonic() - started
            self._summary(result, options, duration=duration, verbosity=verbosity)

    def _run(self, options: dict[str, Any], on_progress: ProgressFn | None) -> ImportResult:
        """One import run through the SyncManager (the lock, the row the web panel shows).

        A failed or cancelled run (including one cancelled from the web panel) is a one-line
        CommandError carrying the message the panel shows.
        """
        manager = SyncManager()
        try:
            operation = manager.run_foreground(
                options=sync_options(options), on_progress=on_progress
            )
        except SyncAlreadyRunning:
            raise CommandError(already_running_message()) from None
        except SpotifyNotConfigured:
            raise CommandError(SPOTIFY_HINT) from None
        except DATABASE_OUTAGE_ERRORS:
            # No database to start the run, or none to record its end even after
            # sync.DATABASE_RETRY_LIMIT_SECONDS: one line, as for any failed run.
            result = manager.last_result
            if result is None:
                raise CommandError(SYNC_DATABASE_UNREACHABLE) from None
            raise CommandError(database_unavailable_message(result)) from None
        if operation.status != SyncOperation.Status.COMPLETED or manager.last_result is None:
            raise CommandError(operation.error or operation.message)
        return manager.last_result

    @staticmethod
    def _dry_run(options: dict[str, Any], on_progress: ProgressFn | None) -> ImportResult:
        """Compare the workbook with the catalog and list what would change.

        It writes nothing and asks Spotify nothing, so it is not a sync: no lock, no row, and it
        may run while a sync runs. It checks the Spotify configuration as a run would, so a
        dry run that passes promises a run that does not stop at it. A failure is a one-line
        CommandError as for a run; an unexpected one is logged with its traceback first.
        """
        if spotify_credentials_missing(sync_options(options)):
            raise CommandError(SPOTIFY_HINT)
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

    def _summary(
        self, result: ImportResult, options: dict[str, Any], *, duration: float, verbosity: int
    ) -> None:
        counts_text = counts.counts_line(
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            removed=result.removed,
        )
        albums_line = ALBUMS_LINE.format(counts=counts_text, duration=f"{duration:.1f} s")
        if options["dry_run"]:
            changes = counts.changes(
                created=result.created,
                updated=result.updated,
                removed=result.removed,
                unchanged=result.unchanged,
            )
            self.stdout.write(self.style.SUCCESS(DRY_RUN_HEAD.format(changes=changes)))
            self.stdout.write(albums_line)
            self.stdout.write(self._spotify_line(result, options))
            if result.removals_kept:
                self.stdout.write(self.style.WARNING(result.warnings[0]))
            self._planned(result, verbosity=verbosity)
        else:
            warned = bool(result.failed or result.spotify_stopped or result.removals_kept)
            style = self.style.WARNING if warned else self.style.SUCCESS
            self.stdout.write(style(completion_message(result)))
            self.stdout.write(albums_line)
            self.stdout.write(self._spotify_line(result, options))
        self._listing("Notes from the workbook", result.warnings, verbosity=verbosity)
        failures = [f"{f.label}: {f.reason}" for f in result.failures]
        self._listing("Failed albums", failures, verbosity=verbosity)

    @staticmethod
    def _spotify_line(result: ImportResult, options: dict[str, Any]) -> str:
        if options["skip_spotify"]:
            return SPOTIFY_SKIPPED
        if not settings.SPOTIFY_ENABLED:
            return SPOTIFY_DISABLED
        if options["dry_run"]:
            return SPOTIFY_DRY_RUN
        requests = f"{counts.number(result.spotify_requests)} request"
        requests += "" if result.spotify_requests == 1 else "s"
        return SPOTIFY_SUMMARY.format(requests=requests, enriched=counts.albums(result.enriched))

    def _planned(self, result: ImportResult, *, verbosity: int) -> None:
        for kind, heading in _CHANGE_HEADINGS.items():
            planned = [change for change in result.planned if change.kind == kind]
            if not planned:
                continue
            self.stdout.write(self.style.WARNING(f"{heading} ({counts.number(len(planned))}):"))
            shown = planned if verbosity >= 2 else planned[:SHOWN_CHANGES]
            for change in shown:
                line = f"  {_CHANGE_MARKS[kind]} {change.label}"
                if verbosity >= 2 and change.fields:
                    line += f" ({', '.join(change.fields)})"
                self.stdout.write(line)
            if len(planned) > len(shown):
                self.stdout.write(MORE_AT_V2.format(count=counts.number(len(planned) - len(shown))))

    def _listing(self, title: str, items: list[str], *, verbosity: int) -> None:
        if not items:
            return
        self.stdout.write(self.style.WARNING(f"{title} ({counts.number(len(items))}):"))
        shown = items if verbosity >= 2 else items[:SHOWN_ITEMS]
        for item in shown:
            self.stdout.write(f"  - {item}")
        if len(items) > len(shown):
            self.stdout.write(MORE_AT_V2.format(count=counts.number(len(items) - len(shown))))


def check_options(options: dict[str, Any]) -> None:
    """Refuse options that contradict each other or the settings, before anything runs."""
    if options.get("file") and options.get("url"):
        raise CommandError(SOURCES_EXCLUSIVE)  # call_command(...) bypasses argparse's check
    url = options.get("url")
    if url and not is_web_source(url):
        scheme = urlsplit(url).scheme
        if len(scheme) > 1:
            raise CommandError(UNSUPPORTED_SCHEME.format(origin="--url", scheme=scheme.lower()))
        raise CommandError(URL_WITHOUT_SCHEME.format(url=url.split("?")[0]))
    if options.get("skip_spotify") and options.get("refresh_spotify"):
        raise CommandError(SKIP_AND_REFRESH)
    if options.get("refresh_spotify") and not settings.SPOTIFY_ENABLED:
        raise CommandError(REFRESH_WITH_SPOTIFY_OFF)


def sync_options(options: dict[str, Any]) -> SyncOptions:
    return SyncOptions(
        source=_source(options),
        skip_spotify=bool(options.get("skip_spotify")),
        refresh_spotify=bool(options.get("refresh_spotify")),
        allow_removals=bool(options.get("allow_removals")),
    )


def already_running_message() -> str:
    """ "Sync already in progress", with which run: its id, where it was started, since when."""
    operation = SyncOperation.objects.active().select_related("triggered_by").first()
    if operation is None:  # it ended between the refused insert and this read
        return SYNC_ALREADY_RUNNING
    if operation.source == SyncOperation.Source.CLI:
        where = "from the command line"
    elif operation.triggered_by is not None:
        where = f"from the web panel by {operation.triggered_by.get_username()}"
    else:
        where = "from the web panel"
    started = timezone.localtime(operation.started_at)
    return ALREADY_RUNNING.format(
        base=SYNC_ALREADY_RUNNING,
        id=operation.pk,
        where=where,
        started=started.strftime("%Y-%m-%d %H:%M:%S %Z"),
        ago=format_duration(timezone.now() - operation.started_at),
    )


@contextmanager
def _log_levels(verbosity: int) -> Iterator[None]:
    """-v 0: only errors reach the console; -v 1: the sync's start/end lines stay out (the
    summary says the same); -v 2 and more: everything the settings let through."""
    changes: list[tuple[logging.Logger, int]] = []

    def raise_level(name: str, level: int) -> None:
        target = logging.getLogger(name)
        changes.append((target, target.level))
        target.setLevel(max(level, target.getEffectiveLevel()))

    if verbosity == 0:
        raise_level("catalog", logging.ERROR)
    if verbosity <= 1:
        raise_level(LIFECYCLE_LOGGER, logging.ERROR)
        # The run's own warnings (the database went away, the lock was lost) are about the
        # outcome the command's last line states.
        raise_level(SYNC_LOGGER, logging.ERROR)
    try:
        yield
    finally:
        for target, level in reversed(changes):
            target.setLevel(level)


def _source(options: dict[str, Any]) -> str | None:
    return options.get("file") or options.get("url") or None
