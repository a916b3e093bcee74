"""Take the README screenshot (docs/screenshot-albums.png, the album list at 1280 x 900) and
review shots of every page at 375 and 1280 px (as a visitor and as staff) and of the sync panel's
states, from the real 2025 export.

    .venv/bin/python scripts/screenshots.py [path/to/progmetal_releases_2025.xlsx] [out_dir]

Imports the workbook (without Spotify) into a scratch SQLite database, serves it with
`runserver`, and drives Debian's Chromium through Playwright. The panel states are rows written
straight into the scratch database, one after another.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
WORKBOOK = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/progmetal_releases_2025.xlsx")
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="screenshots-"))
PORT = 8765
URL = f"http://127.0.0.1:{PORT}"


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="screenshot-db-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "DJANGO_DEBUG": "1",
        "SPOTIFY_ENABLED": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Playwright's sync API runs an event loop in this thread; the ORM calls here are
        # plain blocking writes to a scratch database between page loads.
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    }
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, env=env)
    subprocess.run(
        [*manage, "import_albums", "--file", str(WORKBOOK.resolve()), "--skip-spotify"],
        check=True,
        env=env,
    )
    server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{PORT}"], env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(URL + "/catalog/albums/")
                break
            except OSError:
                time.sleep(0.2)
        shoot()
    finally:
        server.terminate()
        server.wait()
    print(f"shots in {OUT}")


def shoot() -> None:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from catalog.models import Album, SyncFailure, SyncOperation
    from catalog.services import importer

    get_user_model().objects.create_user("shots", password="shots-password", is_staff=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(URL + "/catalog/albums/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ROOT / "docs/screenshot-albums.png"))
        album = Album.objects.filter(in_workbook=True).order_by("-release_date").first()
        assert album is not None
        pages = {
            "list": "/catalog/albums/",
            "list-filtered": "/catalog/albums/?genre=progressive-metal&format=EP&sort=artist",
            "search": "/catalog/albums/?q=haken+live",
            "detail": album.get_absolute_url(),
            "artist": f"/catalog/artists/{album.artist_id}/",
            "upcoming": "/catalog/upcoming/",
            "stats": "/catalog/stats/",
            "history": "/catalog/sync/history/",
            "login": "/admin/login/?next=/catalog/albums/",
            "missing": "/catalog/albums/99999999/",
        }

        def shoot_pages(who: str) -> None:
            for name, path in pages.items():
                for width in (375, 1280):
                    page.set_viewport_size({"width": width, "height": 900})
                    page.goto(URL + path)
                    page.screenshot(path=str(OUT / f"{who}-{name}-{width}.png"), full_page=True)

        shoot_pages("visitor")
        page.goto(URL + "/admin/login/?next=/catalog/albums/")
        page.fill("#id_username", "shots")
        page.fill("#id_password", "shots-password")
        page.click("input[type=submit]")
        del pages["login"]
        shoot_pages("staff")
        now = timezone.now()
        states = {
            "running": {
                "status": "running",
                "stage": importer.STAGE_ENRICHING,
                "processed": 412,
                "total": 2555,
                "message": "Syncing album 412 of 2555...",
                "stage_started_at": now - timedelta(seconds=40),  # an estimate is shown
            },
            "completed": {
                "status": "completed",
                "created_count": 3,
                "unchanged_count": 2552,
                "message": "Sync complete: 3 new albums.",
            },
            "warnings": {
                "status": "completed",
                "failed_count": 2,
                "updated_count": 48,
                "message": "Sync completed with warnings: 2 of 50 albums failed; 48 changed.",
            },
            "failed": {
                "status": "failed",
                "stage": importer.STAGE_FETCHING,
                "error": "The workbook URL answered 404 Not Found (https://docs.google.com/x): "
                "check GOOGLE_SHEETS_XLSX_URL",
            },
            "cancelled": {
                "status": "cancelled",
                "created_count": 40,
                "message": "Sync cancelled after 40 of 2,555 albums",
            },
        }
        visitor = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, fields in states.items():
            active = fields["status"] == "running"
            now = timezone.now()  # the newest run is the one the panel shows
            operation = SyncOperation.objects.create(
                source="web",
                started_at=now,
                finished_at=None if active else now,
                heartbeat_at=now,
                **fields,
            )
            for number in range(operation.failed_count):
                SyncFailure.objects.create(
                    operation=operation, label=f"Artist {number} – Album", reason="Spotify 404"
                )
            for width in (375, 1280):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(URL + "/catalog/albums/")
                page.locator("#sync-panel").screenshot(path=str(OUT / f"panel-{name}-{width}.png"))
            if name == "failed":  # what a visitor reads of the same failure
                visitor.goto(URL + "/catalog/albums/")
                shot = OUT / "panel-failed-visitor.png"
                visitor.locator("#sync-panel").screenshot(path=str(shot))
            if active:
                operation.status = "cancelled"
                operation.finished_at = now
                operation.save()
        browser.close()


if __name__ == "__main__":
    main()
