import os

import pytest


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="curator", password="curator-password", is_staff=True
    )


@pytest.fixture
def spotify_standin(settings):
    """A loopback Spotify (tests/spotify_standin.py) with the SPOTIFY_* settings pointing at it."""
    from tests.spotify_standin import SpotifyStandIn

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
    in other processes (tests/processes.py); PostgreSQL ones are dropped at the end."""
    from tests.processes import DatabaseFactory

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
