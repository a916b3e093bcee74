"""`import_albums` runs through the SyncManager: one lock with Sync Now, live in the web panel."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from catalog.management.commands.import_albums import INTERRUPTED
from catalog.models import Album, SyncOperation
from catalog.services import importer, sync
from catalog.services.download import NOT_A_WORKBOOK, WorkbookError
from catalog.services.importer import STAGE_IMPORTING, ImportCancelled, ImportResult, Progress
from tests.support.commands import import_albums as run
from tests.support.sync_factories import make_operation
from tests.support.workbooks import ReleaseSpec, save_workbook

ROOT = Path(__file__).resolve().parent.parent
Status = SyncOperation.Status
RELEASES = [
    ReleaseSpec("Mirar", "Ascension", date(2025, 1, 1), genres="Djent"),
    ReleaseSpec("Estuarine", "Corporeal Furnace", date(2025, 1, 2), genres="Post-Punk"),
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def workbook_file(tmp_path: Path) -> Path:
    return save_workbook(tmp_path / "releases.xlsx", {"2025 Prog-metal": RELEASES})


def fake_import(monkeypatch, body) -> None:
    """Replace the importer behind the SyncManager with `body(**kwargs)`."""
    monkeypatch.setattr(importer, "import_catalog", body)


def test_command_run_is_recorded_as_a_cli_sync(workbook_file):
    """A command run is a completed SyncOperation from the command line, with its counts."""
    out = run("--file", str(workbook_file), "--skip-spotify")

    operation = SyncOperation.objects.get()
    assert (operation.source, operation.status, operation.created_count) == (
        SyncOperation.Source.CLI,
        Status.COMPLETED,
        2,
    )
    assert operation.triggered_by is None
    assert operation.options["source"] == str(workbook_file)
    assert operation.options["workbook"] == "releases.xlsx"
    assert Album.objects.count() == 2
    assert "Sync complete: 2 new albums.\nAlbums: 2 new · 0 changed · 0 unchanged. Took " in out


def test_command_refuses_while_a_web_sync_runs(workbook_file, staff_user):
    """While Sync Now runs, the command stops with "Sync already in progress", exit status 1."""
    started = timezone.now() - timedelta(minutes=3, seconds=5)
    running = make_operation(status=Status.RUNNING, started_at=started, triggered_by=staff_user)

    with pytest.raises(CommandError) as raised:
        run("--file", str(workbook_file), "--skip-spotify")

    local = timezone.localtime(started).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert str(raised.value) == (
        f"{sync.SYNC_ALREADY_RUNNING}: sync #{running.pk}, started from the web panel by "
        f"{staff_user.get_username()} at {local} (3 min 5 s ago). "
        "Wait for it to end, or cancel it from the web panel."
    )
    assert raised.value.returncode == 1
    assert not Album.objects.exists()
    assert SyncOperation.objects.count() == 1


def test_command_run_shows_in_the_web_panel_and_blocks_the_button(
    monkeypatch, staff_user, settings
):
    """Mid-run, the status endpoint reports the command's progress and the trigger answers 409."""
    settings.SYNC_RUNNER = "dummy"
    settings.SPOTIFY_CLIENT_ID, settings.SPOTIFY_CLIENT_SECRET = "id", "secret"
    staff = Client()
    staff.force_login(staff_user)
    seen: dict[str, Any] = {}

    def body(**kwargs: Any) -> ImportResult:
        kwargs["on_progress"](Progress(STAGE_IMPORTING, 15, 47, "Syncing album 15 of 47..."))
        seen["status"] = staff.get("/catalog/sync/status/", headers={"Accept": "application/json"})
        seen["trigger"] = staff.post("/catalog/sync/trigger/", headers={"HX-Request": "true"})
        return ImportResult(updated=47, total=47)

    fake_import(monkeypatch, body)
    run("--skip-spotify")

    status = seen["status"].json()
    assert (status["status"], status["message"], status["percent"]) == (
        "running",
        "Syncing album 15 of 47...",
        32,
    )
    assert seen["trigger"].status_code == 409
    assert SyncOperation.objects.get().status == Status.COMPLETED


def test_command_cancelled_from_the_web_panel_exits_non_zero(monkeypatch, staff_user):
    """Cancel in the panel stops a command run: "Sync cancelled after N of M albums", exit 1."""
    monkeypatch.setattr(sync, "CANCEL_POLL_SECONDS", 0.0)
    staff = Client()
    staff.force_login(staff_user)

    def body(**kwargs: Any) -> ImportResult:
        result = ImportResult(created=1)
        kwargs["on_progress"](Progress(STAGE_IMPORTING, 1, 3, "Syncing album 1 of 3..."))
        assert (
            staff.post("/catalog/sync/cancel/", headers={"HX-Request": "true"}).status_code == 202
        )
        if kwargs["should_cancel"]():
            raise ImportCancelled(result, 1, 3)
        return result

    fake_import(monkeypatch, body)
    with pytest.raises(CommandError) as raised:
        run("--skip-spotify")

    assert str(raised.value) == "Sync cancelled after 1 of 3 albums"
    assert SyncOperation.objects.get().status == Status.CANCELLED


def test_command_failure_is_one_line_and_recorded(monkeypatch):
    """A workbook failure: the command's one-line error is the panel's message; row failed."""

    def body(**kwargs: Any) -> ImportResult:
        raise WorkbookError(NOT_A_WORKBOOK)

    fake_import(monkeypatch, body)
    with pytest.raises(CommandError) as raised:
        run("--skip-spotify")

    assert str(raised.value) == NOT_A_WORKBOOK
    operation = SyncOperation.objects.get()
    assert (operation.status, operation.error) == (Status.FAILED, NOT_A_WORKBOOK)


def test_command_ctrl_c_cancels_the_sync_row(monkeypatch):
    """Ctrl-C: "Import interrupted", and the row ends cancelled so the lock is free at once."""

    def body(**kwargs: Any) -> ImportResult:
        kwargs["on_progress"](Progress(STAGE_IMPORTING, 4, 10, "Syncing album 4 of 10..."))
        raise KeyboardInterrupt

    fake_import(monkeypatch, body)
    with pytest.raises(CommandError, match=INTERRUPTED):
        run("--skip-spotify")

    operation = SyncOperation.objects.get()
    assert (operation.status, operation.message) == (
        Status.CANCELLED,
        "Sync cancelled after 4 of 10 albums",
    )


def test_command_dry_run_is_not_a_sync(settings, workbook_file):
    """A dry run writes nothing at all: no album, no SyncOperation row (it is not a sync, and
    "Last synced" does not move); it says what would change."""
    settings.SPOTIFY_ENABLED = True
    settings.SPOTIFY_CLIENT_ID, settings.SPOTIFY_CLIENT_SECRET = "id", "secret"

    out = run("--file", str(workbook_file), "--dry-run")

    assert "a sync now would find 2 new albums." in out
    assert not Album.objects.exists()
    assert not SyncOperation.objects.exists()


def test_command_dry_run_checks_spotify_credentials_as_a_run_does(settings, workbook_file):
    """Enrichment on without credentials: the dry run fails as the run would, with the same
    hint, instead of promising a run that cannot happen; --skip-spotify passes."""
    settings.SPOTIFY_ENABLED = True
    settings.SPOTIFY_CLIENT_ID = settings.SPOTIFY_CLIENT_SECRET = ""

    with pytest.raises(CommandError) as dry:
        run("--file", str(workbook_file), "--dry-run")
    with pytest.raises(CommandError) as real:
        run("--file", str(workbook_file))

    assert str(dry.value) == str(real.value)
    assert "SPOTIFY_CLIENT_ID" in str(dry.value)
    assert "Dry run" in run("--file", str(workbook_file), "--dry-run", "--skip-spotify")


def test_command_dry_run_takes_no_lock(workbook_file):
    """A dry run only reads, so it runs while a sync holds the lock and leaves that row alone."""
    running = make_operation(status=Status.RUNNING)

    out = run("--file", str(workbook_file), "--dry-run", "--skip-spotify")

    assert "Dry run, nothing was written" in out
    assert list(SyncOperation.objects.values_list("pk", "status")) == [(running.pk, Status.RUNNING)]


def test_command_dry_run_failure_is_one_line(tmp_path):
    """A dry run of a broken workbook fails with the workbook's one-line message."""
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook at all")

    with pytest.raises(CommandError) as raised:
        run("--file", str(broken), "--dry-run", "--skip-spotify")

    assert "\n" not in str(raised.value)
    assert not SyncOperation.objects.exists()


def test_command_without_credentials_refuses_with_the_hint(settings, workbook_file):
    """Enrichment on without credentials: the SyncManager's check refuses, no row is created,
    and the message says what to set (or --skip-spotify for one run)."""
    settings.SPOTIFY_ENABLED = True
    settings.SPOTIFY_CLIENT_ID = settings.SPOTIFY_CLIENT_SECRET = ""

    with pytest.raises(CommandError) as raised:
        run("--file", str(workbook_file))

    assert str(raised.value) == (
        f"{sync.SPOTIFY_NOT_CONFIGURED} {sync.SPOTIFY_SETUP_HINT} For one run: --skip-spotify."
    )
    assert not SyncOperation.objects.exists()


@pytest.mark.slow
def test_command_process_exits_non_zero_while_a_web_sync_runs(tmp_path, workbook_file):
    """As a process (cron): exit status 1 and one line, "Sync already in progress"."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "SPOTIFY_ENABLED": "0",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    create_active = (
        "from catalog.models import SyncOperation as S; S.objects.create(status='running')"
    )
    subprocess.run([*manage, "shell", "-c", create_active], cwd=ROOT, env=env, check=True)

    process = subprocess.run(
        [*manage, "import_albums", "--file", str(workbook_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert process.returncode == 1
    [line] = process.stderr.strip().splitlines()
    assert line.startswith(f"CommandError: {sync.SYNC_ALREADY_RUNNING}: sync #1, started from ")
