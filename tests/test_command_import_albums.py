"""`manage.py import_albums`: options, progress output, summary and one-line errors."""

from __future__ import annotations

import errno
import io
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from catalog.management.commands import import_albums
from catalog.management.commands.import_albums import (
    INTERRUPTED,
    REFRESH_WITH_SPOTIFY_OFF,
    SKIP_AND_REFRESH,
    SOURCES_EXCLUSIVE,
    SPOTIFY_DISABLED,
    SPOTIFY_NOT_CONFIGURED,
    SPOTIFY_SKIPPED,
    ProgressDisplay,
)
from catalog.models import Album, SyncOperation
from catalog.services import importer
from catalog.services.importer import STAGE_FETCHING, STAGE_IMPORTING, Progress, removals_kept
from catalog.services.spotify import NOT_FOUND
from catalog.services.sync import (
    SYNC_DATABASE_UNREACHABLE,
    SYNC_REMOVALS_KEPT,
    SYNC_UNEXPECTED_ERROR,
)
from tests.support.clock import FakeClock
from tests.support.commands import import_albums as run
from tests.support.processes import ScratchDatabase, clean_environment, manage, start_manage
from tests.support.workbook_server import Route, WorkbookServer
from tests.support.workbooks import ReleaseSpec, save_workbook, tail_bomb

IDS = ("6eS23i4CUnkQph9azKMWYE", "7kni1yGJOEqirUTdvf1NDv")
RELEASES = [
    ReleaseSpec("Mirar", "Ascension", date(2025, 1, 1), spotify=IDS[0], genres="Djent"),
    ReleaseSpec("Coffret de Bijoux", "lei", date(2025, 1, 1), spotify=IDS[1]),
    ReleaseSpec("Estuarine", "Corporeal Furnace", date(2025, 1, 2), genres="Post-Punk, Post"),
]


@pytest.fixture
def workbook_file(tmp_path: Path) -> Path:
    return save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": RELEASES})


@pytest.mark.django_db
def test_file_import_without_spotify_creates_albums_and_prints_the_summary(workbook_file):
    """--file with --skip-spotify imports every row and ends with the counts."""
    out = run("--file", str(workbook_file), "--skip-spotify")

    assert Album.objects.count() == 3
    assert "Reading releases.xlsx...\n" in out
    assert "Sync complete: 3 new albums.\n" in out
    assert "Albums: 3 new · 0 changed · 0 unchanged. Took " in out
    assert f"{SPOTIFY_SKIPPED}\n" in out


@pytest.mark.django_db
def test_second_run_reports_everything_unchanged(workbook_file):
    """Running the same import twice changes nothing the second time."""
    run("--file", str(workbook_file), "--skip-spotify")

    out = run("--file", str(workbook_file), "--skip-spotify")

    assert "Sync complete: nothing changed (3 albums unchanged).\n" in out
    assert "Albums: 0 new · 0 changed · 3 unchanged. Took " in out


@pytest.mark.django_db
def test_dry_run_writes_nothing(workbook_file):
    """--dry-run reports what would be created and leaves the catalog empty."""
    out = run("--file", str(workbook_file), "--dry-run", "--skip-spotify")

    assert Album.objects.count() == 0
    assert "Dry run, nothing was written: a sync now would find 3 new albums.\n" in out
    assert "Albums: 3 new · 0 changed · 0 unchanged. Took " in out


@pytest.mark.django_db
def test_unexpected_error_in_a_dry_run_is_a_one_line_reason_and_a_logged_traceback(
    workbook_file, monkeypatch, caplog
):
    """A bug hit during --dry-run ends the command as any failed run does: a CommandError with
    the panel's one-line reason (never the exception's text), the traceback in the log."""

    def broken_import(**kwargs: object) -> None:
        raise RuntimeError("token=very-secret")

    monkeypatch.setattr(importer, "import_catalog", broken_import)

    with pytest.raises(CommandError) as raised:
        run("--file", str(workbook_file), "--dry-run", "--skip-spotify")

    assert str(raised.value) == SYNC_UNEXPECTED_ERROR.format(kind="RuntimeError")
    assert raised.value.__suppress_context__
    [record] = [r for r in caplog.records if r.name == import_albums.__name__]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


@pytest.mark.django_db
def test_import_with_spotify_enriches_and_lists_failures(workbook_file, spotify_standin):
    """Without --skip-spotify albums are enriched; a missing album is listed with its reason."""
    spotify_standin.mark_missing(IDS[1])

    out = run("--file", str(workbook_file))

    assert "Sync completed with warnings: 1 of 3 albums failed; 3 new albums.\n" in out
    assert "Albums: 3 new · 0 changed · 0 unchanged. Took " in out
    assert "Spotify: 1 request, 1 album enriched." in out
    assert "Failed albums (1):" in out
    assert f"  - Coffret de Bijoux - lei: {NOT_FOUND}" in out
    assert Album.objects.get(title="Ascension").cover_image_url


@pytest.mark.django_db
def test_spotify_stopping_early_is_reported_and_the_import_succeeds(workbook_file, spotify_standin):
    """A quota stop is shown in the summary; the command still succeeds."""
    spotify_standin.queue_failure("quota")

    out = run("--file", str(workbook_file))

    assert "3 new albums" in out
    assert "Spotify enrichment stopped early: " in out


@pytest.mark.django_db
def test_warnings_are_counted_and_the_first_five_listed(tmp_path):
    """Row warnings do not fail the import; the summary shows five and counts the rest."""
    undated = [ReleaseSpec(f"Band {n}", f"Album {n}", None) for n in range(7)]
    path = save_workbook(tmp_path / "undated.xlsx", {"2025 Prog-metal": undated})

    out = run("--file", str(path), "--skip-spotify")

    assert "7 new albums" in out
    assert "Notes from the workbook (7):" in out
    assert out.count("  - 2025 Prog-metal, row ") == 5
    assert "  ... and 2 more (-v 2 lists them all)" in out

    everything = run("--file", str(path), "--skip-spotify", "-v", "2")

    assert everything.count("  - 2025 Prog-metal, row ") == 7
    assert "more (-v 2" not in everything


@pytest.mark.django_db
def test_broken_file_fails_with_a_one_line_message(tmp_path):
    """A file that is not a workbook is a CommandError with one line, and nothing is written."""
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip file")

    with pytest.raises(CommandError) as raised:
        run("--file", str(broken), "--skip-spotify")

    assert "\n" not in str(raised.value)
    assert raised.value.returncode == 1
    assert Album.objects.count() == 0


def test_file_and_url_are_mutually_exclusive():
    """--file and --url cannot be combined."""
    with pytest.raises(CommandError) as raised:
        call_command("import_albums", file="a.xlsx", url="https://example.invalid/x.xlsx")
    assert str(raised.value) == SOURCES_EXCLUSIVE

    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("import_albums", "--file", "a.xlsx", "--url", "https://example.invalid/x")


def test_missing_spotify_credentials_fail_fast_with_a_hint(settings, workbook_file):
    """With Spotify enabled and no credentials, the command stops before importing anything."""
    settings.SPOTIFY_ENABLED = True
    settings.SPOTIFY_CLIENT_ID = ""
    settings.SPOTIFY_CLIENT_SECRET = ""

    with pytest.raises(CommandError) as raised:
        run("--file", str(workbook_file))

    message = str(raised.value)
    assert message.startswith(SPOTIFY_NOT_CONFIGURED)
    assert "--skip-spotify" in message
    assert "SPOTIFY_CLIENT_ID" in message


@pytest.mark.django_db
def test_spotify_disabled_needs_no_credentials(settings, workbook_file):
    """SPOTIFY_ENABLED=False imports the sheet without asking for credentials."""
    settings.SPOTIFY_ENABLED = False
    settings.SPOTIFY_CLIENT_ID = ""

    out = run("--file", str(workbook_file))

    assert "3 new albums" in out
    assert f"{SPOTIFY_DISABLED}\n" in out


@pytest.mark.django_db
def test_dry_run_lists_the_albums_that_would_be_new_changed_and_removed(tmp_path, workbook_file):
    """After a first import, a workbook with one album renamed, one new and one gone: the dry
    run names each under its heading; -v 2 adds what would change."""
    run("--file", str(workbook_file), "--skip-spotify")
    edited = [
        RELEASES[0],
        ReleaseSpec("Coffret de Bijoux", "lei", date(2025, 1, 1), spotify=IDS[1], genres="Jazz"),
        ReleaseSpec("Haken", "Liveforms", date(2025, 3, 1)),
    ]
    path = save_workbook(tmp_path / "edited.xlsx", {"2025 Prog-metal": edited})

    # One of three albums gone is past the removal guard: --allow-removals lists it as a run
    # with that option would hide it.
    out = run("--file", str(path), "--dry-run", "--skip-spotify", "--allow-removals")

    assert "a sync now would find 1 new album, 1 changed, 1 removed." in out
    assert "Albums: 1 new · 1 changed · 1 unchanged · 1 removed. Took " in out
    assert "New (1):\n  + Haken - Liveforms\n" in out
    assert "Changed (1):\n  ~ Coffret de Bijoux - lei\n" in out
    assert "would be hidden) (1):\n  - Estuarine - Corporeal Furnace\n" in out

    detailed = run(
        "--file", str(path), "--dry-run", "--skip-spotify", "--allow-removals", "-v", "2"
    )

    assert "  ~ Coffret de Bijoux - lei (genres)\n" in detailed
    assert Album.objects.filter(in_workbook=True).count() == 3  # nothing was written


@pytest.mark.django_db
def test_dry_run_lists_at_most_twenty_albums_per_kind_unless_asked(tmp_path):
    """-v 1 keeps a first import's list short; -v 2 lists every album."""
    many = [ReleaseSpec(f"Band {n}", f"Album {n}", date(2025, 1, 1)) for n in range(25)]
    path = save_workbook(tmp_path / "many.xlsx", {"2025 Prog-metal": many})

    short = run("--file", str(path), "--dry-run", "--skip-spotify")
    full = run("--file", str(path), "--dry-run", "--skip-spotify", "-v", "2")

    assert short.count("  + Band ") == 20
    assert "  ... and 5 more (-v 2 lists them all)" in short
    assert full.count("  + Band ") == 25


@pytest.mark.django_db
def test_verbosity_zero_prints_nothing_on_success(workbook_file, caplog):
    """-v 0 (cron): no progress, no summary, no notes; the import still happens."""
    undated = [*RELEASES, ReleaseSpec("Band", "Undated", None)]
    path = save_workbook(workbook_file.parent / "undated.xlsx", {"2025 Prog-metal": undated})
    out = io.StringIO()
    err = io.StringIO()

    call_command(
        "import_albums", "--file", str(path), "--skip-spotify", "-v", "0", stdout=out, stderr=err
    )

    assert (out.getvalue(), err.getvalue()) == ("", "")
    assert Album.objects.count() == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--skip-spotify", "--refresh-spotify"], SKIP_AND_REFRESH),
        (["--refresh-spotify"], REFRESH_WITH_SPOTIFY_OFF),
    ],
)
def test_contradictory_options_are_refused_before_anything_runs(settings, args, message):
    """--skip-spotify with --refresh-spotify, or --refresh-spotify with Spotify turned off:
    refused with what to give instead (no database needed: nothing ran)."""
    settings.SPOTIFY_ENABLED = "--skip-spotify" in args

    with pytest.raises(CommandError) as raised:
        run("--file", "releases.xlsx", *args)

    assert str(raised.value) == message


def test_log_lines_print_above_the_bar_never_through_it():
    """On a terminal a log record emitted mid-bar (Spotify's batch refusal) is a line of its
    own: tqdm clears the bar, prints the line and redraws the bar below it."""
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True)
    target = logging.getLogger("catalog.test_display")
    handler = logging.StreamHandler(stream)
    target.addHandler(handler)
    target.propagate = False
    try:
        with display.messages_above_bar("catalog.test_display"):
            display(Progress(STAGE_IMPORTING, 0, 4, "Syncing album 0 of 4..."))
            display(Progress(STAGE_IMPORTING, 2, 4, "Syncing album 2 of 4..."))
            target.warning("Spotify refused a batch lookup (403)")
            display(Progress(STAGE_IMPORTING, 4, 4, "Syncing album 4 of 4..."))
        assert target.handlers == [handler]  # the console handler is back
        display.close()
        target.warning("after the bar")
    finally:
        target.removeHandler(handler)
        target.propagate = True

    lines = [line.split("\r")[-1] for line in stream.getvalue().split("\n")]
    assert "Spotify refused a batch lookup (403)" in lines
    assert lines[-2:] == ["after the bar", ""]


@pytest.mark.slow
def test_verbosity_zero_as_a_process_is_silent_on_success_and_one_line_on_failure(
    tmp_path, workbook_file, command_env
):
    """As cron runs it: -v 0 prints nothing at all on success (exit 0); a failure is one line
    on stderr and a non-zero exit."""
    ok = manage("import_albums", "--file", str(workbook_file), "-v", "0", env=command_env)
    missing = tmp_path / "missing.xlsx"
    failed = manage("import_albums", "--file", str(missing), "-v", "0", env=command_env)

    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert len(failed.stderr.strip().splitlines()) == 1
    assert "missing.xlsx" in failed.stderr


# --- the progress display ---------------------------------------------------------------------


def test_plain_progress_prints_stage_changes_and_at_most_one_line_per_interval():
    """Off a terminal: a line per stage change, then one every 2 s, and the stage's end."""
    stream = io.StringIO()
    clock = FakeClock()
    display = ProgressDisplay(stream, tty=False, interval=2.0, clock=clock)

    display(Progress(STAGE_FETCHING, 0, 0, "Fetching albums from Google Sheets..."))
    for processed in range(0, 10):
        clock.now += 0.5
        display(Progress(STAGE_IMPORTING, processed, 10, f"Syncing album {processed} of 10..."))
    display(Progress(STAGE_IMPORTING, 10, 10, "Syncing album 10 of 10..."))

    assert stream.getvalue().splitlines() == [
        "Fetching albums from Google Sheets...",
        "Syncing album 0 of 10...",
        "Syncing album 4 of 10...",
        "Syncing album 8 of 10...",
        "Syncing album 10 of 10...",
    ]


def test_terminal_progress_draws_a_bar_per_stage():
    """On a terminal the import stage is a tqdm bar that reaches 100%."""
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True)

    display(Progress(STAGE_FETCHING, 0, 0, "Fetching albums from Google Sheets..."))
    display(Progress(STAGE_IMPORTING, 0, 4, "Syncing album 0 of 4..."))
    display(Progress(STAGE_IMPORTING, 4, 4, "Syncing album 4 of 4..."))
    display.close()

    text = stream.getvalue()
    assert "Fetching albums from Google Sheets..." in text
    assert "Syncing albums: 100%" in text
    assert "4/4" in text


# --- as a process: exit status and Ctrl-C -----------------------------------------------------


@pytest.fixture
def command_env(scratch_database: ScratchDatabase) -> dict[str, str]:
    # The command takes the sync lock (a SyncOperation row) first: it needs a migrated database.
    return clean_environment(database_url=scratch_database.url, overrides={"SPOTIFY_ENABLED": "0"})


@pytest.mark.slow
def test_failure_exits_non_zero_with_one_line_and_no_traceback(tmp_path, command_env):
    """A missing file: exit status 1, one line on stderr."""
    process = manage("import_albums", "--file", str(tmp_path / "missing.xlsx"), env=command_env)

    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    assert len(process.stderr.strip().splitlines()) == 1
    assert "missing.xlsx" in process.stderr


@pytest.fixture
def ctrl_c_reaches_commands() -> Iterator[None]:
    """The commands started meanwhile turn SIGINT into KeyboardInterrupt, as from a terminal.

    A suite started without job control (`make test &`, nohup, some CI runners) inherits SIGINT
    ignored, and a process started with it ignored keeps it ignored: Ctrl-C would never reach
    the command. Handled in this process, it is back to the default in the children.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
@pytest.mark.usefixtures("ctrl_c_reaches_commands")
def test_ctrl_c_stops_cleanly(command_env):
    """SIGINT during the download ends with "Import interrupted", non-zero, no traceback."""
    # The download is accepted and not answered while the test runs: the command sits inside it.
    with WorkbookServer(delay=60) as server:
        process = start_manage("import_albums", "--url", server.url, env=command_env)
        assert server.requested.wait(timeout=60)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)

    assert process.returncode != 0
    assert stderr.strip() == f"CommandError: {INTERRUPTED}"


def many_releases(count: int) -> list[ReleaseSpec]:
    return [ReleaseSpec(f"Artist {n}", f"Album {n}", date(2025, 1, 1)) for n in range(count)]


@pytest.mark.django_db
def test_a_blank_row_in_the_table_hides_nothing(tmp_path):
    """The same tab with a blank row inserted at row 10: every album is still in the workbook."""
    releases = many_releases(20)
    run(
        "--file",
        str(save_workbook(tmp_path / "a.xlsx", {"2025 Prog-metal": releases})),
        "--skip-spotify",
    )
    blank = ReleaseSpec(None, None, None, length=None, genres=None, vocal_style=None, country=None)
    with_gap = [*releases[:3], blank, *releases[3:]]  # header on row 6: the blank is row 10
    gapped = save_workbook(tmp_path / "b.xlsx", {"2025 Prog-metal": with_gap})

    out = run("--file", str(gapped), "--skip-spotify")

    assert "Albums: 0 new · 0 changed · 20 unchanged. Took " in out
    assert Album.objects.filter(in_workbook=True).count() == 20


@pytest.mark.django_db
def test_a_workbook_that_would_hide_most_albums_hides_none_until_confirmed(tmp_path):
    """A one-row workbook (a wrong URL, a deleted tab) keeps the catalog visible and says how
    to confirm; --allow-removals confirms."""
    first = save_workbook(tmp_path / "a.xlsx", {"2025 Prog-metal": many_releases(20)})
    run("--file", str(first), "--skip-spotify")
    one_row = save_workbook(tmp_path / "b.xlsx", {"2025 Prog-metal": many_releases(1)})

    out = run("--file", str(one_row), "--skip-spotify")

    warning = removals_kept(19, percent="10%")
    assert "Albums: 0 new · 0 changed · 1 unchanged. Took " in out
    assert warning in out
    assert Album.objects.filter(in_workbook=True).count() == 20
    operation = SyncOperation.objects.latest("pk")
    assert operation.status == SyncOperation.Status.COMPLETED
    assert operation.message == SYNC_REMOVALS_KEPT.format(warning=warning)
    assert operation.warnings[0] == warning
    assert (operation.kept_count, operation.removed_count) == (19, 0)
    assert operation.has_warnings()

    out = run("--file", str(one_row), "--skip-spotify", "--allow-removals")

    assert "Albums: 0 new · 0 changed · 1 unchanged · 19 removed. Took " in out
    assert Album.objects.filter(in_workbook=True).count() == 1
    assert SyncOperation.objects.latest("pk").options["allow_removals"] is True


@pytest.mark.django_db
def test_dry_run_shows_the_guard_too(tmp_path):
    """A dry run counts what a real run would do: nothing hidden, and the warning."""
    first = save_workbook(tmp_path / "a.xlsx", {"2025 Prog-metal": many_releases(20)})
    run("--file", str(first), "--skip-spotify")
    one_row = save_workbook(tmp_path / "b.xlsx", {"2025 Prog-metal": many_releases(1)})

    out = run("--file", str(one_row), "--dry-run", "--skip-spotify")

    assert "Dry run, nothing was written" in out
    assert "Albums: 0 new · 0 changed · 1 unchanged. Took " in out
    assert removals_kept(19, percent="10%") in out


CTRL_C_BOUND = 3.0  # seconds from Ctrl-C to the command's exit
HANDOVER_TIMEOUT = 60  # from the command's start to its reading the workbook


def hand_over(fifo: Path, data: bytes, *, reader: subprocess.Popen[str]) -> None:
    """Write `data` into the named pipe `fifo` once `reader` opens it, and close it: the reader
    then holds every byte of the workbook, and what it does next is the parse."""
    deadline = time.monotonic() + HANDOVER_TIMEOUT
    while True:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: nobody reads the pipe yet
                raise
        assert reader.poll() is None, reader.communicate()
        assert time.monotonic() < deadline, "the command never opened the workbook"
        time.sleep(0.05)
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "wb") as pipe:
        pipe.write(data)


@pytest.mark.slow
@pytest.mark.usefixtures("ctrl_c_reaches_commands")
@pytest.mark.parametrize("stage", ["trickling download", "slow parse"])
def test_ctrl_c_ends_the_command_within_the_bound(
    stage, tmp_path, command_env, scratch_database: ScratchDatabase
):
    """Ctrl-C while the download trickles in, or while a slow sheet is parsed: the command
    ends within seconds, "Import interrupted", and its sync row reads cancelled."""
    with WorkbookServer() as server:
        if stage == "trickling download":
            data = save_workbook(tmp_path / "a.xlsx", {"2025 Prog-metal": RELEASES}).read_bytes()
            server.routes["/export"] = Route(body=data, trickle=2.0)
            process = start_manage(
                "import_albums", "--url", server.url_for("/export"), env=command_env
            )
            # The request arrived: the command waits in its download, the row is running.
            assert server.requested.wait(timeout=HANDOVER_TIMEOUT)
        else:
            # The file through a named pipe: the test sees when the command has read all of it.
            fifo = tmp_path / "slow.xlsx"
            os.mkfifo(fifo)
            process = start_manage("import_albums", "--file", str(fifo), env=command_env)
            data = tail_bomb(80 * 1024 * 1024, unannounced=False)  # seconds to parse
            hand_over(fifo, data, reader=process)
        assert process.poll() is None
        pressed = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        latency = time.monotonic() - pressed
    print(f"Ctrl-C latency during the {stage}: {latency:.2f} s")  # shown with pytest -s

    assert latency < CTRL_C_BOUND, latency
    assert process.returncode != 0
    assert stderr.strip() == f"CommandError: {INTERRUPTED}"
    assert scratch_database.query("SELECT status FROM catalog_syncoperation") == [("cancelled",)]
    assert scratch_database.query("SELECT COUNT(*) FROM catalog_album") == [(0,)]


def test_no_database_at_start_is_one_line_without_a_traceback(workbook_file):
    """With the database unreachable (nothing listens on its port) the command prints
    SYNC_DATABASE_UNREACHABLE as its one line on stderr and exits 1: no traceback, no address."""
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgres://catalog:secret-password@127.0.0.1:{port}/catalog"

    env = clean_environment(database_url=url)

    completed = manage("import_albums", "--file", str(workbook_file), "--skip-spotify", env=env)

    assert completed.returncode == 1
    assert completed.stderr.splitlines() == [f"CommandError: {SYNC_DATABASE_UNREACHABLE}"]


@pytest.mark.django_db
def test_database_lost_during_a_dry_run_says_nothing_was_written(workbook_file, monkeypatch):
    """A dry run's counts are what a sync would do: when its database goes away it says
    SYNC_DATABASE_UNREACHABLE ("nothing was written"), never "written before that"."""

    def lose_the_database(*args: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(importer, "_match", lose_the_database)

    with pytest.raises(CommandError) as raised:
        run("--file", str(workbook_file), "--dry-run", "--skip-spotify")

    assert str(raised.value) == SYNC_DATABASE_UNREACHABLE
