from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Playwright


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="curator", password="curator-password", is_staff=True
    )


@pytest.fixture
def spotify_standin(settings):
    """A loopback Spotify (tests/support/spotify_standin.py) with the SPOTIFY_* settings pointing
    at it."""
    from tests.support.spotify_standin import SpotifyStandIn

    with SpotifyStandIn() as standin:
        settings.SPOTIFY_ENABLED = True
        settings.SPOTIFY_CLIENT_ID = standin.client_id
        settings.SPOTIFY_CLIENT_SECRET = standin.client_secret
        settings.SPOTIFY_API_BASE_URL = standin.base_url
        settings.SPOTIFY_TOKEN_URL = standin.token_url
        settings.SPOTIFY_TIMEOUT = 2
        yield standin


@pytest.fixture(scope="session")
def scratch_databases(tmp_path_factory):
    """Scratch databases of the session's kind (SQLite file or PostgreSQL server), for code run
    in other processes (tests/support/processes.py); PostgreSQL ones are dropped at the end."""
    from tests.support.processes import DatabaseFactory

    factory = DatabaseFactory(
        session_url=os.environ.get("DATABASE_URL", ""),
        workdir=tmp_path_factory.mktemp("scratch-databases"),
    )
    yield factory
    factory.close()


@pytest.fixture
def scratch_database(scratch_databases):
    """A fresh migrated database (with the staff user) for one test's processes."""
    return scratch_databases.create()


# --- Playwright: Debian's Chromium, never a downloaded browser --------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """Debian's Chromium (or $E2E_CHROMIUM): the tests never download a browser."""
    path = os.environ.get("E2E_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(
            f"Chromium not found at {path}: install Debian's chromium (make system-deps) "
            "or set E2E_CHROMIUM"
        )
    return path


@pytest.fixture(scope="session")
def playwright(playwright: Playwright) -> Iterator[Playwright]:
    """pytest-playwright's Playwright, with Django's guard against ORM calls inside a running
    asyncio loop lifted for as long as it lives.

    Its sync API marks its loop as running in the main thread between calls, and the
    in-process browser tests (tests/test_browser_albums.py) make their albums there, and
    pytest-django creates, flushes and drops the test database there: plain synchronous code.
    The guard has to stay lifted from Playwright's start (which may come before the test
    database exists) to its end, so it is tied to this fixture rather than to each test;
    `pytest_collection_modifyitems` runs the browser tests last, so no other test runs
    without the guard.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield playwright


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run after all the others (keeping pytest-django's order otherwise)."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """How pytest-playwright launches the browser, for every browser test (tests/ and e2e/)."""
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "args": CHROMIUM_ARGS,
        "headless": True,
        "timeout": 60_000,
    }
